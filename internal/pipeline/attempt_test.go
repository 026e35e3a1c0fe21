package pipeline

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/pgroup"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/tf"
)

func TestLeftBy(t *testing.T) {
	start := time.Date(2025, 3, 4, 5, 0, 0, 0, time.UTC)
	resumed := start.Add(10 * time.Minute)
	strong := store.Attempt{Mode: "namespaces", Identity: "rs7a1-0a1b2c3d", Host: "runner-1", Started: start}
	weak := store.Attempt{Mode: "user", Identity: "rs7a1-0a1b2c3d", Host: "runner-1", Started: start}
	at := func(d time.Duration) time.Time { return start.Add(d) }
	tests := []struct {
		name string
		lock tf.LockInfo
		a    store.Attempt
		want bool
	}{
		{"namespaces: the attempt's own host name", tf.LockInfo{Who: "sandbox@rs7a1-0a1b2c3d", Created: at(time.Minute)}, strong, true},
		{"namespaces: any creation time", tf.LockInfo{Who: "sandbox@rs7a1-0a1b2c3d", Created: at(time.Hour)}, strong, true},
		{"namespaces: another attempt of the stage", tf.LockInfo{Who: "sandbox@rs7a2-0a1b2c3d"}, strong, false},
		{"namespaces: the real host is not enough", tf.LockInfo{Who: "root@runner-1", Created: at(time.Minute)}, strong, false},
		{"namespaces: the name inside the user part", tf.LockInfo{Who: "rs7a1-0a1b2c3d@laptop"}, strong, false},
		{"namespaces: no identity recorded", tf.LockInfo{Who: "sandbox@"}, store.Attempt{Mode: "namespaces"}, false},
		{"user: same host during the attempt", tf.LockInfo{Who: "sandbox@runner-1", Created: at(time.Minute)}, weak, true},
		{"user: clock skew tolerated", tf.LockInfo{Who: "x@runner-1", Created: at(-time.Second)}, weak, true},
		{"user: created before the attempt", tf.LockInfo{Who: "x@runner-1", Created: at(-time.Minute)}, weak, false},
		{"user: created after the resume", tf.LockInfo{Who: "x@runner-1", Created: resumed.Add(time.Second)}, weak, false},
		{"user: no creation time", tf.LockInfo{Who: "x@runner-1"}, weak, false},
		{"user: another host", tf.LockInfo{Who: "x@laptop", Created: at(time.Minute)}, weak, false},
		{"none: same rules as user", tf.LockInfo{Who: "root@runner-1", Created: at(time.Minute)}, store.Attempt{Mode: "none", Host: "runner-1", Started: start}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := leftBy(tt.lock, tt.a, resumed); got != tt.want {
				t.Fatalf("leftBy(%+v) = %v, want %v", tt.lock, got, tt.want)
			}
		})
	}
}

// A run resumed after a runner died during its apply: what is left of the dead attempt's process group
// is killed before anything runs (and said in the stage's log), Terraform is told which locks dead
// attempts took, and a release is recorded on the dead attempt.
func TestResumeAfterADeadAttempt(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, func(o *Options) {
		o.Isolation.Mode = "namespaces"
	}, nil)
	initial, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	id := h.push(h.commit("main", map[string]string{"environments/dev/a.tf": tfFile("a")}), initial)
	stages, err := h.st.EnsureStages(ctx, id, []store.StageKey{{Name: StageCheckout}, {Env: "dev", Name: StagePlan}, {Env: "dev", Name: StageApply}})
	if err != nil {
		t.Fatal(err)
	}
	apply := stages[2]
	if err := h.st.StartStage(ctx, apply.ID); err != nil {
		t.Fatal(err)
	}
	// The dead attempt's command: a group with a background child, recorded as the launcher records it.
	host, err := pgroup.ThisHost()
	if err != nil {
		t.Skipf("no host identity here: %v", err)
	}
	records := filepath.Join(t.TempDir(), "rs3a1-00000000")
	cmd := exec.Command("sh", "-c", "sleep 300 & exec sleep 300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _, _ = cmd.Process.Wait() })
	leader, err := pgroup.Of(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(pgroup.Members(leader)) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the dead attempt's group never started its child")
		}
		time.Sleep(10 * time.Millisecond)
	}
	members := pgroup.Members(leader)
	if err := pgroup.Record(records, leader); err != nil {
		t.Fatal(err)
	}
	dead := store.Attempt{StageID: apply.ID, RunID: id, Attempt: 1, Identity: "rs3a1-00000000", Mode: "namespaces",
		Replica: "gone/1", Host: host.Name, BootID: host.Boot, Records: records, Started: time.Now().UTC().Add(-time.Minute)}
	if err := h.st.StartAttempt(ctx, dead); err != nil {
		t.Fatal(err)
	}
	var told []tf.Attempt
	h.tf.onPlan = func(ctx context.Context, req PlanRequest) {
		told = append(told, req.Attempt)
		if req.Attempt.Stale == nil {
			return
		}
		lock := tf.LockInfo{ID: "lock-of-the-dead", Who: "sandbox@rs3a1-00000000"}
		if by := req.Attempt.Stale.LeftBy(lock); by != "attempt 1 of stage dev/apply (replica gone/1 died)" {
			t.Errorf("LeftBy = %q", by)
		}
		if by := req.Attempt.Stale.LeftBy(tf.LockInfo{ID: "x", Who: "dana@laptop"}); by != "" {
			t.Errorf("a stranger's lock taken for the dead attempt's: %q", by)
		}
		req.Attempt.Stale.Released(ctx, lock)
	}
	if err := h.e.Execute(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, _ = cmd.Process.Wait()
	for _, pid := range members {
		if b, err := os.ReadFile("/proc/" + itoa(pid) + "/stat"); err == nil && !strings.Contains(string(b), ") Z") {
			t.Errorf("process %d of the dead attempt is still alive", pid)
		}
	}
	if r := h.run(id); r.Status != store.StatusSucceeded {
		t.Fatalf("resumed run %s: %s", r.Status, r.Error)
	}
	if len(told) != 1 || told[0].Stale == nil || !strings.HasPrefix(told[0].Hostname, "rs") || told[0].Records == "" {
		t.Fatalf("Terraform was told %+v; want this attempt's identity and the dead attempts", told)
	}
	atts, err := h.st.Attempts(ctx, apply.ID)
	if err != nil || len(atts) != 2 || !slices.Equal(atts[0].Released, []string{"lock-of-the-dead"}) || atts[1].Ended.IsZero() {
		t.Fatalf("apply attempts = %+v, %v; want the dead one with its released lock, and an ended second", atts, err)
	}
	lines, err := h.st.Log(ctx, apply.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	for _, l := range lines {
		log = append(log, l.Line)
	}
	if !slices.ContainsFunc(log, func(l string) bool {
		return strings.HasPrefix(l, "killed 2 process(es) left by attempt 1 of this stage (replica gone/1 died)")
	}) {
		t.Fatalf("the apply's log does not say what was killed:\n%s", strings.Join(log, "\n"))
	}
	if open, _ := h.st.OpenAttempts(ctx, id); len(open) != 1 || open[0].Identity != dead.Identity {
		t.Fatalf("open attempts after the resume = %+v; want only the dead one", open)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
