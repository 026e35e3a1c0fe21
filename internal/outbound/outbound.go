// Package outbound instruments the runner's HTTP clients to GitHub, Slack and AWS: a client span per request
// (otelhttp, with an explicit tracer provider and propagator) and a call observation per request
// (service, operation of bounded cardinality, result, duration) plus GitHub's rate limit.
package outbound

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// Observer receives one observation per outbound call (implemented by the metrics package).
type Observer interface {
	ObserveCall(service, operation, result string, d time.Duration)
	SetRateLimit(service string, remaining, limit float64)
}

// Services, as observed.
const (
	ServiceGitHub = "github"
	ServiceSlack  = "slack"
	ServiceAWS    = "aws"
)

// Results of a call.
const (
	ResultOK          = "ok"
	ResultClientError = "client_error"
	ResultServerError = "server_error"
	ResultRateLimited = "rate_limited"
	ResultError       = "error" // no response: the transport failed
)

// Options are what every instrumented transport shares.
type Options struct {
	Base       http.RoundTripper             // nil: http.DefaultTransport
	Tracer     trace.TracerProvider          // nil: no spans
	Propagator propagation.TextMapPropagator // nil: no trace headers sent
	Observer   Observer                      // nil: nothing observed
}

// GitHub instruments a transport to GitHub's REST API.
func GitHub(o Options) http.RoundTripper {
	return newTransport(ServiceGitHub, GitHubOperation, GitHubPath, o)
}

// Slack instruments a transport to Slack's Web API (and incoming webhooks, response URLs).
func Slack(o Options) http.RoundTripper {
	return newTransport(ServiceSlack, SlackOperation, SlackPath, o)
}

// AWS instruments a transport of the AWS SDK: the operation is the SDK's own ("ecr:DescribeRepositories").
func AWS(o Options) http.RoundTripper {
	return newTransport(ServiceAWS, AWSOperation, func(string) string { return "/" }, o)
}

// Transport observes each call, around otelhttp's span, around the base transport.
type Transport struct {
	service   string
	operation func(*http.Request) string
	observer  Observer
	next      http.RoundTripper // otelhttp over the base
}

var _ http.RoundTripper = (*Transport)(nil)

// newTransport builds the chain; path turns a URL path into its template (what url.full keeps of it).
func newTransport(service string, op func(*http.Request) string, path func(string) string, o Options) *Transport {
	base := o.Base
	if base == nil {
		base = http.DefaultTransport
	}
	tp := o.Tracer
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	prop := o.Propagator
	if prop == nil {
		prop = propagation.NewCompositeTextMapPropagator()
	}
	next := otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(scrubbingProvider{tp: tp, path: path}),
		otelhttp.WithPropagators(prop),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()), // metrics go through Observer only
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return service + " " + op(r) }),
	)
	return &Transport{service: service, operation: op, observer: o.Observer, next: next}
}

// RoundTrip sends r and reports the call.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.observer == nil {
		return t.next.RoundTrip(r)
	}
	start := time.Now()
	op := t.operation(r)
	resp, err := t.next.RoundTrip(r)
	t.observer.ObserveCall(t.service, op, Result(resp, err), time.Since(start))
	if err == nil {
		if rem, lim, ok := rateLimit(resp.Header); ok {
			t.observer.SetRateLimit(t.service, rem, lim)
		}
	}
	return resp, err
}

// Result classifies a call's outcome.
func Result(resp *http.Response, err error) string {
	if err != nil || resp == nil {
		return ResultError
	}
	c := resp.StatusCode
	switch {
	case c == http.StatusTooManyRequests,
		// GitHub answers an exhausted primary rate limit with 403 and no requests remaining.
		c == http.StatusForbidden && resp.Header.Get("X-RateLimit-Remaining") == "0",
		// AWS JSON protocols name the error in a header.
		c == http.StatusBadRequest && strings.Contains(resp.Header.Get("X-Amzn-ErrorType"), "Throttl"):
		return ResultRateLimited
	case c >= 500:
		return ResultServerError
	case c >= 400:
		return ResultClientError
	}
	return ResultOK
}

func rateLimit(h http.Header) (remaining, limit float64, ok bool) {
	r, l := h.Get("X-RateLimit-Remaining"), h.Get("X-RateLimit-Limit")
	if r == "" || l == "" {
		return 0, 0, false
	}
	rem, err1 := strconv.ParseFloat(r, 64)
	lim, err2 := strconv.ParseFloat(l, 64)
	if err1 != nil || err2 != nil || rem < 0 || lim <= 0 {
		return 0, 0, false
	}
	return rem, lim, true
}

// scrubbingProvider hands otelhttp spans that never carry the raw URL: a URL may hold a secret (a Slack
// incoming webhook's path) or text a pull request chose (a branch name in a GitHub path). url.full becomes
// the scheme, host and operation template, and error texts lose the raw URL.
type scrubbingProvider struct {
	embedded.TracerProvider
	tp   trace.TracerProvider
	path func(string) string
}

func (p scrubbingProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return scrubbingTracer{t: p.tp.Tracer(name, opts...), path: p.path}
}

type scrubbingTracer struct {
	embedded.Tracer
	t    trace.Tracer
	path func(string) string
}

func (t scrubbingTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	ctx, s := t.t.Start(ctx, name, opts...)
	if !s.IsRecording() {
		return ctx, s
	}
	return ctx, &scrubbingSpan{Span: s, path: t.path}
}

// scrubbingSpan replaces url.full and strips URLs from status and error texts.
type scrubbingSpan struct {
	trace.Span
	path func(string) string
}

func (s *scrubbingSpan) SetAttributes(kv ...attribute.KeyValue) {
	out := make([]attribute.KeyValue, 0, len(kv))
	for _, a := range kv {
		if a.Key == "url.full" {
			a = attribute.String("url.full", scrubURL(a.Value.AsString(), s.path))
		}
		out = append(out, a)
	}
	s.Span.SetAttributes(out...)
}

func (s *scrubbingSpan) SetStatus(code codes.Code, description string) {
	s.Span.SetStatus(code, scrubText(description))
}

func (s *scrubbingSpan) RecordError(err error, opts ...trace.EventOption) {
	if err == nil {
		return
	}
	s.Span.RecordError(scrubbedError(scrubText(err.Error())), opts...)
}

type scrubbedError string

func (e scrubbedError) Error() string { return string(e) }

// scrubURL keeps a URL's scheme and host and its path's template.
func scrubURL(raw string, path func(string) string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Scheme + "://" + u.Host + path(u.Path)
}

var urlInText = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"']+`)

// scrubText replaces the URLs in an error text by their scheme and host.
func scrubText(s string) string {
	return urlInText.ReplaceAllStringFunc(s, func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return "(URL)"
		}
		return u.Scheme + "://" + u.Host + "/..."
	})
}
