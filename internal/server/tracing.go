package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/gitops-runner/runner/internal/outbound"
	"github.com/gitops-runner/runner/internal/tracing"
)

// Instrumentation names: the scope of each part's spans.
const (
	tracerPipeline  = "github.com/gitops-runner/runner/internal/pipeline"
	tracerTerraform = "github.com/gitops-runner/runner/internal/tf"
)

// setupTracing builds the tracer provider from the OTEL_* variables (read through c.Getenv) unless the caller
// supplied one, and the options of the instrumented outbound transports. The provider returned is flushed
// when the server stops (nil when the caller owns it).
func setupTracing(ctx context.Context, log *slog.Logger, c *Collaborators) (*tracing.Provider, error) {
	var own *tracing.Provider
	if c.TracerProvider == nil {
		p, err := tracing.New(ctx, c.Getenv, log)
		if err != nil {
			return nil, err
		}
		c.TracerProvider, own = p, p
	}
	c.outbound = outbound.Options{Tracer: c.TracerProvider, Propagator: propagation.TraceContext{}, Observer: c.Observer}
	return own, nil
}

// tracer is the named tracer of one part of the runner.
func (c *Collaborators) tracer(name string) trace.Tracer { return c.TracerProvider.Tracer(name) }

// githubHTTP, slackHTTP and awsHTTP are the outbound clients, instrumented.
func (c *Collaborators) githubHTTP() *http.Client {
	return &http.Client{Transport: outbound.GitHub(c.outbound)}
}

func (c *Collaborators) slackHTTP(timeout time.Duration) *http.Client {
	return &http.Client{Transport: outbound.Slack(c.outbound), Timeout: timeout}
}

// awsHTTP keeps the SDK's own transport settings (timeouts, connection pool) under the instrumentation.
func (c *Collaborators) awsHTTP() *http.Client {
	o := c.outbound
	o.Base = awshttp.NewBuildableClient().GetTransport()
	return &http.Client{Transport: outbound.AWS(o)}
}

// shutdownTracing flushes the spans not yet exported, within a bounded time.
func shutdownTracing(p *tracing.Provider, log *slog.Logger) {
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		log.Warn("traces not flushed", "err", err)
	}
}
