package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/sandbox"
	"github.com/gitops-runner/runner/internal/server"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/testenv/gitserver"
	"github.com/gitops-runner/runner/internal/tf"
)

const (
	webhookSecret = "bench-webhook-secret-0123456789"
	gitToken      = "ghs_benchtoken0123456789"
	repoName      = "acme/platform"
)

// origin is the sample repository behind a real git server (git http-backend)
// and a GitHub API stand-in for statuses and comments.
type origin struct {
	state string // the environments' local state, outside the repository
	repo  *fixture.Repo
	git   *gitserver.Server
	gh    *fakegithub.Server
}

// newOrigin creates the fixture repository; extra files, when given, are
// committed on main on top of it (before anything is served).
func newOrigin(b *testing.B, opts fixture.Options, extra map[string]string) *origin {
	b.Helper()
	dir := b.TempDir()
	if opts.StateDir == "" {
		opts.StateDir = filepath.Join(dir, "state")
	}
	repo, err := fixture.Create(filepath.Join(dir, "repo"), repoName, opts)
	if err != nil {
		b.Fatal(err)
	}
	if len(extra) > 0 {
		if err := repo.WriteFiles(extra); err != nil {
			b.Fatal(err)
		}
		if _, err := repo.Commit("Benchmark load"); err != nil {
			b.Fatal(err)
		}
		if err := repo.Push("main"); err != nil {
			b.Fatal(err)
		}
	}
	gs, err := gitserver.Start(filepath.Join(dir, "repo", "remote"), gitToken)
	if err != nil {
		b.Skipf("git http server not available: %v", err)
	}
	b.Cleanup(gs.Close)
	gh := fakegithub.New(fakegithub.Config{Tokens: []string{gitToken}})
	gh.SetCollaborator(repoName, benchAuthor, fakegithub.Collaborator{Role: "write"})
	b.Cleanup(gh.Close)
	return &origin{state: opts.StateDir, repo: repo, git: gs, gh: gh}
}

// openPR commits files on a new branch from main, pushes it and returns to main.
func (o *origin) openPR(b *testing.B, branch string, files map[string]string) (base, head string) {
	b.Helper()
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(o.repo.Checkout("main"))
	base, err := o.repo.Head()
	must(err)
	must(o.repo.Branch(branch))
	must(o.repo.WriteFiles(files))
	head, err = o.repo.Commit("change " + branch)
	must(err)
	must(o.repo.Push(branch))
	must(o.repo.Checkout("main"))
	return base, head
}

// terraformBin finds Terraform as the server tests do and points
// TF_CLI_CONFIG_FILE at a file written here (the machine's points nowhere).
func terraformBin(b *testing.B) (string, error) {
	b.Helper()
	cli := filepath.Join(b.TempDir(), "terraformrc")
	if err := os.WriteFile(cli, []byte("disable_checkpoint = true\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Setenv("TF_CLI_CONFIG_FILE", cli)
	return tf.FindBinary(os.Getenv("RUNNER_TERRAFORM_BIN"), exec.LookPath)
}

// baseConfig is a runner on 127.0.0.1 that clones from o and reports to its GitHub stand-in.
func baseConfig(b *testing.B, o *origin, bin string) config.Server {
	data := b.TempDir()
	// The runner's Terraform gets an explicit environment: the schema-replay provider's settings are
	// passed on by name, and its schema file is shown to the sandbox.
	tfEnv := map[string]string{}
	var readOnly []string
	for _, k := range []string{"AWS_REPLAY_SCHEMA", "AWS_REPLAY_READ_LATENCY"} {
		if v := os.Getenv(k); v != "" {
			tfEnv[k] = v
			if filepath.IsAbs(v) {
				readOnly = append(readOnly, v)
			}
		}
	}
	return config.Server{
		TerraformCLIConfig: os.Getenv("TF_CLI_CONFIG_FILE"), TerraformEnv: tfEnv, Sandbox: "auto", SandboxLauncher: sandboxLauncher(b),
		SandboxReadWrite: nonEmpty(o.state), SandboxReadOnly: readOnly, UnsafeUnisolatedPlans: true,
		Listen: "127.0.0.1:0", WebhookSecret: webhookSecret, DataDir: data, AllowedRepos: []string{"acme/*"},
		Workers: 4, PlanParallelism: 3, StageTimeout: 3 * time.Minute, ShutdownGrace: 5 * time.Second,
		LockLease: 30 * time.Second, GitHubToken: gitToken, GitHubAPIURL: o.gh.URL(),
		TerraformBin: bin, PluginCacheDir: filepath.Join(data, "plugin-cache"), PublicURL: "http://runner.test",
		AWSRegion: "us-east-1", RolloutPoll: time.Second, LogLevel: "info",
	}
}

// sandboxLauncher builds cmd/runner-sandbox, the launcher a runner installed by `make build` or its
// image uses (beside its executable), so that sandboxed commands start as they do in production and
// not through this benchmark's test binary.
func sandboxLauncher(b *testing.B) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), sandbox.LauncherName)
	if o, err := exec.Command("go", "build", "-o", out, "github.com/gitops-runner/runner/cmd/runner-sandbox").CombinedOutput(); err != nil {
		b.Fatalf("go build cmd/runner-sandbox: %v\n%s", err, o)
	}
	return out
}

// runner is `runner serve` in-process: server.New + Run, logging (formatted, as
// in production) to io.Discard.
type runner struct {
	srv    *server.Server
	cfg    config.Server
	base   string
	cancel context.CancelFunc
	done   chan error
	spans  *spanLog // BENCH_SPANS=1
}

func startRunner(b *testing.B, cfg config.Server) *runner {
	b.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	spans := newSpanLog()
	var collab server.Collaborators
	if spans != nil {
		collab.TracerProvider = spans.tp
	}
	srv, err := server.New(context.Background(), cfg, log, collab)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{srv: srv, cfg: cfg, base: "http://" + srv.Addr(), cancel: cancel, done: make(chan error, 1), spans: spans}
	go func() { r.done <- srv.Run(ctx) }()
	b.Cleanup(func() { r.stop(b) })
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(r.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("runner not ready after 15s (last error %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop cancels Run and waits for the graceful shutdown; it is safe to call twice.
func (r *runner) stop(b *testing.B) time.Duration {
	if r.cancel == nil {
		return 0
	}
	start := time.Now()
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			b.Errorf("runner stopped with %v", err)
		}
	case <-time.After(r.cfg.ShutdownGrace + 30*time.Second):
		b.Errorf("runner did not stop within %s", r.cfg.ShutdownGrace+30*time.Second)
	}
	return time.Since(start)
}

// delivery is one signed webhook, ready to send.
type delivery struct {
	id, event, sig string
	body           []byte
}

func newDelivery(id, event string, payload map[string]any) delivery {
	body, err := json.Marshal(payload)
	if err != nil {
		panic(err) // maps of JSON values always marshal
	}
	mac := hmac.New(sha256.New, []byte(webhookSecret))
	mac.Write(body)
	return delivery{id: id, event: event, body: body, sig: "sha256=" + hex.EncodeToString(mac.Sum(nil))}
}

func (d delivery) request(ctx context.Context, base string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/github", bytes.NewReader(d.body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/bench")
	req.Header.Set("X-GitHub-Event", d.event)
	req.Header.Set("X-GitHub-Delivery", d.id)
	req.Header.Set("X-Hub-Signature-256", d.sig)
	return req, nil
}

// hookReply is the webhook handler's JSON answer.
type hookReply struct {
	Run       int64  `json:"run"`
	Duplicate bool   `json:"duplicate"`
	Error     string `json:"error"`
}

// send posts d and decodes the answer.
func send(ctx context.Context, c *http.Client, base string, d delivery) (int, hookReply, error) {
	req, err := d.request(ctx, base)
	if err != nil {
		return 0, hookReply{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, hookReply{}, err
	}
	defer resp.Body.Close()
	var out hookReply
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, out, err
	}
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, nil
}

// realPayload loads one of the real GitHub payloads from ../shared (realistic
// size and shape); ok is false when they are not beside the repository.
func realPayload(name string) (map[string]any, bool) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "shared", "testdata", "github-webhooks", name))
	if err != nil {
		return nil, false
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	return m, true
}

func (o *origin) pointRepo(m map[string]any) {
	r, _ := m["repository"].(map[string]any)
	if r == nil {
		r = map[string]any{}
		m["repository"] = r
	}
	r["full_name"], r["name"], r["clone_url"], r["default_branch"] = repoName, "platform", o.git.URL(repoName), "main"
	if _, ok := m["sender"]; !ok {
		m["sender"] = map[string]any{"login": "dana"}
	}
}

// pushPayload is a branch push (the real payload's shape when available).
func (o *origin) pushPayload(ref, before, after string) map[string]any {
	m, ok := realPayload("push.with-new-branch.json")
	if !ok {
		m = map[string]any{}
	}
	o.pointRepo(m)
	m["ref"], m["before"], m["after"], m["created"] = ref, before, after, before == fixture.ZeroSHA
	if hc, ok := m["head_commit"].(map[string]any); ok {
		hc["id"] = after
	}
	return m
}

// prPayload is a pull_request event against main (the real payload's shape when available).
func (o *origin) prPayload(action string, number int, head, base, headRef string) map[string]any {
	m, ok := realPayload("pull_request.opened.json")
	if !ok {
		m = map[string]any{"pull_request": map[string]any{"head": map[string]any{}, "base": map[string]any{}}}
	}
	o.pointRepo(m)
	m["action"], m["number"] = action, number
	pr := m["pull_request"].(map[string]any)
	pr["number"] = number
	pr["head"].(map[string]any)["sha"], pr["head"].(map[string]any)["ref"] = head, headRef
	pr["base"].(map[string]any)["sha"], pr["base"].(map[string]any)["ref"] = base, "main"
	// The branch is in the repository itself (not a fork), opened by someone who may write to it.
	for _, side := range []string{"head", "base"} {
		pr[side].(map[string]any)["repo"] = map[string]any{"full_name": repoName, "name": "platform"}
	}
	pr["user"] = map[string]any{"login": benchAuthor}
	return m
}

// pingPayload is the ping GitHub sends when a hook is created.
func (o *origin) pingPayload() map[string]any {
	m, ok := realPayload("ping.json")
	if !ok {
		m = map[string]any{"zen": "Keep it logically awesome.", "hook_id": 1}
	}
	o.pointRepo(m)
	return m
}

// getRun reads a run through the API.
func getRun(ctx context.Context, c *http.Client, base string, id int64) (store.Run, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/runs/%d?tail=20", base, id), nil)
	if err != nil {
		return store.Run{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return store.Run{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return store.Run{}, fmt.Errorf("GET run %d: status %d", id, resp.StatusCode)
	}
	var run store.Run
	return run, json.NewDecoder(resp.Body).Decode(&run)
}

// percentile is the nearest-rank q-quantile of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	return strings.TrimSpace(string(b))
}

// report logs a line of the benchmark's report and also prints it to stdout:
// the testing package keeps only the first 10 lines of a benchmark's log.
func report(b *testing.B, format string, args ...any) {
	b.Helper()
	s := fmt.Sprintf(format, args...)
	b.Log(s)
	fmt.Fprintf(os.Stdout, "%s: %s\n", b.Name(), s)
}

// benchAuthor opens the benchmarks' pull requests; the fake GitHub lets them write.
const benchAuthor = "dana"

func nonEmpty(paths ...string) []string {
	var out []string
	for _, p := range paths {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}
