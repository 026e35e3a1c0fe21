//go:build e2e

package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/server"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/testenv/ghwebhook"
	"github.com/gitops-runner/runner/internal/testenv/gitserver"
	"github.com/gitops-runner/runner/internal/tf"
)

const (
	testSecret = "test-webhook-secret-0123456789"
	gitToken   = "ghs_testtoken0123456789"
	repoName   = "acme/platform"
)

// harness is a runner serving on 127.0.0.1 with a sample repository behind a real git server.
type harness struct {
	t      *testing.T
	repo   *fixture.Repo
	git    *gitserver.Server
	srv    *server.Server
	base   string
	cancel context.CancelFunc
	done   chan error
	cfg    config.Server
	gh     *fakegithub.Server // the repository harness's GitHub stand-in (the stack harness has its own)
}

func terraformBin(t *testing.T) string {
	t.Helper()
	bin, err := tf.FindBinary(os.Getenv("RUNNER_TERRAFORM_BIN"), func(n string) (string, error) { return execLookPath(n) })
	if err != nil {
		t.Skipf("terraform not available (%v): .ci/run installs it; set RUNNER_TERRAFORM_BIN", err)
	}
	cli := filepath.Join(t.TempDir(), "terraformrc")
	if err := os.WriteFile(cli, []byte("disable_checkpoint = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", cli)
	return bin
}

func newHarness(t *testing.T, opts fixture.Options, c server.Collaborators, mod func(*config.Server)) *harness {
	t.Helper()
	h := newRepoHarness(t, opts, mod)
	h.start(c)
	return h
}

// newRepoHarness prepares the sample repository, the git server and the
// configuration, without starting a runner.
func newRepoHarness(t *testing.T, opts fixture.Options, mod func(*config.Server)) *harness {
	t.Helper()
	bin := terraformBin(t)
	dir := t.TempDir()
	if opts.StateDir == "" {
		opts.StateDir = filepath.Join(dir, "state")
	}
	repo, err := fixture.Create(filepath.Join(dir, "repo"), repoName, opts)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := gitserver.Start(filepath.Join(dir, "repo", "remote"), gitToken)
	if err != nil {
		t.Skipf("git http server: %v", err)
	}
	t.Cleanup(gs.Close)
	gh := fakegithub.New(fakegithub.Config{Tokens: []string{gitToken}})
	t.Cleanup(gh.Close)
	gh.SetCollaborator(repoName, prAuthor, fakegithub.Collaborator{Role: "write"})
	cfg := config.Server{
		Listen: "127.0.0.1:0", WebhookSecret: testSecret, DataDir: filepath.Join(dir, "data"),
		AllowedRepos: []string{"acme/*"}, Workers: 2, PlanParallelism: 3, StageTimeout: 3 * time.Minute,
		ShutdownGrace: 10 * time.Second, LockLease: 10 * time.Second, GitHubToken: gitToken,
		TerraformBin: bin, PluginCacheDir: filepath.Join(dir, "plugin-cache"), PublicURL: "http://runner.test",
		GitHubAPIURL: gh.URL(), Sandbox: "auto",
		// The fixture's environments keep local state outside the repository.
		SandboxReadWrite: []string{opts.StateDir},
	}
	if mod != nil {
		mod(&cfg)
	}
	return &harness{t: t, repo: repo, git: gs, cfg: cfg, gh: gh}
}

func (h *harness) start(c server.Collaborators) {
	h.t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{h.t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := server.New(context.Background(), h.cfg, log, c)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.srv, h.cancel, h.done = srv, cancel, make(chan error, 1)
	h.base = "http://" + srv.Addr()
	go func() { h.done <- srv.Run(ctx) }()
	h.t.Cleanup(h.stop)
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("server stopped with %v", err)
		}
	case <-time.After(30 * time.Second):
		h.t.Error("server did not stop within 30s")
	}
	h.cancel = nil
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// realPayload loads one of the real GitHub payloads as a map to derive variants from.
func realPayload(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "testdata", "github-webhooks", name))
	if err != nil {
		t.Skipf("real GitHub payloads not available (%v): run with ../shared beside the repository", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (h *harness) pointRepo(m map[string]any) {
	r := m["repository"].(map[string]any)
	r["full_name"] = repoName
	r["name"] = "platform"
	r["clone_url"] = h.git.URL(repoName)
	r["default_branch"] = "main"
}

// prAuthor is who opens the pull requests of the real payload; the harness lets them write.
const prAuthor = "Codertocat"

// prPayload derives a pull_request payload for head/base SHAs from the real one.
func (h *harness) prPayload(action string, number int, head, base, headRef string) map[string]any {
	m := realPayload(h.t, "pull_request.opened.json")
	h.pointRepo(m)
	m["action"] = action
	m["number"] = number
	pr := m["pull_request"].(map[string]any)
	pr["number"] = number
	pr["head"].(map[string]any)["sha"] = head
	pr["head"].(map[string]any)["ref"] = headRef
	pr["base"].(map[string]any)["sha"] = base
	pr["base"].(map[string]any)["ref"] = "main"
	// The branch is in the repository itself, not a fork.
	for _, side := range []string{"head", "base"} {
		if r, ok := pr[side].(map[string]any)["repo"].(map[string]any); ok {
			r["full_name"], r["name"] = repoName, "platform"
		}
	}
	return m
}

// pushPayload derives a branch push payload from the real one.
func (h *harness) pushPayload(before, after string) map[string]any {
	m := realPayload(h.t, "push.with-new-branch.json")
	h.pointRepo(m)
	m["ref"] = "refs/heads/main"
	m["before"] = before
	m["after"] = after
	m["created"] = false
	if hc, ok := m["head_commit"].(map[string]any); ok {
		hc["id"] = after
	}
	return m
}

// send signs and posts a delivery; it returns the runner's reply.
func (h *harness) send(event string, payload map[string]any) ghwebhook.Reply {
	h.t.Helper()
	r, err := (&ghwebhook.Sender{URL: h.base, Secret: testSecret}).Send(context.Background(), event, payload)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// accept sends a delivery that must be accepted and returns its run id.
func (h *harness) accept(event string, payload map[string]any) int64 {
	h.t.Helper()
	r := h.send(event, payload)
	if r.Status != http.StatusAccepted {
		h.t.Fatalf("%s delivery: status %d, reply %+v", event, r.Status, r)
	}
	return r.Run
}

// waitRun polls the API until the run is finished.
func (h *harness) waitRun(id int64, within time.Duration) store.Run {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for {
		run := h.getRun(id)
		if store.Finished(run.Status) {
			return run
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("run %d not finished after %s: %+v", id, within, run)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (h *harness) getRun(id int64) store.Run {
	h.t.Helper()
	resp, err := h.apiGet(fmt.Sprintf("/api/runs/%d?tail=40", id))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var run store.Run
	if err := json.NewDecoder(resp.Body).Decode(&run); err != nil {
		h.t.Fatal(err)
	}
	return run
}

// apiGet reads the API, with the token when the runner has one.
func (h *harness) apiGet(path string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, h.base+path, nil)
	if err != nil {
		return nil, err
	}
	if h.cfg.APIToken != "" {
		req.Header.Set("Authorization", "Bearer "+h.cfg.APIToken)
	}
	return http.DefaultClient.Do(req)
}

func stageMap(run store.Run) map[string]store.Stage {
	m := map[string]store.Stage{}
	for _, s := range run.Stages {
		k := s.Name
		if s.Env != "" {
			k = s.Env + "/" + s.Name
		}
		m[k] = s
	}
	return m
}

func dumpRun(t *testing.T, run store.Run) {
	t.Helper()
	for _, s := range run.Stages {
		t.Logf("stage %s/%s: %s %s", s.Env, s.Name, s.Status, s.Detail)
		for _, l := range s.LogTail {
			t.Logf("    %s", l)
		}
	}
}

// stageLogText is a stage's whole log through the API.
func (h *harness) stageLogText(id int64) string {
	h.t.Helper()
	resp, err := h.apiGet(fmt.Sprintf("/api/stages/%d/log", id))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Lines []store.LogLine `json:"lines"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		h.t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range body.Lines {
		b.WriteString(l.Line + "\n")
	}
	return b.String()
}

// assertNoSecretInLogs reads every stage log of the run through the API and
// fails if a secret shows up in one.
func (h *harness) assertNoSecretInLogs(run store.Run, secrets ...string) {
	h.t.Helper()
	for _, st := range run.Stages {
		resp, err := h.apiGet(fmt.Sprintf("/api/stages/%d/log", st.ID))
		if err != nil {
			h.t.Fatal(err)
		}
		var body struct {
			Lines []store.LogLine `json:"lines"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			h.t.Fatal(err)
		}
		if len(body.Lines) == 0 {
			h.t.Fatalf("stage %s/%s has no log", st.Env, st.Name)
		}
		for _, l := range body.Lines {
			for _, s := range secrets {
				if strings.Contains(l.Line, s) {
					h.t.Fatalf("stage %s/%s log leaks a secret: %q", st.Env, st.Name, l.Line)
				}
			}
		}
	}
}
