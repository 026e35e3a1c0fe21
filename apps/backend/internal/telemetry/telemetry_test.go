package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gitops-runner/runner/apps/backend/internal/config"
)

type okHandler struct{}

func (okHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }

func TestOffWithoutEndpointSetsNothingUp(t *testing.T) {
	tr, err := Setup(t.Context(), config.Tracing{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() || tr.Provider() != nil {
		t.Fatal("tracing is on without an endpoint")
	}
	h := &okHandler{}
	if got := Handler(h, tr.Provider()); got != http.Handler(h) {
		t.Fatalf("Handler() wrapped the handler while tracing is off: %T", got)
	}
	if QueryTracer(tr.Provider()) != nil {
		t.Fatal("QueryTracer() is not nil while tracing is off")
	}
	if err := tr.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestHandlerContinuesTheCallersTraceAndSkipsHealthChecks(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp, err := NewProvider(t.Context(), "backend-test", sdktrace.WithSpanProcessor(rec))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/items/{id}", okHandler{})
	mux.Handle("GET /health", okHandler{})
	h := Handler(mux, tp, "/health")

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req := httptest.NewRequest("GET", "/api/v1/items/abc", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/health", nil))

	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("got %d spans, want 1 (none for /health)", len(spans))
	}
	s := spans[0]
	if s.SpanContext().TraceID().String() != traceID || s.Parent().SpanID().String() != parentID {
		t.Fatalf("span trace %s parent %s, want %s %s", s.SpanContext().TraceID(), s.Parent().SpanID(), traceID, parentID)
	}
	if s.Name() != "GET /api/v1/items/{id}" {
		t.Errorf("span name = %q, want the route", s.Name())
	}
}

// X-Ray accepts only trace IDs whose first 32 bits are the start time in
// epoch seconds.
func TestNewTracesHaveXRayTraceIDs(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp, err := NewProvider(t.Context(), "backend-test", sdktrace.WithSpanProcessor(rec))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Unix()
	_, span := tp.Tracer("test").Start(context.Background(), "root")
	span.End()
	id := rec.Ended()[0].SpanContext().TraceID()
	epoch := int64(id[0])<<24 | int64(id[1])<<16 | int64(id[2])<<8 | int64(id[3])
	if epoch < before || epoch > time.Now().Unix() {
		t.Fatalf("trace ID %s starts with %d, want the current epoch second (%d)", id, epoch, before)
	}
}

// The real exporter, against a stand-in for the ADOT collector's OTLP/HTTP
// receiver.
func TestSetupExportsSpansOverOTLPHTTP(t *testing.T) {
	var (
		mu    sync.Mutex
		paths []string
		reqs  []*coltracepb.ExportTraceServiceRequest
	)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		paths, reqs = append(paths, r.URL.Path), append(reqs, &req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(collector.Close)

	tr, err := Setup(t.Context(), config.Tracing{Enabled: true, Endpoint: collector.URL + "/v1/traces", ServiceName: "backend-test"})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Provider().Tracer("test").Start(context.Background(), "exported")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(reqs) != 1 || paths[0] != "/v1/traces" {
		t.Fatalf("collector got %d requests at %v, want 1 at /v1/traces", len(reqs), paths)
	}
	rs := reqs[0].GetResourceSpans()[0]
	var service string
	for _, kv := range rs.GetResource().GetAttributes() {
		if kv.GetKey() == "service.name" {
			service = kv.GetValue().GetStringValue()
		}
	}
	if service != "backend-test" || rs.GetScopeSpans()[0].GetSpans()[0].GetName() != "exported" {
		t.Fatalf("exported %v", rs)
	}
}
