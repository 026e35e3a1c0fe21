package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/web"
)

// readiness is a fake Readiness the test switches.
type readiness struct{ running atomic.Bool }

func (r *readiness) Running() bool { return r.running.Load() }

type fixture struct {
	store *store.Store
	ready *readiness
	url   string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ready := &readiness{}
	ready.running.Store(true)
	mux := http.NewServeMux()
	web.Routes(mux, st, ready, web.Options{Database: "postgres db.internal:5432/runner", Replica: "runner-a1"})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{store: st, ready: ready, url: srv.URL}
}

func (f *fixture) accept(t *testing.T, delivery, repo string) int64 {
	t.Helper()
	rec, err := f.store.Accept(context.Background(), event.Event{DeliveryID: delivery, Name: "push", Kind: event.KindDeploy, Repo: repo}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Run
}

// get fetches path and decodes a JSON body into out (when not nil); it returns the status and body.
func (f *fixture) get(t *testing.T, path string, out any) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(f.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: decode %s: %v", path, body, err)
		}
	}
	return resp.StatusCode, resp.Header, string(body)
}

func TestHealthz(t *testing.T) {
	f := newFixture(t)
	f.ready.running.Store(false) // liveness does not depend on the workers
	var body map[string]string
	if code, _, _ := f.get(t, "/healthz", &body); code != http.StatusOK || body["status"] != "ok" {
		t.Fatalf("GET /healthz = %d %v", code, body)
	}
}

func TestReadyz(t *testing.T) {
	type answer struct {
		Status   string            `json:"status"`
		Problems map[string]string `json:"problems"`
		Database struct {
			Name   string   `json:"name"`
			PingMS *float64 `json:"ping_ms"`
		} `json:"database"`
		Replica string `json:"replica"`
	}
	for _, tc := range []struct {
		name         string
		running      bool
		closeStore   bool
		wantCode     int
		wantProblems []string
	}{
		{"store up and workers running", true, false, http.StatusOK, nil},
		{"workers not running", false, false, http.StatusServiceUnavailable, []string{"workers"}},
		{"store closed", true, true, http.StatusServiceUnavailable, []string{"store"}},
		{"both", false, true, http.StatusServiceUnavailable, []string{"store", "workers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.ready.running.Store(tc.running)
			if tc.closeStore {
				f.store.Close()
			}
			var a answer
			code, _, body := f.get(t, "/readyz", &a)
			if code != tc.wantCode {
				t.Errorf("status = %d, want %d (%s)", code, tc.wantCode, body)
			}
			var got []string
			for k := range a.Problems {
				got = append(got, k)
			}
			if len(got) == 2 && got[0] > got[1] {
				got[0], got[1] = got[1], got[0]
			}
			if !reflect.DeepEqual(got, tc.wantProblems) {
				t.Errorf("problems = %v, want %v", a.Problems, tc.wantProblems)
			}
			// Which database and which replica answer, ready or not (an operator behind a load balancer asks).
			if a.Database.Name != "postgres db.internal:5432/runner" || a.Database.PingMS == nil || a.Replica != "runner-a1" {
				t.Errorf("database %+v, replica %q: want the store named, its ping timed and the replica named", a.Database, a.Replica)
			}
			if wantStatus := map[bool]string{true: "ready", false: "not ready"}[tc.wantCode == http.StatusOK]; a.Status != wantStatus {
				t.Errorf("status field = %q, want %q", a.Status, wantStatus)
			}
		})
	}
}

func TestReadyzWithoutReadiness(t *testing.T) {
	st, err := store.OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mux := http.NewServeMux()
	web.Routes(mux, st, nil, web.Options{})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz with no readiness = %d, want 200", resp.StatusCode)
	}
}

func TestListRuns(t *testing.T) {
	f := newFixture(t)
	var empty struct{ Runs []store.Run }
	if code, _, body := f.get(t, "/api/runs", &empty); code != http.StatusOK || !strings.Contains(body, `"runs": []`) {
		t.Fatalf("empty list = %d %s, want an empty array", code, body)
	}
	for i := range 5 {
		repo := "acme/infra"
		if i%2 == 1 {
			repo = "acme/api"
		}
		f.accept(t, fmt.Sprintf("d-%d", i), repo) // ids 1..5
	}
	if err := f.store.FinishRun(context.Background(), 3, store.StatusFailed, "boom"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		want  []int64
	}{
		{"", []int64{5, 4, 3, 2, 1}},
		{"?repo=acme/api", []int64{4, 2}},
		{"?status=failed", []int64{3}},
		{"?repo=acme/infra&status=queued", []int64{5, 1}},
		{"?limit=2", []int64{5, 4}},
		{"?limit=0", []int64{5, 4, 3, 2, 1}},
		{"?before=4", []int64{3, 2, 1}},
		{"?before=5&limit=2", []int64{4, 3}},
		{"?repo=nobody/none", nil},
	} {
		t.Run(tc.query, func(t *testing.T) {
			var got struct{ Runs []store.Run }
			if code, _, body := f.get(t, "/api/runs"+tc.query, &got); code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			var ids []int64
			for _, r := range got.Runs {
				ids = append(ids, r.ID)
			}
			if !reflect.DeepEqual(ids, tc.want) {
				t.Errorf("runs = %v, want %v", ids, tc.want)
			}
		})
	}
	for _, q := range []string{"?limit=x", "?limit=-1", "?before=abc", "?before=-2"} {
		t.Run("bad "+q, func(t *testing.T) {
			var e struct{ Error string }
			if code, _, _ := f.get(t, "/api/runs"+q, &e); code != http.StatusBadRequest || e.Error == "" {
				t.Errorf("status %d error %q, want 400 with a message", code, e.Error)
			}
		})
	}
}

func TestGetRun(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.accept(t, "d-1", "acme/infra")
	stages, err := f.store.EnsureStages(ctx, id, []store.StageKey{{Name: "clone"}, {Env: "dev", Name: "plan"}})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := range 25 {
		lines = append(lines, fmt.Sprintf("line %02d", i))
	}
	if err := f.store.AppendLog(ctx, stages[1].ID, lines); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetRunScope(ctx, id, []string{"environments/dev/main.tf"}, []string{"dev"}, nil); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		query    string
		wantTail []string
	}{
		{"", lines[5:]}, // 20 lines by default
		{"?tail=2", lines[23:]},
		{"?tail=0", nil},
		{"?tail=1000", lines},
	} {
		t.Run("tail "+tc.query, func(t *testing.T) {
			var r store.Run
			if code, _, body := f.get(t, fmt.Sprintf("/api/runs/%d%s", id, tc.query), &r); code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			if r.ID != id || r.Event.Repo != "acme/infra" || r.Status != store.StatusQueued || len(r.Stages) != 2 ||
				!reflect.DeepEqual(r.Changed, []string{"environments/dev/main.tf"}) {
				t.Fatalf("run = %+v", r)
			}
			if !reflect.DeepEqual(r.Stages[1].LogTail, tc.wantTail) {
				t.Errorf("plan tail = %q, want %q", r.Stages[1].LogTail, tc.wantTail)
			}
		})
	}
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/api/runs/999", http.StatusNotFound},
		{"/api/runs/abc", http.StatusBadRequest},
		{fmt.Sprintf("/api/runs/%d?tail=1001", id), http.StatusBadRequest},
		{fmt.Sprintf("/api/runs/%d?tail=-1", id), http.StatusBadRequest},
		{fmt.Sprintf("/api/runs/%d?tail=many", id), http.StatusBadRequest},
	} {
		t.Run(tc.path, func(t *testing.T) {
			var e struct{ Error string }
			if code, _, _ := f.get(t, tc.path, &e); code != tc.code || e.Error == "" {
				t.Errorf("status %d error %q, want %d with a message", code, e.Error, tc.code)
			}
		})
	}
}

func TestStageLog(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.accept(t, "d-1", "acme/infra")
	stages, err := f.store.EnsureStages(ctx, id, []store.StageKey{{Env: "dev", Name: "apply"}})
	if err != nil {
		t.Fatal(err)
	}
	sid := stages[0].ID
	path := fmt.Sprintf("/api/stages/%d/log", sid)
	type answer struct {
		Stage store.Stage     `json:"stage"`
		Lines []store.LogLine `json:"lines"`
	}
	var a answer
	if code, _, body := f.get(t, path, &a); code != http.StatusOK || !strings.Contains(body, `"lines": []`) || a.Stage.ID != sid {
		t.Fatalf("empty log = %d %s", code, body)
	}
	if err := f.store.StartStage(ctx, sid); err != nil {
		t.Fatal(err)
	}
	if err := f.store.AppendLog(ctx, sid, []string{"init", "plan", "apply"}); err != nil {
		t.Fatal(err)
	}
	a = answer{}
	if code, _, _ := f.get(t, path, &a); code != http.StatusOK || len(a.Lines) != 3 || a.Stage.Status != store.StageRunning {
		t.Fatalf("log = %d %+v", code, a)
	}
	// A follower asks for what came after the last line it saw.
	after := a.Lines[0].ID
	if err := f.store.AppendLog(ctx, sid, []string{"done"}); err != nil {
		t.Fatal(err)
	}
	a = answer{}
	f.get(t, fmt.Sprintf("%s?after=%d", path, after), &a)
	var got []string
	for _, l := range a.Lines {
		got = append(got, l.Line)
	}
	if !reflect.DeepEqual(got, []string{"plan", "apply", "done"}) {
		t.Errorf("lines after %d = %q", after, got)
	}
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/api/stages/999/log", http.StatusNotFound},
		{"/api/stages/x/log", http.StatusBadRequest},
		{path + "?after=x", http.StatusBadRequest},
		{path + "?after=-1", http.StatusBadRequest},
	} {
		t.Run(tc.path, func(t *testing.T) {
			var e struct{ Error string }
			if code, _, _ := f.get(t, tc.path, &e); code != tc.code || e.Error == "" {
				t.Errorf("status %d error %q, want %d with a message", code, e.Error, tc.code)
			}
		})
	}
}

func TestLocks(t *testing.T) {
	f := newFixture(t)
	if code, _, body := f.get(t, "/api/locks", &struct{}{}); code != http.StatusOK || !strings.Contains(body, `"locks": []`) {
		t.Fatalf("no locks = %d %s, want an empty array", code, body)
	}
	if ok, _, err := f.store.TryLock(context.Background(), "acme/infra", "prod", "run-7", 7, time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	var got struct{ Locks []store.Lock }
	if code, _, _ := f.get(t, "/api/locks", &got); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if len(got.Locks) != 1 || got.Locks[0].Repo != "acme/infra" || got.Locks[0].Env != "prod" || got.Locks[0].RunID != 7 || got.Locks[0].Holder != "run-7" {
		t.Errorf("locks = %+v", got.Locks)
	}
}

func TestDashboard(t *testing.T) {
	f := newFixture(t)
	code, h, body := f.get(t, "/", nil)
	if code != http.StatusOK {
		t.Fatalf("GET / = %d", code)
	}
	if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if !strings.HasPrefix(body, "<!doctype html>") || !strings.Contains(body, "/static/dashboard.js") {
		t.Errorf("body is not the dashboard: %.80q", body)
	}
	if code, _, _ := f.get(t, "/nothing-here", nil); code != http.StatusNotFound {
		t.Errorf("GET /nothing-here = %d, want 404", code)
	}
	resp, err := http.Post(f.url+"/api/runs", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/runs = %d, want 405", resp.StatusCode)
	}
}

func TestAPIToken(t *testing.T) {
	const token = "s3cret-api-token-0123456789"
	st, err := store.OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mux := http.NewServeMux()
	web.Routes(mux, st, nil, web.Options{Token: token})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	tests := []struct {
		name string
		path string
		auth func(r *http.Request)
		want int
	}{
		{"health without token", "/healthz", nil, http.StatusOK},
		{"readiness without token", "/readyz", nil, http.StatusOK},
		{"runs without token", "/api/runs", nil, http.StatusUnauthorized},
		{"locks without token", "/api/locks", nil, http.StatusUnauthorized},
		{"dashboard without token", "/", nil, http.StatusUnauthorized},
		{"bearer token", "/api/runs", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }, http.StatusOK},
		{"bearer scheme in lower case", "/api/runs", func(r *http.Request) { r.Header.Set("Authorization", "bearer "+token) }, http.StatusOK},
		{"wrong bearer token", "/api/runs", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, http.StatusUnauthorized},
		{"basic auth, any user", "/", func(r *http.Request) { r.SetBasicAuth("dana", token) }, http.StatusOK},
		{"basic auth, wrong password", "/api/locks", func(r *http.Request) { r.SetBasicAuth("dana", "nope") }, http.StatusUnauthorized},
		{"token as basic user name", "/api/locks", func(r *http.Request) { r.SetBasicAuth(token, "") }, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth != nil {
				tt.auth(req)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("GET %s = %d, want %d (%s)", tt.path, resp.StatusCode, tt.want, body)
			}
			if tt.want == http.StatusUnauthorized {
				if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
					t.Errorf("WWW-Authenticate = %q, want a Basic challenge so browsers ask", resp.Header.Get("WWW-Authenticate"))
				}
				if strings.Contains(string(body), token) {
					t.Errorf("the refusal shows the token: %s", body)
				}
			}
		})
	}
}
