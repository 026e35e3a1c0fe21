package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/metrics"
	"github.com/gitops-runner/runner/internal/store"
)

// Metrics is the server's registry and observers; the instrumented outbound clients report to its
// ObserveCall and SetRateLimit.
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// MetricsAddr is the address of the separate metrics listener ("" when /metrics is on Addr).
func (s *Server) MetricsAddr() string {
	if s.metricsListener == nil {
		return ""
	}
	return s.metricsListener.Addr().String()
}

// newMetrics builds the server's registry; the queue collector asks the store at scrape time.
func newMetrics(st *store.Store, log *slog.Logger) *metrics.Metrics {
	return metrics.New(metrics.Options{Queue: queueStats{st}, Logger: log})
}

// observeImages gives the image builder built from the configuration its observer (a builder the
// caller passed in is left as it is).
func observeImages(c *Collaborators, m *metrics.Metrics) {
	if im, ok := c.Images.(*images); ok && im.opts.Observer == nil {
		im.opts.Observer = m
	}
}

// serveMetrics mounts /metrics on the main mux, or opens its own listener when RUNNER_METRICS_LISTEN
// is set. On the main address it needs the API token when one is set (Bearer, or Basic with any
// user, as the API); without a token it is open, as /healthz is: no label carries a repository, a
// user, a commit or any text from a delivery. The separate listener never asks for the token: the
// operator binds it where only Prometheus reaches it.
func (s *Server) serveMetrics(cfg config.Server, mux *http.ServeMux) error {
	if cfg.MetricsListen == "" {
		mux.Handle("GET /metrics", requireToken(cfg.APIToken, s.metrics.Handler()))
		return nil
	}
	own := http.NewServeMux()
	own.Handle("GET /metrics", s.metrics.Handler())
	s.metricsHTTP = &http.Server{
		Handler:           own,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	var err error
	if s.metricsListener, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
		return fmt.Errorf("listen for metrics on %s: %w", cfg.MetricsListen, err)
	}
	return nil
}

// requireToken lets requests carrying token through (none needed when token is empty).
func requireToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			_, got, ok = r.BasicAuth()
		}
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gitops-runner"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": "/metrics needs the API token (RUNNER_API_TOKEN), or set RUNNER_METRICS_LISTEN"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// queueStats answers the queue collector from the store.
type queueStats struct{ st *store.Store }

func (q queueStats) QueueStats(ctx context.Context) (metrics.Queued, error) {
	s, err := q.st.QueueStats(ctx)
	if err != nil {
		return metrics.Queued{}, err
	}
	return metrics.Queued{Waiting: s.Waiting, Oldest: s.Oldest, Running: s.Running}, nil
}
