// Package api is the backend's HTTP layer: routes, JSON handlers for items,
// CORS, request logging and panic recovery around an item Store.
package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gitops-runner/runner/apps/backend/internal/items"
)

// Store keeps items. The in-memory items.Memory is the default; a database
// tier implements the same methods. Implementations validate nothing: the
// handlers pass only normalized, validated input.
type Store interface {
	List(ctx context.Context, opts items.ListOptions) (items.Page, error)
	Create(ctx context.Context, in items.Input) (items.Item, error)
	Get(ctx context.Context, id string) (items.Item, error)
	Update(ctx context.Context, id string, in items.Input) (items.Item, error)
	Delete(ctx context.Context, id string) error
}

var _ Store = (*items.Memory)(nil)

// Options configures the handler returned by New.
type Options struct {
	// AllowedOrigins get CORS headers; every other origin gets none.
	AllowedOrigins []string
	Logger         *slog.Logger
}

// New returns the backend's root handler.
func New(store Store, opts Options) http.Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &itemHandlers{store: store, log: log}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", health)
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

	return logRequests(log, recoverPanics(log, newCORS(opts.AllowedOrigins).wrap(mux)))
}

func health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	})
}
