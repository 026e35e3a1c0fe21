//go:build browser

package web_test

// The dashboard's browser suite: the real pages and API (web.Routes over a real SQLite store and a
// real action service) served on 127.0.0.1 by an http.Server with the runner's timeouts, seeded with
// runs (hostile ones among them), driven by tests/dashboard/ (playwright-core and Debian's Chromium)
// under node --test. Run with `make test-dashboard`, or:
//
//	(cd tests/dashboard && npm ci) && go test -tags browser -run TestBrowser ./internal/web/

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/action"
	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/policy"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/web"
)

// hostile is what a pull request's author controls: branch names, commit messages, file names, plan
// text. Each payload would set window.__pwned if the browser ran it.
const (
	hostileImg    = `<img src=x onerror="window.__pwned=1">`
	hostileScript = `<script>window.__pwned=1</script>`
	hostileURL    = `javascript:window.__pwned=1`
)

// openPolicy lets an operator (who holds the token) do anything: the browser suite tests the dashboard,
// not the policy.
type openPolicy struct{}

func (openPolicy) For(string) policy.RepoPolicy     { return policy.RepoPolicy{} }
func (openPolicy) SlackLogin(string) (string, bool) { return "", false }

// idleRuns accepts nothing: no action in the suite starts a run.
type idleRuns struct{}

func (idleRuns) Accept(context.Context, event.Event) (event.Receipt, error) {
	return event.Receipt{}, fmt.Errorf("the browser suite starts no runs")
}
func (idleRuns) Wake(context.Context, int64) error { return nil }

// storeApprovals shows the store's approvals, as the server does.
type storeApprovals struct{ st *store.Store }

func (a storeApprovals) Approvals(ctx context.Context) ([]web.ApprovalView, error) {
	list, err := a.st.Approvals(ctx, store.ApprovalFilter{Limit: 100})
	if err != nil {
		return nil, err
	}
	var out []web.ApprovalView
	for _, x := range list {
		v := web.ApprovalView{RunID: x.RunID, Repo: x.Repo, Env: x.Env, State: x.State, Summary: x.Summary, Why: x.Why,
			RequestedAt: x.Requested.Format(time.RFC3339), Expires: x.Expires.Format(time.RFC3339), DecidedBy: x.DecidedBy,
			Channel: x.Channel, Reason: x.Reason}
		if !x.Decided.IsZero() {
			v.DecidedAt = x.Decided.Format(time.RFC3339)
		}
		out = append(out, v)
	}
	return out, nil
}

// fixture is what the node suite is told about the seeded data.
type browserFixture struct {
	URL        string   `json:"url"`
	Token      string   `json:"token"`
	Control    string   `json:"control"`
	LiveRun    int64    `json:"liveRun"`
	LiveStage  int64    `json:"liveStage"`
	LiveLines  int      `json:"liveLines"`
	HostileRun int64    `json:"hostileRun"`
	PlanRun    int64    `json:"planRun"`
	LockRepo   string   `json:"lockRepo"`
	LockEnv    string   `json:"lockEnv"`
	Payloads   []string `json:"payloads"`
	OutDir     string   `json:"outDir"`
}

func TestBrowserDashboard(t *testing.T) {
	ctx := context.Background()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	suite := filepath.Join(root, "tests", "dashboard")
	if _, err := os.Stat(filepath.Join(suite, "node_modules", "playwright-core")); err != nil {
		t.Fatalf("playwright-core is not installed: run npm ci in %s (make test-dashboard does)", suite)
	}
	st, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const token = "browser-suite-token-0123456789"
	acts := action.NewService(action.Deps{Store: st, Runs: idleRuns{}, Policy: openPolicy{}})
	mux := http.NewServeMux()
	web.Routes(mux, st, nil, web.Options{Token: token, Actions: acts, Approvals: storeApprovals{st: st},
		Isolation: map[string]any{"mode": "sandbox"}})
	srv := serve(t, mux)

	fx := browserFixture{URL: srv, Token: token, LiveLines: 5000, LockRepo: "acme/infra", LockEnv: "dev",
		Payloads: []string{hostileImg, hostileScript, hostileURL}}
	seed(t, st, &fx)

	// The control server lets the suite start the live log once the page follows it.
	var once sync.Once
	logDone := make(chan error, 1)
	control := http.NewServeMux()
	control.HandleFunc("POST /start-log", func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { go func() { logDone <- writeLog(context.Background(), st, fx.LiveStage, fx.LiveLines) }() })
		w.WriteHeader(http.StatusNoContent)
	})
	fx.Control = serve(t, control)
	fx.OutDir = filepath.Join(root, "build", "dashboard-e2e")
	if err := os.MkdirAll(fx.OutDir, 0o755); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(fx)

	tctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	files, err := filepath.Glob(filepath.Join(suite, "*.test.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files in %s", suite)
	}
	cmd := exec.CommandContext(tctx, "node", append([]string{"--test", "--test-reporter=spec", "--test-concurrency=1"}, files...)...)
	cmd.Dir = suite
	cmd.Env = append(os.Environ(), "DASHBOARD_FIXTURE="+string(raw))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("the browser suite failed: %v", err)
	}
	select {
	case err := <-logDone:
		if err != nil {
			t.Errorf("write the live log: %v", err)
		}
	default:
		t.Errorf("the suite never started the live log")
	}
}

// serve serves h on a loopback port with the runner's server timeouts, until the test ends.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// writeLog appends n numbered lines to a running stage in batches over a few seconds, then finishes it.
func writeLog(ctx context.Context, st *store.Store, stage int64, n int) error {
	const batch = 250
	for i := 0; i < n; i += batch {
		lines := make([]string, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			lines = append(lines, fmt.Sprintf("line %05d of the live log", j+1))
		}
		if err := st.AppendLog(ctx, stage, lines); err != nil {
			return err
		}
		time.Sleep(150 * time.Millisecond)
	}
	return st.FinishStage(ctx, stage, store.StageSucceeded, "wrote the live log", nil)
}

// seed records runs of two repositories, a hostile one, a planned one, a running one, deployments, a
// lock and an approval.
func seed(t *testing.T, st *store.Store, fx *browserFixture) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	accept := func(ev event.Event) int64 {
		t.Helper()
		n++
		ev.DeliveryID = fmt.Sprintf("delivery-%d", n)
		if ev.Name == "" {
			ev.Name = "push"
		}
		rec, err := st.Accept(ctx, ev, nil)
		must(err)
		return rec.Run
	}
	finish := func(id int64, status string, envs []string, stages ...store.StageKey) []store.Stage {
		t.Helper()
		_, err := st.StartRun(ctx, id)
		must(err)
		must(st.SetRunScope(ctx, id, []string{"environments/dev/main.tf"}, envs, nil))
		got, err := st.EnsureStages(ctx, id, stages)
		must(err)
		for _, s := range got {
			must(st.StartStage(ctx, s.ID))
			must(st.AppendLog(ctx, s.ID, []string{"started " + s.Name}))
			must(st.FinishStage(ctx, s.ID, store.StageSucceeded, "", map[string]string{}))
		}
		if status != "" {
			must(st.FinishRun(ctx, id, status, ""))
		}
		return got
	}
	// Older deploys of acme/infra's main, one deployed to dev and prod, and one to another repository.
	sha := func(i int) string { return fmt.Sprintf("%02d%038x", i, i) }
	var deployed int64
	for i := 1; i <= 3; i++ {
		id := accept(event.Event{Kind: event.KindDeploy, Repo: "acme/infra", SHA: sha(i), Ref: "refs/heads/main", DefaultBranch: "main", Sender: "alice"})
		finish(id, store.StatusSucceeded, []string{"dev"}, store.StageKey{Env: "dev", Name: "plan"}, store.StageKey{Env: "dev", Name: "apply"})
		if i == 2 {
			deployed = id
			for _, env := range []string{"dev", "prod"} {
				must(st.RecordDeployment(ctx, store.Deployment{Repo: "acme/infra", Env: env, SHA: sha(i), RunID: id, Outcome: "succeeded",
					Summary: "1 to add, 0 to change, 0 to destroy", BackendImage: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:" + fmt.Sprintf("%064x", i),
					Note: hostileScript}))
			}
		}
	}
	_ = deployed
	other := accept(event.Event{Kind: event.KindDeploy, Repo: "acme/web", SHA: sha(9), Ref: "refs/heads/main", DefaultBranch: "main", Sender: "bob"})
	finish(other, store.StatusFailed, []string{"staging"}, store.StageKey{Env: "staging", Name: "plan"})
	must(st.RecordDeployment(ctx, store.Deployment{Repo: "acme/web", Env: "staging", SHA: sha(9), RunID: other, Outcome: "succeeded"}))

	// A pull request's plan with a summary and replacements.
	fx.PlanRun = accept(event.Event{Name: "pull_request", Action: "synchronize", Kind: event.KindPlan, Repo: "acme/infra", SHA: sha(4),
		Ref: "feature/queue", BaseRef: "main", PR: 42, Author: "carol", Sender: "carol"})
	_, err := st.StartRun(ctx, fx.PlanRun)
	must(err)
	must(st.SetRunScope(ctx, fx.PlanRun, []string{"environments/dev/queue.tf"}, []string{"dev"}, nil))
	stages, err := st.EnsureStages(ctx, fx.PlanRun, []store.StageKey{{Name: "checkout"}, {Env: "dev", Name: "plan"}})
	must(err)
	for _, s := range stages {
		must(st.StartStage(ctx, s.ID))
		must(st.AppendLog(ctx, s.ID, []string{"running " + s.Name}))
		out := map[string]string{}
		if s.Name == "plan" {
			out["summary"] = "2 to add, 1 to change, 1 to destroy, 1 to replace"
			out["fingerprint"] = `[{"address":"aws_sqs_queue.jobs","actions":"delete,create"},{"address":"aws_s3_bucket.logs","actions":"create"}]`
		}
		must(st.FinishStage(ctx, s.ID, store.StageSucceeded, out["summary"], out))
	}
	must(st.FinishRun(ctx, fx.PlanRun, store.StatusSucceeded, ""))

	// A hostile pull request: markup and script in everything its author writes.
	fx.HostileRun = accept(event.Event{Name: "issue_comment", Kind: event.KindComment, Repo: "acme/infra", SHA: sha(5),
		Ref: "fix/" + hostileImg, BaseRef: "main", PR: 43, Author: "mallory", Sender: "mallory",
		Comment: "commit message: " + hostileScript + " see " + hostileURL})
	_, err = st.StartRun(ctx, fx.HostileRun)
	must(err)
	must(st.SetRunScope(ctx, fx.HostileRun, []string{"environments/dev/" + hostileImg + ".tf", hostileURL}, []string{"dev"}, nil))
	stages, err = st.EnsureStages(ctx, fx.HostileRun, []store.StageKey{{Env: "dev", Name: "plan"}})
	must(err)
	must(st.StartStage(ctx, stages[0].ID))
	must(st.AppendLog(ctx, stages[0].ID, []string{"# module." + hostileScript + " will be created", "  + url = \"" + hostileURL + "\"", hostileImg}))
	must(st.FinishStage(ctx, stages[0].ID, store.StageFailed, "plan failed: "+hostileImg, map[string]string{
		"summary":     "1 to add, 0 to change, 0 to destroy, 1 to replace",
		"fingerprint": `[{"address":"aws_instance.x[\"` + jsonEscape(hostileScript) + `\"]","actions":"delete,create"}]`,
		"review":      hostileURL,
	}))
	must(st.FinishRun(ctx, fx.HostileRun, store.StatusFailed, "plan failed: "+hostileScript))

	// A deploy of main that is not deployed yet: /environments shows it ahead of dev and prod.
	ahead := accept(event.Event{Kind: event.KindDeploy, Repo: "acme/infra", SHA: sha(6), Ref: "refs/heads/main", DefaultBranch: "main", Sender: "alice"})
	finish(ahead, store.StatusFailed, []string{"dev"}, store.StageKey{Env: "dev", Name: "plan"})

	// The run whose log the suite follows: its apply stage is running and writes when told.
	fx.LiveRun = accept(event.Event{Kind: event.KindDeploy, Repo: "acme/infra", SHA: sha(7), Ref: "refs/heads/main", DefaultBranch: "main", Sender: "alice"})
	_, err = st.StartRun(ctx, fx.LiveRun)
	must(err)
	stages, err = st.EnsureStages(ctx, fx.LiveRun, []store.StageKey{{Env: "dev", Name: "apply"}})
	must(err)
	fx.LiveStage = stages[0].ID
	must(st.StartStage(ctx, fx.LiveStage))

	// A lock and a waiting approval.
	ok, _, err := st.TryLock(ctx, fx.LockRepo, fx.LockEnv, fmt.Sprintf("run-%d", fx.LiveRun), fx.LiveRun, time.Hour)
	must(err)
	if !ok {
		t.Fatal("the fixture lock was not taken")
	}
	_, err = st.RequestApproval(ctx, store.Approval{RunID: ahead, Repo: "acme/infra", Env: "prod", SHA: sha(6), Ref: "refs/heads/main",
		State: store.ApprovalWaiting, Why: "prod requires approval", Summary: "1 to add, 0 to change, 0 to destroy",
		Requested: time.Now(), Expires: time.Now().Add(time.Hour)})
	must(err)
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
