package api

import (
	"context"
	"net/http"
	"time"
)

// Pinger is a Store that can say whether its database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// readyTimeout bounds a readiness check, well under a load balancer's
// health check timeout.
const readyTimeout = 2 * time.Second

// live answers while the process serves HTTP at all; it checks nothing
// else, so that a database outage does not get every task replaced.
func live(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// ready answers 200 when the store can serve requests: always for the
// memory store, after a ping for a database.
func (h *itemHandlers) ready(w http.ResponseWriter, r *http.Request) {
	if p, ok := h.store.(Pinger); ok {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := p.Ping(ctx); err != nil {
			h.log.WarnContext(r.Context(), "not ready: database does not answer", "err", err)
			writeError(w, http.StatusServiceUnavailable, "not ready: database unavailable")
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
