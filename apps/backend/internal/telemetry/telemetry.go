// Package telemetry traces the backend with OpenTelemetry for AWS X-Ray:
// spans go over OTLP/HTTP to the ADOT collector sidecar, with X-Ray-compatible
// trace IDs and W3C trace context. Unconfigured, it sets nothing up at all.
package telemetry

import (
	"context"
	"fmt"
	"net/http"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/contrib/propagators/aws/xray"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/gitops-runner/runner/apps/backend/internal/config"
)

// Tracing is the backend's tracing, on or off. Its zero value is off.
type Tracing struct {
	provider *sdktrace.TracerProvider
}

// Setup starts tracing as cfg says: when cfg.Enabled, a tracer provider
// that batches spans to cfg.Endpoint; otherwise nothing. Call Shutdown at
// exit to send the last spans.
func Setup(ctx context.Context, cfg config.Tracing) (*Tracing, error) {
	if !cfg.Enabled {
		return &Tracing{}, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.Endpoint))
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter for %s: %w", cfg.Endpoint, err)
	}
	tp, err := NewProvider(ctx, cfg.ServiceName, sdktrace.WithBatcher(exp))
	if err != nil {
		return nil, err
	}
	return &Tracing{provider: tp}, nil
}

// NewProvider returns a tracer provider for the backend: X-Ray trace IDs
// (the first 32 bits are the start time, as X-Ray requires), the service
// name and OTEL_RESOURCE_ATTRIBUTES as the resource, and opts (exporters,
// span processors). The sampler is the SDK's default, parent-based
// always-on, unless OTEL_TRACES_SAMPLER says otherwise.
func NewProvider(ctx context.Context, serviceName string, opts ...sdktrace.TracerProviderOption) (*sdktrace.TracerProvider, error) {
	res, err := resource.New(ctx,
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName(serviceName)),
	)
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	base := []sdktrace.TracerProviderOption{
		sdktrace.WithIDGenerator(xray.NewIDGenerator()),
		sdktrace.WithResource(res),
	}
	return sdktrace.NewTracerProvider(append(base, opts...)...), nil
}

// Propagator reads and writes W3C traceparent/tracestate and baggage,
// which the frontend's nginx passes on. (X-Ray's own X-Amzn-Trace-Id
// header is not read: the load balancer adds it to every request without a
// sampling decision, which would override the frontend's traceparent.)
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t.provider != nil }

// Provider is the tracer provider, nil when tracing is off.
func (t *Tracing) Provider() trace.TracerProvider {
	if t.provider == nil {
		return nil
	}
	return t.provider
}

// Shutdown sends the spans still buffered and stops tracing.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.provider == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// Handler wraps h in a server span per request, continuing the caller's
// trace from traceparent. Load balancer health checks (the paths in
// skip) get no span. With tp nil it returns h itself: no cost when off.
func Handler(h http.Handler, tp trace.TracerProvider, skip ...string) http.Handler {
	if tp == nil {
		return h
	}
	return otelhttp.NewHandler(h, "backend",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(Propagator()),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool {
			for _, p := range skip {
				if r.URL.Path == p {
					return false
				}
			}
			return true
		}),
	)
}

// QueryTracer traces pgx queries as client spans under the request's span,
// with the statement text and never its arguments. With tp nil it returns
// nil: pgx then calls no tracer at all.
func QueryTracer(tp trace.TracerProvider) pgx.QueryTracer {
	if tp == nil {
		return nil
	}
	return otelpgx.NewTracer(
		otelpgx.WithTracerProvider(tp),
		otelpgx.WithMeterProvider(noop.NewMeterProvider()),
	)
}
