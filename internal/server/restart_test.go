//go:build e2e

package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
)

// built is the runner binary, built once per test binary run (each build takes a minute here).
var built struct {
	once sync.Once
	bin  string
	err  error
}

// runnerBinary builds cmd/runner once per test binary run, into a directory of its own under the
// system's temporary directory (it outlives the first test that asks for it).
func runnerBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "runner-e2e-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.bin = filepath.Join(dir, "runner")
		cmd := exec.Command("go", "build", "-o", built.bin, "../../cmd/runner")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("build runner: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startProcess runs `runner serve` as a child process with the harness configuration.
func (h *harness) startProcess(bin, addr string, logf *os.File, extraEnv ...string) *exec.Cmd {
	h.t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"RUNNER_LISTEN="+addr, "RUNNER_WEBHOOK_SECRET="+testSecret, "RUNNER_DATA_DIR="+h.cfg.DataDir,
		"RUNNER_ALLOWED_REPOS=acme/*", "GITHUB_TOKEN="+gitToken, "RUNNER_TERRAFORM_BIN="+h.cfg.TerraformBin,
		"TF_PLUGIN_CACHE_DIR="+h.cfg.PluginCacheDir, "RUNNER_LOCK_LEASE=5s", "RUNNER_WORKERS=2",
		"RUNNER_AWS_ENDPOINT=http://127.0.0.1:1", "RUNNER_GITHUB_API_URL="+h.cfg.GitHubAPIURL, "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x",
		"RUNNER_SANDBOX_READ_WRITE="+strings.Join(h.cfg.SandboxReadWrite, ","))
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	// A test that fails half way must not leave a runner behind.
	h.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	h.base = "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(h.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("runner did not become ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill -9 the runner while an apply is running; after a restart the accepted
// delivery still gets exactly one run, carried to success, and each environment
// is recorded deployed exactly once.
func TestKilledRunnerResumesRunExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds the runner and runs Terraform")
	}
	bin := runnerBinary(t)
	h := newRepoHarness(t, fixture.Options{Environments: []string{"dev", "prod"}, ApplyDelay: 3 * time.Second, NoApps: true}, nil)
	logf, err := os.Create(filepath.Join(t.TempDir(), "runner.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("runner log:\n%s", b)
		}
	}()
	addr := freeAddr(t)
	first := h.startProcess(bin, addr, logf)
	sha, _ := h.repo.Head()
	id := h.accept("push", h.pushPayload("0000000000000000000000000000000000000000", sha))

	// Wait until an apply is in flight, then kill -9.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		run := h.getRun(id)
		if st := stageMap(run)["dev/apply"]; st.Status == store.StageRunning {
			break
		}
		if store.Finished(run.Status) || time.Now().After(deadline) {
			dumpRun(t, run)
			t.Fatalf("never saw dev/apply running (run %s)", run.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()

	second := h.startProcess(bin, addr, logf)
	defer func() {
		_ = second.Process.Signal(syscall.SIGTERM)
		_ = second.Wait()
	}()
	run := h.waitRun(id, 3*time.Minute)
	if run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("resumed run finished %s: %s", run.Status, run.Error)
	}
	if run.Attempts != 2 {
		t.Fatalf("run attempts = %d, want 2 (killed once, resumed once)", run.Attempts)
	}
	// Stop the runner to read its store.
	_ = second.Process.Signal(syscall.SIGTERM)
	_ = second.Wait()
	st, err := store.OpenSQLite(context.Background(), h.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, _ := st.CountRuns(context.Background()); n != 1 {
		t.Fatalf("%d runs stored, want 1", n)
	}
	deps, err := st.Deployments(context.Background(), repoName, 10)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, d := range deps {
		if d.Outcome == "succeeded" {
			count[d.Env]++
		}
	}
	if count["dev"] != 1 || count["prod"] != 1 {
		t.Fatalf("successful deployments per env = %v, want one each", count)
	}
	var jobs int
	if err := st.DB().QueryRow(`SELECT COUNT(*) FROM river_job WHERE state = 'completed'`).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	if jobs != 1 {
		t.Fatalf("%d completed jobs, want 1", jobs)
	}
	log, _ := os.ReadFile(logf.Name())
	if !strings.Contains(string(log), "recovered runs interrupted by a previous process") {
		t.Fatalf("restart did not report the recovered run")
	}
}

// SIGTERM while an apply runs: the runner waits its grace period, then abandons
// the stage safely (no failure recorded) and exits; the next start resumes the
// run and carries it to success.
func TestSIGTERMAbandonsStageSafelyAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds the runner and runs Terraform")
	}
	bin := runnerBinary(t)
	h := newRepoHarness(t, fixture.Options{Environments: []string{"dev"}, ApplyDelay: 8 * time.Second, NoApps: true}, nil)
	logf, err := os.Create(filepath.Join(t.TempDir(), "runner.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("runner log:\n%s", b)
		}
	}()
	addr := freeAddr(t)
	first := h.startProcess(bin, addr, logf, "RUNNER_SHUTDOWN_GRACE=1s")
	sha, _ := h.repo.Head()
	id := h.accept("push", h.pushPayload(fixture.ZeroSHA, sha))
	waitFor(t, func() store.Run { return h.getRun(id) }, func(r store.Run) bool {
		return stageMap(r)["dev/apply"].Status == store.StageRunning
	})
	sent := time.Now()
	if err := first.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("runner exited with %v after SIGTERM, want a clean exit", err)
	}
	if took := time.Since(sent); took > 20*time.Second {
		t.Fatalf("shutdown took %s with a 1s grace period", took)
	}

	st, err := store.OpenSQLite(context.Background(), h.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	run, err := st.Run(context.Background(), id, 5)
	if err != nil {
		t.Fatal(err)
	}
	deps, _ := st.Deployments(context.Background(), repoName, 10)
	st.Close()
	if run.Status != store.StatusRunning || len(deps) != 0 {
		t.Fatalf("after SIGTERM: run %s, %d deployments recorded; want still running and none recorded", run.Status, len(deps))
	}
	if s := stageMap(run)["dev/apply"]; s.Status != store.StagePending {
		t.Fatalf("abandoned apply stage is %s (%s), want pending for a re-run", s.Status, s.Detail)
	}

	second := h.startProcess(bin, addr, logf)
	defer func() {
		_ = second.Process.Signal(syscall.SIGTERM)
		_ = second.Wait()
	}()
	done := h.waitRun(id, 3*time.Minute)
	if done.Status != store.StatusSucceeded || done.Attempts != 2 {
		dumpRun(t, done)
		t.Fatalf("resumed run: %s after %d attempts: %s", done.Status, done.Attempts, done.Error)
	}
}
