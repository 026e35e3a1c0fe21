// Package web serves the runner's JSON API of runs, stages, logs, locks, deployments and approvals,
// the endpoints through which a person acts on them, the health endpoints, and the operator's
// dashboard: pages rendered on the server, enhanced by one small script.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/store"
)

// Store is what the API reads.
type Store interface {
	Ping(ctx context.Context) error
	ListRuns(ctx context.Context, f store.ListFilter) ([]store.Run, error)
	Run(ctx context.Context, id int64, tailLines int) (store.Run, error)
	Stage(ctx context.Context, id int64) (store.Stage, error)
	Log(ctx context.Context, stageID, after int64, limit int) ([]store.LogLine, error)
	Locks(ctx context.Context) ([]store.Lock, error)
	// DeploymentsOf lists deployments newest first; repo or env "" matches every one.
	DeploymentsOf(ctx context.Context, repo, env string, limit int) ([]store.Deployment, error)
	// LastDriftCheck is an environment's newest drift check, or store.ErrNotFound.
	LastDriftCheck(ctx context.Context, repo, env string) (store.DriftCheck, error)
}

// Readiness says whether the workers are running.
type Readiness interface {
	Running() bool
}

// Options tune the API.
type Options struct {
	// Token, when set, is required by the API and the dashboard: as a Bearer token, or as the password of
	// HTTP Basic auth (any user name), so that a browser can open the dashboard. Without it they answer
	// clients on this machine only. The health endpoints stay open for load balancers either way.
	Token string
	// Isolation is how Terraform on pull requests runs, shown on /readyz and the dashboard.
	Isolation map[string]any
	// PublicURL is the runner's base URL (RUNNER_PUBLIC_URL): without a token, its host is accepted in
	// the Host header besides the loopback names.
	PublicURL string
	// AllowedHosts are more host names accepted in the Host header without a token.
	AllowedHosts []string
	// Logger hears, once, which exposure is in effect, and every action asked; nil discards.
	Logger *slog.Logger
	// Actions carries out approve, reject, rollback and unlock; nil: those endpoints answer 501. They
	// answer only with Token set and presented (or a single sign-on session), whatever the client's address.
	Actions Actor
	// Approvals lists deploys waiting for approval and recent decisions; nil: none.
	Approvals Approvals
	// Database names the store's database for /readyz (driver, host and database; never a password).
	Database string
	// Replica is this process's id among the replicas of a shared database, for /readyz; "" when alone.
	Replica string
	// Sessions, when set (single sign-on, which needs Token), recognises people signed in at SignInPath:
	// their session is as good as the token for the dashboard and the API, pages send a browser without
	// either to sign in, and their actions are taken as their own login.
	Sessions Sessions
}

// Sessions recognises people signed in by single sign-on.
type Sessions interface {
	// Login gives the GitHub login of the request's valid session, if it has one.
	Login(r *http.Request) (string, bool)
}

// SignInPath and SignOutPath are single sign-on's endpoints (served by internal/sso), which the
// dashboard links to.
const (
	SignInPath  = "/auth/login"
	SignOutPath = "/auth/logout"
)

// Routes registers the API on mux.
func Routes(mux *http.ServeMux, st Store, ready Readiness, opts Options) {
	exp := newExposure(opts)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	exp.describe(log)
	guarded := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, exp.guard(h)) }
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		problems := map[string]string{}
		start := time.Now()
		if err := st.Ping(r.Context()); err != nil {
			problems["store"] = err.Error()
		}
		db := map[string]any{"ping_ms": float64(time.Since(start).Microseconds()) / 1000}
		if opts.Database != "" {
			db["name"] = opts.Database
		}
		if ready != nil && !ready.Running() {
			problems["workers"] = "not running"
		}
		answer := map[string]any{"status": "ready", "database": db}
		if opts.Replica != "" {
			answer["replica"] = opts.Replica
		}
		if len(problems) > 0 {
			answer["status"], answer["problems"] = "not ready", problems
			writeJSON(w, http.StatusServiceUnavailable, answer)
			return
		}
		answer["isolation"] = opts.Isolation
		writeJSON(w, http.StatusOK, answer)
	})
	guarded("GET /api/runs", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := store.ListFilter{Repo: q.Get("repo"), Status: q.Get("status"), Env: q.Get("env"), Kind: q.Get("kind")}
		var err error
		if f.Limit, err = intParam(q.Get("limit"), 50); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "limit: " + err.Error()})
			return
		}
		before, err := intParam(q.Get("before"), 0)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "before: " + err.Error()})
			return
		}
		f.Before = int64(before)
		runs, err := st.ListRuns(r.Context(), f)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
			return
		}
		if runs == nil {
			runs = []store.Run{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"runs": runs})
	})
	guarded("GET /api/runs/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "run id must be a number"})
			return
		}
		tail, err := intParam(r.URL.Query().Get("tail"), 20)
		if err != nil || tail > 1000 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "tail must be 0-1000"})
			return
		}
		run, err := st.Run(r.Context(), id, tail)
		if errors.Is(err, store.ErrNotFound) {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "no such run"})
			return
		}
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, run)
	})
	guarded("GET /api/stages/{id}/log", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "stage id must be a number"})
			return
		}
		after, err := intParam(r.URL.Query().Get("after"), 0)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "after: " + err.Error()})
			return
		}
		stage, err := st.Stage(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "no such stage"})
			return
		}
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
			return
		}
		lines, err := st.Log(r.Context(), id, int64(after), 1000)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
			return
		}
		if lines == nil {
			lines = []store.LogLine{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"stage": stage, "lines": lines})
	})
	guarded("GET /api/locks", func(w http.ResponseWriter, r *http.Request) {
		locks, err := st.Locks(r.Context())
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"locks": locks})
	})
	guarded("GET /api/deployments", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		repo, env := q.Get("repo"), q.Get("env")
		if repo != "" && !validRepo(repo) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "repo must be owner/name"})
			return
		}
		if env != "" && !config.ValidEnvironmentName(env) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "env is not an environment name"})
			return
		}
		limit, err := intParam(q.Get("limit"), 50)
		if err != nil || limit > 500 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "limit must be 0-500"})
			return
		}
		deps, err := st.DeploymentsOf(r.Context(), repo, env, limit)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
			return
		}
		if deps == nil {
			deps = []store.Deployment{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"deployments": deps})
	})
	guarded("GET /api/approvals", func(w http.ResponseWriter, r *http.Request) {
		list := []ApprovalView{}
		if opts.Approvals != nil {
			got, err := opts.Approvals.Approvals(r.Context())
			if err != nil {
				writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
				return
			}
			if got != nil {
				list = got
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"approvals": list})
	})
	actionRoutes(mux, exp, opts.Actions, log)
	guarded("GET /api/stages/{id}/events", newLogEvents(st).ServeHTTP)
	newPages(st, opts, exp, log).routes(mux, exp.guardPage)
}

func intParam(v string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errors.New("want a non-negative number")
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
