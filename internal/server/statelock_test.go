//go:build e2e

package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/testenv/httpbackend"
)

// applySleeps lists the live `sleep` processes of the fixture's apply delay that run in dir's tree: the
// local-exec children of this test's Terraform (not other tests' on the machine).
func applySleeps(dir string) []int {
	var out []int
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		comm, err := os.ReadFile(filepath.Join(p, "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != "sleep" {
			continue
		}
		if st, _ := os.ReadFile(filepath.Join(p, "stat")); strings.Contains(string(st), ") Z") {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join(p, "cwd")); err != nil || !strings.HasPrefix(cwd, dir) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(p))
		out = append(out, pid)
	}
	return out
}

// killedDuringApply starts a runner (sandbox mode want), deploys dev against the http backend and kills
// the runner with SIGKILL while the apply's local-exec sleep runs. It returns the run, the runner's log
// and the lock the dead apply left.
func killedDuringApply(t *testing.T, h *harness, be *httpbackend.Server, want string, logf *os.File) (int64, httpbackend.LockInfo) {
	t.Helper()
	bin := runnerBinary(t)
	addr := freeAddr(t)
	first := h.startProcess(bin, addr, logf, "RUNNER_SANDBOX="+want)
	sha, _ := h.repo.Head()
	id := h.accept("push", h.pushPayload(fixture.ZeroSHA, sha))
	deadline := time.Now().Add(90 * time.Second)
	for {
		run := h.getRun(id)
		if stageMap(run)["dev/apply"].Status == store.StageRunning && len(applySleeps(h.cfg.DataDir)) > 0 {
			break
		}
		if store.Finished(run.Status) || time.Now().After(deadline) {
			dumpRun(t, run)
			t.Fatalf("never saw dev/apply's sleep running (run %s)", run.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	held, ok := be.Lock("dev")
	if !ok {
		t.Fatal("the killed apply's state lock was released: the dead runner's Terraform should have held it")
	}
	return id, held
}

// A runner killed (SIGKILL) during an apply against an http backend leaves the state lock held, and in
// user/none sandbox modes the apply's local-exec child running. The restarted runner kills what is left
// of the dead attempt's process group, force-unlocks exactly the lock the dead attempt took (recognised
// by its holder), applies once more and succeeds; nothing of the dead attempt is left.
func TestKilledApplyLeavesNothingHeld(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds the runner and runs Terraform")
	}
	if os.Geteuid() != 0 {
		t.Skip("the sandbox modes need root (CI runs as root)")
	}
	for _, tt := range []struct {
		name, want string
		orphan     bool // the apply's sleep outlives the killed runner
	}{
		{"namespaces", "namespaces", false},
		{"none", "off", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			began := time.Now()
			be, err := httpbackend.Start()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(be.Close)
			h := newRepoHarness(t, fixture.Options{Environments: []string{"dev"}, ApplyDelay: 8 * time.Second, NoApps: true,
				HTTPBackend: be.URL()}, nil)
			logf, err := os.Create(filepath.Join(t.TempDir(), "runner.log"))
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if t.Failed() {
					b, _ := os.ReadFile(logf.Name())
					t.Logf("runner log:\n%s\nbackend history: %+v", b, be.History())
				}
			}()
			id, held := killedDuringApply(t, h, be, tt.want, logf)
			host, _ := os.Hostname()
			if tt.want == "namespaces" && !strings.HasPrefix(held.Who, "sandbox@rs") {
				t.Fatalf("the dead apply's lock is held by %q, want the attempt's sandbox host name", held.Who)
			} else if tt.want == "off" && !strings.HasSuffix(held.Who, "@"+host) {
				t.Fatalf("the dead apply's lock is held by %q, want this host", held.Who)
			}
			sleeps := applySleeps(h.cfg.DataDir)
			if tt.orphan && len(sleeps) == 0 {
				t.Fatal("no orphaned sleep after the kill: the test shows nothing in this mode")
			}
			if !tt.orphan {
				deadline := time.Now().Add(5 * time.Second)
				for len(applySleeps(h.cfg.DataDir)) > 0 {
					if time.Now().After(deadline) {
						t.Fatalf("sleep %v outlived the sandbox's PID namespace", applySleeps(h.cfg.DataDir))
					}
					time.Sleep(20 * time.Millisecond)
				}
			}

			second := h.startProcess(runnerBinary(t), freeAddr(t), logf, "RUNNER_SANDBOX="+tt.want)
			run := h.waitRun(id, 2*time.Minute)
			_ = second.Process.Signal(syscall.SIGTERM)
			_ = second.Wait()
			if run.Status != store.StatusSucceeded {
				dumpRun(t, run)
				t.Fatalf("resumed run finished %s: %s", run.Status, run.Error)
			}
			for _, pid := range sleeps {
				if syscall.Kill(pid, 0) == nil && len(applySleeps(h.cfg.DataDir)) > 0 {
					t.Fatalf("the dead apply's sleep %d is still running", pid)
				}
			}
			if _, ok := be.Lock("dev"); ok {
				t.Fatal("the state is still locked after the run")
			}
			// The backend saw one forced unlock, of exactly the dead attempt's lock.
			var forced []string
			for _, ev := range be.History() {
				if ev.Forced {
					forced = append(forced, ev.Released)
				}
			}
			if len(forced) != 1 || forced[0] != held.ID {
				t.Fatalf("forced unlocks released %v, want exactly the dead attempt's %s", forced, held.ID)
			}

			st, err := store.OpenSQLite(context.Background(), h.cfg.DataDir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			full, err := st.Run(context.Background(), id, 0)
			if err != nil {
				t.Fatal(err)
			}
			apply := stageMap(full)["dev/apply"]
			atts, err := st.Attempts(context.Background(), apply.ID)
			if err != nil || len(atts) != 2 || len(atts[0].Released) != 1 || atts[0].Released[0] != held.ID || !atts[0].Ended.IsZero() {
				t.Fatalf("apply attempts = %+v, %v; want the dead one (its lock released) and one more", atts, err)
			}
			var logs []string
			for _, s := range full.Stages {
				lines, _ := st.Log(context.Background(), s.ID, 0, 1000)
				for _, l := range lines {
					logs = append(logs, l.Line)
				}
			}
			all := strings.Join(logs, "\n")
			if !strings.Contains(all, "released state lock "+held.ID+" left by attempt 1 of stage dev/apply (replica ") {
				t.Fatalf("no stage log says the lock was released:\n%s", all)
			}
			if tt.orphan && !strings.Contains(all, "left by attempt 1 of this stage") {
				t.Fatalf("no stage log says the orphan was killed:\n%s", all)
			}
			deps, _ := st.Deployments(context.Background(), repoName, 10)
			if len(deps) != 1 || deps[0].Outcome != "succeeded" {
				t.Fatalf("deployments = %+v, want one success", deps)
			}
			t.Logf("%s: %s", tt.name, time.Since(began).Round(time.Second))
		})
	}
}

// A lock the dead attempt did not take (here: a person's, taken after the dead runner's lock was
// released by hand) is never released: the resumed run fails, naming the lock's holder and ID.
func TestResumedRunKeepsAForeignStateLock(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds the runner and runs Terraform")
	}
	if os.Geteuid() != 0 {
		t.Skip("the sandbox modes need root (CI runs as root)")
	}
	be, err := httpbackend.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(be.Close)
	h := newRepoHarness(t, fixture.Options{Environments: []string{"dev"}, ApplyDelay: 8 * time.Second, NoApps: true,
		HTTPBackend: be.URL()}, nil)
	logf, err := os.Create(filepath.Join(t.TempDir(), "runner.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("runner log:\n%s\nbackend history: %+v", b, be.History())
		}
	}()
	id, _ := killedDuringApply(t, h, be, "auto", logf)
	foreign := httpbackend.LockInfo{ID: "dana-lock-7", Who: "dana@laptop", Operation: "OperationTypeApply", Version: "1.5.7",
		Created: time.Now().UTC()}
	be.Hold("dev", foreign)

	second := h.startProcess(runnerBinary(t), freeAddr(t), logf, "RUNNER_TERRAFORM_LOCK_TIMEOUT=3s")
	run := h.waitRun(id, 2*time.Minute)
	_ = second.Process.Signal(syscall.SIGTERM)
	_ = second.Wait()
	if run.Status != store.StatusFailed {
		dumpRun(t, run)
		t.Fatalf("resumed run finished %s, want failed on the foreign lock", run.Status)
	}
	plan := stageMap(run)["dev/plan"]
	if !strings.Contains(plan.Detail, "dana@laptop") || !strings.Contains(plan.Detail, "dana-lock-7") {
		dumpRun(t, run)
		t.Fatalf("the plan's failure does not name the lock's holder and ID: %q", plan.Detail)
	}
	if held, ok := be.Lock("dev"); !ok || held.ID != foreign.ID {
		t.Fatalf("the foreign lock was released (held now: %+v, %v)", held, ok)
	}
	for _, ev := range be.History() {
		if ev.Method == "UNLOCK" && ev.Forced {
			t.Fatalf("a forced unlock was sent: %+v", ev)
		}
	}
}
