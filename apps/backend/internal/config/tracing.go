package config

import (
	"fmt"
	"net/url"
	"strings"
)

// Tracing configures OpenTelemetry tracing. It is on only when an OTLP
// endpoint is configured: without one there is no exporter and no SDK.
type Tracing struct {
	Enabled bool
	// Endpoint is the full OTLP/HTTP traces URL, e.g.
	// http://localhost:4318/v1/traces for an ADOT collector sidecar.
	Endpoint    string
	ServiceName string
}

// DefaultServiceName names the backend's spans when OTEL_SERVICE_NAME is unset.
const DefaultServiceName = "backend"

// parseTracing reads the standard OpenTelemetry variables the backend uses:
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is) or
// OTEL_EXPORTER_OTLP_ENDPOINT (a base; /v1/traces is appended),
// OTEL_SERVICE_NAME, OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER (otlp or none)
// and OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL (http/protobuf, the only one
// built in). The exporter reads the other OTEL_EXPORTER_OTLP_* variables
// (headers, timeout, compression) itself, as the specification says.
func parseTracing(getenv func(string) string) (Tracing, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return Tracing{}, nil
	}
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "", "otlp":
	case "none":
		return Tracing{}, nil
	default:
		return Tracing{}, fmt.Errorf("OTEL_TRACES_EXPORTER %q: want otlp or none", exp)
	}

	endpoint, name := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	if endpoint == "" {
		base := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
		if base == "" {
			return Tracing{}, nil
		}
		endpoint, name = strings.TrimSuffix(base, "/")+"/v1/traces", "OTEL_EXPORTER_OTLP_ENDPOINT"
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Tracing{}, fmt.Errorf("%s %q: want an http:// or https:// URL such as http://localhost:4318", name, endpoint)
	}

	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := strings.TrimSpace(getenv(name)); p != "" && p != "http/protobuf" {
			return Tracing{}, fmt.Errorf("%s %q: only http/protobuf is built in (the ADOT collector takes it on port 4318)", name, p)
		}
	}

	service := strings.TrimSpace(getenv("OTEL_SERVICE_NAME"))
	if service == "" {
		service = DefaultServiceName
	}
	return Tracing{Enabled: true, Endpoint: endpoint, ServiceName: service}, nil
}
