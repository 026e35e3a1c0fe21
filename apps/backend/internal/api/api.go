// Package api is the backend's HTTP layer: routes, JSON handlers for items,
// health checks, CORS, request logging, tracing and panic recovery around
// an item Store.
package api

import (
	"context"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/otel/trace"

	"github.com/gitops-runner/runner/apps/backend/internal/items"
	"github.com/gitops-runner/runner/apps/backend/internal/telemetry"
)

// Store keeps items: items.Memory (the default, one per process) or
// items.Postgres. Implementations validate nothing: the handlers pass only
// normalized, validated input.
type Store interface {
	List(ctx context.Context, opts items.ListOptions) (items.Page, error)
	Create(ctx context.Context, in items.Input) (items.Item, error)
	Get(ctx context.Context, id string) (items.Item, error)
	Update(ctx context.Context, id string, in items.Input) (items.Item, error)
	Delete(ctx context.Context, id string) error
}

var (
	_ Store  = (*items.Memory)(nil)
	_ Store  = (*items.Postgres)(nil)
	_ Pinger = (*items.Postgres)(nil)
)

// Options configures the handler returned by New.
type Options struct {
	// AllowedOrigins get CORS headers; every other origin gets none.
	AllowedOrigins []string
	Logger         *slog.Logger
	// TracerProvider, when set, traces every request but the health checks
	// (see internal/telemetry); nil means no tracing at all.
	TracerProvider trace.TracerProvider
}

// Health check paths: liveness (the load balancer's target health check)
// and readiness (the store answers).
const (
	LivenessPath  = "/health"
	ReadinessPath = "/readyz"
)

// New returns the backend's root handler.
func New(store Store, opts Options) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &itemHandlers{store: store, log: log}

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+LivenessPath, live)
	mux.HandleFunc("GET "+ReadinessPath, h.ready)
	mux.HandleFunc("GET /api/v1/items", h.list)
	mux.HandleFunc("POST /api/v1/items", h.create)
	mux.HandleFunc("GET /api/v1/items/{id}", h.get)
	mux.HandleFunc("PUT /api/v1/items/{id}", h.update)
	mux.HandleFunc("DELETE /api/v1/items/{id}", h.delete)
	// Method-less patterns catch the other methods so that 405 and 404 come
	// back as JSON like every other error, not as the mux's plain text.
	mux.Handle("/api/v1/items", methodNotAllowed("GET, HEAD, POST"))
	mux.Handle("/api/v1/items/{id}", methodNotAllowed("GET, HEAD, PUT, DELETE"))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not found")
	})

	// The request log sits inside the trace span, so it can name the trace.
	logged := logRequests(log, recoverPanics(log, newCORS(opts.AllowedOrigins).wrap(mux)))
	return telemetry.Handler(logged, opts.TracerProvider, LivenessPath, ReadinessPath)
}

func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	})
}
