package outbound_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	ghnotify "github.com/gitops-runner/runner/internal/notify/github"
	slacknotify "github.com/gitops-runner/runner/internal/notify/slack"
	"github.com/gitops-runner/runner/internal/outbound"
	"github.com/gitops-runner/runner/internal/testenv/fakeaws"
	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
	"github.com/gitops-runner/runner/internal/testenv/fakeslack"
)

// observer is a fake Observer recording what it is told.
type observer struct {
	mu    sync.Mutex
	calls []call
	rates []rate
}

type call struct{ service, operation, result string }
type rate struct {
	service          string
	remaining, limit float64
}

func (o *observer) ObserveCall(service, operation, result string, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d <= 0 {
		panic("no duration")
	}
	o.calls = append(o.calls, call{service, operation, result})
}

func (o *observer) SetRateLimit(service string, remaining, limit float64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rates = append(o.rates, rate{service, remaining, limit})
}

func (o *observer) snapshot() ([]call, []rate) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]call(nil), o.calls...), append([]rate(nil), o.rates...)
}

func tracer() (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	return sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)), exp
}

func TestTransportReportsResultsAndRateLimit(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		headers   map[string]string
		wantRes   string
		wantRate  *rate
		transport bool // the server drops the connection
	}{
		{name: "ok with rate limit", status: 201, headers: map[string]string{"X-RateLimit-Remaining": "4999", "X-RateLimit-Limit": "5000"},
			wantRes: "ok", wantRate: &rate{"github", 4999, 5000}},
		{name: "not found", status: 404, wantRes: "client_error"},
		{name: "server error", status: 502, wantRes: "server_error"},
		{name: "primary rate limit is a 403 with nothing left", status: 403,
			headers: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "5000"}, wantRes: "rate_limited", wantRate: &rate{"github", 0, 5000}},
		{name: "forbidden with requests left", status: 403, headers: map[string]string{"X-RateLimit-Remaining": "10", "X-RateLimit-Limit": "5000"},
			wantRes: "client_error", wantRate: &rate{"github", 10, 5000}},
		{name: "429", status: 429, wantRes: "rate_limited"},
		{name: "garbage rate limit is ignored", status: 200, headers: map[string]string{"X-RateLimit-Remaining": "x", "X-RateLimit-Limit": "5000"}, wantRes: "ok"},
		{name: "transport error", transport: true, wantRes: "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sawTraceparent string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sawTraceparent = r.Header.Get("Traceparent")
				if tt.transport {
					hj, _ := w.(http.Hijacker)
					c, _, _ := hj.Hijack()
					c.Close()
					return
				}
				for k, v := range tt.headers {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			obs := &observer{}
			tp, exp := tracer()
			client := &http.Client{Transport: outbound.GitHub(outbound.Options{Tracer: tp, Propagator: propagation.TraceContext{}, Observer: obs})}

			ctx, parent := tp.Tracer("test").Start(context.Background(), "stage plan")
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/repos/acme/platform/issues/7/comments", strings.NewReader("{}"))
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			parent.End()
			if tt.transport != (err != nil) {
				t.Fatalf("err = %v", err)
			}
			calls, rates := obs.snapshot()
			want := call{"github", "POST /repos/{owner}/{repo}/issues/{n}/comments", tt.wantRes}
			if len(calls) != 1 || calls[0] != want {
				t.Fatalf("calls = %+v, want %+v", calls, want)
			}
			if tt.wantRate == nil && len(rates) != 0 || tt.wantRate != nil && (len(rates) != 1 || rates[0] != *tt.wantRate) {
				t.Fatalf("rates = %+v, want %+v", rates, tt.wantRate)
			}
			spans := exp.GetSpans()
			var span tracetest.SpanStub
			for _, s := range spans {
				if strings.HasPrefix(s.Name, "github ") {
					span = s
				}
			}
			if span.Name != "github POST /repos/{owner}/{repo}/issues/{n}/comments" {
				t.Fatalf("spans = %v", names(spans))
			}
			if span.Parent.SpanID() != parent.SpanContext().SpanID() {
				t.Fatal("the client span is not a child of the caller's span")
			}
			for _, a := range span.Attributes {
				if a.Key == "url.full" && a.Value.AsString() != srv.URL+"/repos/{owner}/{repo}/issues/{n}/comments" {
					t.Fatalf("url.full = %q", a.Value.AsString())
				}
			}
			if !tt.transport && !strings.Contains(sawTraceparent, parent.SpanContext().TraceID().String()) {
				t.Fatalf("traceparent sent = %q", sawTraceparent)
			}
		})
	}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func TestNilEverythingStillSends(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Traceparent") != "" {
			t.Error("a trace header was sent without a propagator")
		}
	}))
	defer srv.Close()
	resp, err := (&http.Client{Transport: outbound.Slack(outbound.Options{})}).Get(srv.URL + "/api/chat.postMessage")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// The real GitHub client through the transport, against the GitHub stand-in.
func TestGitHubClientCallsAreObservedAndTraced(t *testing.T) {
	gh := fakegithub.New(fakegithub.Config{Tokens: []string{"ghs_tok"}})
	defer gh.Close()
	obs := &observer{}
	tp, exp := tracer()
	c, err := ghnotify.New(context.Background(), ghnotify.Options{Token: "ghs_tok", BaseURL: gh.URL(),
		HTTPClient: &http.Client{Transport: outbound.GitHub(outbound.Options{Base: gh.HTTPClient().Transport, Tracer: tp, Observer: obs,
			Propagator: propagation.TraceContext{}})}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, parent := tp.Tracer("test").Start(context.Background(), "run")
	if err := c.SetStatus(ctx, "acme/platform", "0123456789abcdef0123456789abcdef01234567", "runner/dev", "success", "ok", ""); err != nil {
		t.Fatal(err)
	}
	parent.End()
	calls, _ := obs.snapshot()
	if len(calls) == 0 {
		t.Fatal("no call observed")
	}
	found := false
	for _, cl := range calls {
		if cl.operation == "POST /repos/{owner}/{repo}/statuses/{ref}" && cl.result == "ok" && cl.service == "github" {
			found = true
		}
	}
	if !found {
		t.Fatalf("calls = %+v", calls)
	}
	for _, s := range exp.GetSpans() {
		if s.Name == "github POST /repos/{owner}/{repo}/statuses/{ref}" && s.Parent.SpanID() == parent.SpanContext().SpanID() {
			return
		}
	}
	t.Fatalf("no status span under the run: %v", names(exp.GetSpans()))
}

// The real Slack client, by the bot token and by an incoming webhook whose URL is a secret.
func TestSlackCallsNeverShowTheWebhookURL(t *testing.T) {
	sl := fakeslack.New(fakeslack.Config{Token: "xoxb-test"})
	defer sl.Close()
	obs := &observer{}
	tp, exp := tracer()
	hc := &http.Client{Transport: outbound.Slack(outbound.Options{Base: sl.HTTPClient().Transport, Tracer: tp, Observer: obs})}
	for _, o := range []slacknotify.Options{
		{Token: "xoxb-test", Channel: "C1", APIURL: sl.APIURL(), HTTPClient: hc},
		{WebhookURL: sl.WebhookURL(), HTTPClient: hc},
	} {
		r := slacknotify.NewReporter(o)
		r.Update(slacknotify.Deploy{Repo: "acme/platform", Commit: "abc", Environments: []string{"dev"},
			Stages: []slacknotify.Stage{{Env: "dev", Name: "apply", State: slacknotify.StateSuccess}}})
		if err := r.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	calls, _ := obs.snapshot()
	ops := map[string]bool{}
	for _, c := range calls {
		ops[c.operation+" "+c.result] = true
	}
	if !ops["chat.postMessage ok"] || !ops["incoming-webhook ok"] {
		t.Fatalf("calls = %+v", calls)
	}
	for _, s := range exp.GetSpans() {
		for _, a := range s.Attributes {
			if strings.Contains(a.Value.Emit(), "fakewebhooksecret") {
				t.Fatalf("span %s attribute %s shows the webhook's secret: %s", s.Name, a.Key, a.Value.Emit())
			}
		}
		if strings.Contains(s.Name, "fakewebhooksecret") {
			t.Fatalf("span name %q", s.Name)
		}
	}
}

// The real ECS client: the operation is the SDK's own name.
func TestAWSCallsAreNamedByTheSDKOperation(t *testing.T) {
	f := fakeaws.StartECS()
	defer f.Close()
	obs := &observer{}
	tp, exp := tracer()
	client := ecs.NewFromConfig(aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		BaseEndpoint: aws.String(f.URL()), RetryMaxAttempts: 1,
		HTTPClient: &http.Client{Transport: outbound.AWS(outbound.Options{Tracer: tp, Observer: obs})},
	})
	_, err := client.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"s"}})
	var _ = errors.Unwrap(err) // the fake may answer "not found"; the call is what counts
	calls, _ := obs.snapshot()
	if len(calls) != 1 || calls[0].service != "aws" || calls[0].operation != "ecs:DescribeServices" {
		t.Fatalf("calls = %+v", calls)
	}
	spans := names(exp.GetSpans())
	if len(spans) != 1 || spans[0] != "aws ecs:DescribeServices" {
		t.Fatalf("spans = %v", spans)
	}
}
