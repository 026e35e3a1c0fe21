// Package tracing builds the runner's OpenTelemetry tracer provider from the standard OTEL_* variables:
// OTLP over HTTP when an endpoint is set, a no-op provider (no cost) otherwise. Nothing is global.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// DefaultServiceName is service.name when OTEL_SERVICE_NAME does not say.
const DefaultServiceName = "gitops-runner"

// Provider is the runner's tracer provider and what stops it.
type Provider struct {
	trace.TracerProvider
	// Where says where spans go ("off: ..." or the endpoint), for logs and the report.
	Where    string
	shutdown func(context.Context) error
}

// Enabled reports whether spans are exported.
func (p *Provider) Enabled() bool { return p.shutdown != nil }

// Shutdown flushes the spans not yet exported and stops the exporter; a no-op provider has nothing to do.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil || p.shutdown == nil {
		return nil
	}
	if err := p.shutdown(ctx); err != nil {
		return fmt.Errorf("flush traces to %s: %w", p.Where, err)
	}
	return nil
}

// Off is a provider that records nothing.
func Off(why string) *Provider {
	return &Provider{TracerProvider: noop.NewTracerProvider(), Where: "off: " + why}
}

// Config is what the OTEL_* variables say, parsed.
type Config struct {
	Endpoint    string            // the full URL spans are posted to (…/v1/traces); "" means tracing is off
	Headers     map[string]string // sent with every export (may hold credentials: never logged)
	Timeout     time.Duration     // per export; 0: the exporter's default
	ServiceName string
	Attributes  []attribute.KeyValue // OTEL_RESOURCE_ATTRIBUTES
	Sampler     sdktrace.Sampler
	SamplerName string   // as configured, for the log line
	Off         string   // why tracing is off although an endpoint may be set ("" when on)
	Warnings    []string // settings ignored, each said once at start
}

// ParseEnv reads the OTEL_* variables through getenv.
func ParseEnv(getenv func(string) string) Config {
	c := Config{ServiceName: DefaultServiceName}
	if v := strings.TrimSpace(getenv("OTEL_SERVICE_NAME")); v != "" {
		c.ServiceName = v
	}
	attrs, warn := parseResourceAttributes(getenv("OTEL_RESOURCE_ATTRIBUTES"))
	c.Attributes = attrs
	c.Warnings = append(c.Warnings, warn...)
	for _, a := range attrs {
		if a.Key == "service.name" && strings.TrimSpace(getenv("OTEL_SERVICE_NAME")) == "" {
			c.ServiceName = a.Value.AsString() // OTEL_SERVICE_NAME wins over the attribute, which wins over the default
		}
	}
	c.Sampler, c.SamplerName, warn = parseSampler(getenv("OTEL_TRACES_SAMPLER"), getenv("OTEL_TRACES_SAMPLER_ARG"))
	c.Warnings = append(c.Warnings, warn...)

	switch {
	case strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) != "":
		// The signal's own endpoint is used as it is.
		c.Endpoint = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
	case strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")) != "":
		c.Endpoint = strings.TrimRight(strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT")), "/") + "/v1/traces"
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			c.Warnings = append(c.Warnings, fmt.Sprintf("the OTLP endpoint %q is not an http(s) URL", redactURL(c.Endpoint)))
			c.Off, c.Endpoint = "the OTLP endpoint is not an http(s) URL", ""
		}
	}
	proto := firstSet(getenv, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
	switch proto {
	case "", "http/protobuf":
	case "grpc":
		c.Warnings = append(c.Warnings, "OTLP over grpc is not supported: spans are sent as http/protobuf to the same endpoint (point it at the collector's OTLP/HTTP port, usually 4318)")
	default:
		c.Warnings = append(c.Warnings, fmt.Sprintf("OTLP protocol %q is not supported: spans are sent as http/protobuf", proto))
	}
	c.Headers, warn = parseHeaders(firstSet(getenv, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"))
	c.Warnings = append(c.Warnings, warn...)
	if v := firstSet(getenv, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"); v != "" {
		if ms, err := strconv.Atoi(v); err == nil && ms > 0 {
			c.Timeout = time.Duration(ms) * time.Millisecond
		} else {
			c.Warnings = append(c.Warnings, fmt.Sprintf("OTLP timeout %q is not a positive number of milliseconds: ignored", v))
		}
	}
	switch e := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); e {
	case "", "otlp":
	case "none":
		c.Off = "OTEL_TRACES_EXPORTER=none"
	default:
		c.Warnings = append(c.Warnings, fmt.Sprintf("traces exporter %q is not supported: otlp is used", e))
	}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		c.Off = "OTEL_SDK_DISABLED=true"
	}
	if c.Endpoint == "" && c.Off == "" {
		c.Off = "no OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	}
	return c
}

// New builds the provider the environment asks for and logs, once, where spans go (or that they go nowhere).
// Settings it cannot honour are logged as warnings; only an exporter that cannot be built is an error.
func New(ctx context.Context, getenv func(string) string, log *slog.Logger) (*Provider, error) {
	c := ParseEnv(getenv)
	for _, w := range c.Warnings {
		log.Warn("traces: " + w)
	}
	if c.Off != "" {
		p := Off(c.Off)
		log.Info("traces off", "why", c.Off)
		return p, nil
	}
	p, err := Build(ctx, c)
	if err != nil {
		return nil, err
	}
	log.Info("traces exported", "endpoint", p.Where, "protocol", "http/protobuf", "service", c.ServiceName, "sampler", c.SamplerName)
	return p, nil
}

// Build makes the exporting provider of c (c.Endpoint must be set).
func Build(ctx context.Context, c Config) (*Provider, error) {
	if c.Endpoint == "" {
		return nil, errors.New("traces: no OTLP endpoint")
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(c.Endpoint), otlptracehttp.WithHeaders(c.Headers)}
	if c.Timeout > 0 {
		opts = append(opts, otlptracehttp.WithTimeout(c.Timeout))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("traces: OTLP exporter for %s: %w", redactURL(c.Endpoint), err)
	}
	attrs := append([]attribute.KeyValue{}, c.Attributes...)
	attrs = append(attrs, attribute.String("service.name", c.ServiceName))
	sampler := c.Sampler
	if sampler == nil {
		sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSampler(sampler),
	)
	return &Provider{TracerProvider: tp, Where: redactURL(c.Endpoint), shutdown: tp.Shutdown}, nil
}

func firstSet(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return v
		}
	}
	return ""
}

// parseSampler follows the SDK specification's names; an unknown one keeps the default.
func parseSampler(name, arg string) (sdktrace.Sampler, string, []string) {
	name = strings.ToLower(strings.TrimSpace(name))
	ratio := func() (float64, []string) {
		if strings.TrimSpace(arg) == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(strings.TrimSpace(arg), 64)
		if err != nil || r < 0 || r > 1 {
			return 1, []string{fmt.Sprintf("OTEL_TRACES_SAMPLER_ARG %q is not a ratio between 0 and 1: 1 is used", arg)}
		}
		return r, nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), "parentbased_always_on", nil
	case "always_on":
		return sdktrace.AlwaysSample(), name, nil
	case "always_off":
		return sdktrace.NeverSample(), name, nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), name, nil
	case "traceidratio":
		r, w := ratio()
		return sdktrace.TraceIDRatioBased(r), fmt.Sprintf("%s %g", name, r), w
	case "parentbased_traceidratio":
		r, w := ratio()
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), fmt.Sprintf("%s %g", name, r), w
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample()), "parentbased_always_on",
		[]string{fmt.Sprintf("sampler %q is not supported: parentbased_always_on is used", name)}
}

// parseResourceAttributes reads "key1=value1,key2=value2" with percent-encoded values (W3C Baggage octets).
func parseResourceAttributes(s string) ([]attribute.KeyValue, []string) {
	pairs, warn := parsePairs(s, "OTEL_RESOURCE_ATTRIBUTES")
	out := make([]attribute.KeyValue, 0, len(pairs))
	for _, p := range pairs {
		out = append(out, attribute.String(p[0], p[1]))
	}
	return out, warn
}

// parseHeaders reads OTEL_EXPORTER_OTLP_HEADERS: the same form as the resource attributes.
func parseHeaders(s string) (map[string]string, []string) {
	pairs, warn := parsePairs(s, "OTEL_EXPORTER_OTLP_HEADERS")
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		out[p[0]] = p[1]
	}
	return out, warn
}

// parsePairs splits a comma-separated list of key=value. A malformed entry is skipped and named in a warning
// by its position only: values may be credentials.
func parsePairs(s, what string) ([][2]string, []string) {
	var out [][2]string
	var warn []string
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for i, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if ok {
			var err error
			v, err = url.PathUnescape(strings.TrimSpace(v))
			ok = err == nil
		}
		if !ok || k == "" {
			warn = append(warn, fmt.Sprintf("%s: entry %d is not key=value: ignored", what, i+1))
			continue
		}
		out = append(out, [2]string{k, v})
	}
	return out, warn
}

// redactURL drops what a URL may carry of credentials (user info, query) before it is logged.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
