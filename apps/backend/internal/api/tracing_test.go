package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gitops-runner/runner/apps/backend/internal/items"
	"github.com/gitops-runner/runner/apps/backend/internal/items/itemstest"
	"github.com/gitops-runner/runner/apps/backend/internal/telemetry"
)

// A request that carries the frontend's traceparent continues that trace:
// a server span for the request and, with the database store, a client
// span per query under it, with the statement and without its values.
func TestRequestsAndQueriesAreTraced(t *testing.T) {
	const (
		traceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
		parentID = "00f067aa0ba902b7"
		secret   = "name-that-must-not-be-in-a-span"
	)
	for _, kind := range []string{"memory", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp, err := telemetry.NewProvider(t.Context(), "backend-test", sdktrace.WithSpanProcessor(rec))
			if err != nil {
				t.Fatal(err)
			}
			var store Store = items.NewMemory()
			if kind == "postgres" {
				store = itemstest.NewPostgres(t, telemetry.QueryTracer(tp))
			}
			var logs bytes.Buffer
			h := New(store, Options{TracerProvider: tp, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})

			req := httptest.NewRequest("POST", "/api/v1/items", strings.NewReader(`{"name":"`+secret+`"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusCreated {
				t.Fatalf("POST = %d %s", w.Code, w.Body)
			}
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/health", nil))

			var server sdktrace.ReadOnlySpan
			var queries []sdktrace.ReadOnlySpan
			for _, s := range rec.Ended() {
				switch s.SpanKind() {
				case trace.SpanKindServer:
					if server != nil {
						t.Fatalf("two server spans: %s and %s (health checks get none)", server.Name(), s.Name())
					}
					server = s
				case trace.SpanKindClient:
					if _, ok := attr(s, "db.query.text"); ok {
						queries = append(queries, s)
					}
				}
			}
			if server == nil {
				t.Fatal("no server span")
			}
			if server.SpanContext().TraceID().String() != traceID || server.Parent().SpanID().String() != parentID {
				t.Fatalf("server span in trace %s under %s, want %s under %s",
					server.SpanContext().TraceID(), server.Parent().SpanID(), traceID, parentID)
			}
			if server.Name() != "POST /api/v1/items" {
				t.Errorf("server span name = %q, want the route", server.Name())
			}

			var logged map[string]any
			if err := json.Unmarshal(bytes.TrimSpace(logs.Bytes()), &logged); err != nil || logged["trace_id"] != traceID {
				t.Errorf("request log %s lacks trace_id %s", logs.String(), traceID)
			}

			if kind == "memory" {
				return
			}
			if len(queries) == 0 {
				t.Fatal("no query span")
			}
			// pgx prepares the statement the first time, in a span under the
			// query's; the query's own span is a child of the request's.
			underRequest := false
			for _, q := range queries {
				text, _ := attr(q, "db.query.text")
				if q.SpanContext().TraceID().String() != traceID || !strings.Contains(text, "INSERT INTO items") {
					t.Errorf("query span %q (%s) in trace %s", q.Name(), text, q.SpanContext().TraceID())
				}
				underRequest = underRequest || q.Parent().SpanID() == server.SpanContext().SpanID()
				for _, kv := range q.Attributes() {
					if strings.Contains(kv.Value.Emit(), secret) {
						t.Errorf("query span %q carries a query argument in %s", q.Name(), kv.Key)
					}
				}
			}
			if !underRequest {
				t.Error("no query span is a child of the request span")
			}
		})
	}
}

func attr(s sdktrace.ReadOnlySpan, key string) (string, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit(), true
		}
	}
	return "", false
}
