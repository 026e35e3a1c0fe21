package tracing_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/gitops-runner/runner/internal/testenv/otlpcollector"
	"github.com/gitops-runner/runner/internal/tracing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseEnv(t *testing.T) {
	tests := []struct {
		name         string
		env          map[string]string
		wantEndpoint string
		wantOff      bool
		wantService  string
		wantSampler  string
		wantWarning  string
	}{
		{name: "nothing set is off", env: nil, wantOff: true, wantService: "gitops-runner", wantSampler: "parentbased_always_on"},
		{name: "base endpoint gets the traces path", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"},
			wantEndpoint: "http://collector:4318/v1/traces"},
		{name: "base endpoint with a path keeps it", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.example/prefix"},
			wantEndpoint: "https://otel.example/prefix/v1/traces"},
		{name: "traces endpoint is used as it is and wins", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/custom"},
			wantEndpoint: "http://b:4318/custom"},
		{name: "sdk disabled wins over an endpoint", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_SDK_DISABLED": "true"}, wantEndpoint: "http://a:4318/v1/traces", wantOff: true},
		{name: "exporter none", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_TRACES_EXPORTER": "none"}, wantEndpoint: "http://a:4318/v1/traces", wantOff: true},
		{name: "not a URL is off with a warning", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
			wantOff: true, wantWarning: "not an http(s) URL"},
		{name: "grpc is not supported", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			wantEndpoint: "http://a:4317/v1/traces", wantWarning: "grpc is not supported"},
		{name: "service name", env: map[string]string{"OTEL_SERVICE_NAME": "runner-eu"}, wantOff: true, wantService: "runner-eu"},
		{name: "service name from the resource attributes", env: map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,team=infra"},
			wantOff: true, wantService: "from-attrs"},
		{name: "OTEL_SERVICE_NAME wins over the attribute", env: map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name=a", "OTEL_SERVICE_NAME": "b"},
			wantOff: true, wantService: "b"},
		{name: "ratio sampler", env: map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"},
			wantOff: true, wantSampler: "parentbased_traceidratio 0.25"},
		{name: "bad ratio", env: map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
			wantOff: true, wantSampler: "traceidratio 1", wantWarning: "not a ratio"},
		{name: "unknown sampler", env: map[string]string{"OTEL_TRACES_SAMPLER": "jaeger_remote"},
			wantOff: true, wantSampler: "parentbased_always_on", wantWarning: "not supported"},
		{name: "malformed header named by position only", env: map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20x,secretvalue"},
			wantOff: true, wantWarning: "entry 2 is not key=value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tracing.ParseEnv(env(tt.env))
			if c.Endpoint != tt.wantEndpoint {
				t.Errorf("endpoint = %q, want %q", c.Endpoint, tt.wantEndpoint)
			}
			if (c.Off != "") != tt.wantOff {
				t.Errorf("off = %q, want off %v", c.Off, tt.wantOff)
			}
			if tt.wantService != "" && c.ServiceName != tt.wantService {
				t.Errorf("service = %q, want %q", c.ServiceName, tt.wantService)
			}
			if tt.wantSampler != "" && c.SamplerName != tt.wantSampler {
				t.Errorf("sampler = %q, want %q", c.SamplerName, tt.wantSampler)
			}
			warnings := strings.Join(c.Warnings, "\n")
			if tt.wantWarning != "" && !strings.Contains(warnings, tt.wantWarning) {
				t.Errorf("warnings %q lack %q", warnings, tt.wantWarning)
			}
			if tt.wantWarning == "" && warnings != "" {
				t.Errorf("unexpected warnings %q", warnings)
			}
			if strings.Contains(warnings, "secretvalue") || strings.Contains(warnings, "Bearer") {
				t.Errorf("a warning shows a header value: %q", warnings)
			}
		})
	}
}

func TestParseEnvHeadersAndAttributes(t *testing.T) {
	c := tracing.ParseEnv(env(map[string]string{
		"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20tok, X-Tenant = a%2Cb",
		"OTEL_RESOURCE_ATTRIBUTES":   "deployment.environment=prod,team=in%20fra",
	}))
	if c.Headers["Authorization"] != "Bearer tok" || c.Headers["X-Tenant"] != "a,b" {
		t.Fatalf("headers = %v", c.Headers)
	}
	want := []attribute.KeyValue{attribute.String("deployment.environment", "prod"), attribute.String("team", "in fra")}
	if len(c.Attributes) != 2 || c.Attributes[0] != want[0] || c.Attributes[1] != want[1] {
		t.Fatalf("attributes = %v", c.Attributes)
	}
}

func TestSpansAreExportedOnlyWithAnEndpoint(t *testing.T) {
	col := otlpcollector.Start()
	t.Cleanup(col.Close)
	tests := []struct {
		name      string
		env       map[string]string
		wantSpans int
		wantLog   string
	}{
		{name: "endpoint set", env: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL(), "OTEL_SERVICE_NAME": "runner-test",
			"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=ci", "OTEL_EXPORTER_OTLP_HEADERS": "X-Token=sekrit"},
			wantSpans: 1, wantLog: "traces exported"},
		{name: "no endpoint", env: map[string]string{"OTEL_SERVICE_NAME": "runner-test"}, wantSpans: 0, wantLog: "traces off"},
		{name: "disabled", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL(), "OTEL_SDK_DISABLED": "TRUE"},
			wantSpans: 0, wantLog: "OTEL_SDK_DISABLED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(col.Spans())
			var logs bytes.Buffer
			p, err := tracing.New(context.Background(), env(tt.env), slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			_, span := p.Tracer("test").Start(context.Background(), "work")
			span.End()
			if err := p.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := col.Spans()[before:]
			if len(got) != tt.wantSpans {
				t.Fatalf("spans = %+v, want %d", got, tt.wantSpans)
			}
			if !strings.Contains(logs.String(), tt.wantLog) || strings.Count(logs.String(), "\n") != 1 {
				t.Errorf("log = %q, want one line with %q", logs.String(), tt.wantLog)
			}
			if strings.Contains(logs.String(), "sekrit") {
				t.Errorf("the log shows a header value: %q", logs.String())
			}
			if tt.wantSpans == 0 {
				return
			}
			s := got[0]
			if s.Name != "work" || s.Service != "runner-test" || s.Resource["deployment.environment"] != "ci" {
				t.Errorf("span = %+v", s)
			}
			h := col.Headers()
			if h[len(h)-1].Get("X-Token") != "sekrit" {
				t.Errorf("export headers = %v", h[len(h)-1])
			}
		})
	}
}

func TestShutdownWithoutCollectorReturns(t *testing.T) {
	col := otlpcollector.Start()
	url := col.URL()
	col.Close() // nothing listens there any more
	p, err := tracing.New(context.Background(), env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_EXPORTER_OTLP_TIMEOUT": "200"}),
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	_, span := p.Tracer("test").Start(context.Background(), "lost")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.Shutdown(ctx) // an error is fine; hanging is not
	if ctx.Err() != nil {
		t.Fatal("shutdown took the whole deadline")
	}
}
