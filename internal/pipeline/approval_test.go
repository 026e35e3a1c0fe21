package pipeline

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/policy"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
)

// testPolicy requires approval on prod.
type testPolicy struct{ p *policy.Policy }

func (t testPolicy) MayPlan(context.Context, event.Event) (policy.Decision, error) {
	return policy.Decision{Allowed: true}, nil
}
func (t testPolicy) For(repo string) policy.RepoPolicy { return t.p.For(repo) }

func approvalHarness(t testing.TB, tune ...func(*Options)) *harness {
	t.Helper()
	p, err := policy.Parse([]byte("repos:\n  - match: [\"acme/*\"]\n    environments:\n      - name: prod\n        require_approval: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, fixture.Options{Environments: []string{"dev", "prod"}, NoApps: true}, func(o *Options) {
		for _, f := range tune {
			f(o)
		}
	}, nil)
	h.deps.Policy = testPolicy{p: p}
	h.with(func(*Deps) {})
	return h
}

// executeWaiting executes a run that must stop to wait for a decision on prod, and returns prod's request.
func executeWaiting(t *testing.T, h *harness, id int64) store.Approval {
	t.Helper()
	var waiting *WaitingError
	if err := h.e.Execute(context.Background(), id); !errors.As(err, &waiting) {
		r := h.run(id)
		t.Fatalf("execute = %v, want the run to wait (run %s: %s)", err, r.Status, r.Error)
	}
	if s := h.stage(id, "prod", StageApproval); s.Status != store.StageWaiting {
		t.Fatalf("approval stage %s", s.Status)
	}
	a, err := h.st.CurrentApproval(context.Background(), id, "prod")
	if err != nil || a.State != store.ApprovalWaiting {
		t.Fatalf("approval = %+v, %v", a, err)
	}
	return a
}

func approve(t *testing.T, h *harness, a store.Approval) {
	t.Helper()
	if _, err := h.st.DecideApproval(context.Background(), a.ID, store.ApprovalApproved, "alice", "comment", ""); err != nil {
		t.Fatal(err)
	}
}

func prodPlans(h *harness) int {
	plans, _ := h.tf.calls()
	n := 0
	for _, p := range plans {
		if p == "prod" {
			n++
		}
	}
	return n
}

// While prod waits the run does nothing (no plan, no checkout) and holds no lock; once approved it applies
// the saved plan it showed without planning again.
func TestApprovedPlanIsAppliedAsSaved(t *testing.T) {
	h := approvalHarness(t)
	initial, _ := h.repo.Head()
	id := h.push(initial, fixture.ZeroSHA)
	a := executeWaiting(t, h, id)
	if locks, _ := h.st.Locks(context.Background()); len(locks) != 0 {
		t.Fatalf("locks held while waiting: %+v", locks)
	}
	// Woken before a decision: it waits again at once, without work.
	var waiting *WaitingError
	if err := h.e.Execute(context.Background(), id); !errors.As(err, &waiting) || prodPlans(h) != 1 {
		t.Fatalf("execute = %v, prod planned %d times", err, prodPlans(h))
	}
	approve(t, h, a)
	if err := h.e.Execute(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if r := h.run(id); r.Status != store.StatusSucceeded {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
	if n := prodPlans(h); n != 1 {
		t.Fatalf("prod planned %d times; the approved plan must be applied as saved", n)
	}
	_, applies := h.tf.calls()
	if len(applies) != 2 {
		t.Fatalf("applies = %v", applies)
	}
}

// An approved plan is not applied when the environment was deployed after it was made, or when the saved
// file is not the one approved: the runner plans again and asks again.
func TestApprovedPlanIsPlannedAgainWhenTheEnvironmentChanged(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, h *harness, id int64)
	}{
		{"deployed meanwhile", func(t *testing.T, h *harness, id int64) {
			if err := h.st.RecordDeployment(context.Background(), store.Deployment{Repo: testRepo, Env: "prod", SHA: "elsewhere", RunID: 999, Outcome: "succeeded"}); err != nil {
				t.Fatal(err)
			}
		}},
		{"a failed deploy meanwhile (its apply may have changed the state)", func(t *testing.T, h *harness, id int64) {
			if err := h.st.RecordDeployment(context.Background(), store.Deployment{Repo: testRepo, Env: "prod", SHA: "elsewhere", RunID: 999, Outcome: "failed"}); err != nil {
				t.Fatal(err)
			}
		}},
		{"plan file changed", func(t *testing.T, h *harness, id int64) {
			w := &work{dir: h.e.runDir(id)}
			if err := os.WriteFile(w.planFile("prod"), []byte("tampered"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := approvalHarness(t)
			initial, _ := h.repo.Head()
			id := h.push(initial, fixture.ZeroSHA)
			first := executeWaiting(t, h, id)
			approve(t, h, first)
			tc.change(t, h, id)
			second := executeWaiting(t, h, id)
			if second.ID == first.ID || second.PlanSHA256 == first.PlanSHA256 || prodPlans(h) != 2 {
				t.Fatalf("second request %+v after %+v; prod planned %d times", second, first, prodPlans(h))
			}
			if _, applies := h.tf.calls(); len(applies) != 1 { // dev only
				t.Fatalf("applies = %v", applies)
			}
			approve(t, h, second)
			if err := h.e.Execute(context.Background(), id); err != nil {
				t.Fatal(err)
			}
			if r := h.run(id); r.Status != store.StatusSucceeded {
				t.Fatalf("run %s: %s", r.Status, r.Error)
			}
		})
	}
}

// A wait that nobody decides expires: the deploy of prod ends failed, and says why.
func TestApprovalExpiry(t *testing.T) {
	h := approvalHarness(t, func(o *Options) { o.ApprovalTimeout = 50 * time.Millisecond })
	initial, _ := h.repo.Head()
	id := h.push(initial, fixture.ZeroSHA)
	executeWaiting(t, h, id)
	time.Sleep(60 * time.Millisecond)
	if err := h.e.Execute(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	r := h.run(id)
	if r.Status != store.StatusFailed || h.stage(id, "prod", StageApply).Status != store.StageSkipped {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
	if s := h.stage(id, "prod", StageApproval); s.Status != store.StageFailed || s.Detail == "" {
		t.Fatalf("approval stage %s: %s", s.Status, s.Detail)
	}
}

func TestExternalIDs(t *testing.T) {
	for _, tc := range []struct {
		in       string
		run      int64
		env      string
		approval int64
		ok       bool
	}{
		{externalID(12, "prod", 0), 12, "prod", 0, true},
		{externalID(12, "prod", 7), 12, "prod", 7, true},
		{"run:x:env:prod", 0, "", 0, false},
		{"run:1:env:", 0, "", 0, false},
		{"run:1:env:prod:approval:-1", 0, "", 0, false},
		{"other", 0, "", 0, false},
	} {
		run, env, approval, ok := parseExternalID(tc.in)
		if ok != tc.ok || run != tc.run || env != tc.env || approval != tc.approval {
			t.Errorf("%q = %d %q %d %v", tc.in, run, env, approval, ok)
		}
	}
}

// BenchmarkWakeWhileAwaitingApproval measures what a waiting deploy costs each time it is woken without a
// decision (the poll, or a spurious wake), against one full execution of the same run up to its wait:
// the waiting run reads its approval and goes back to sleep, with no checkout, plan or lock.
func BenchmarkWakeWhileAwaitingApproval(b *testing.B) {
	h := approvalHarness(b)
	initial, _ := h.repo.Head()
	ctx := context.Background()
	b.Run("full execution to the wait", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			id := h.push(initial, fixture.ZeroSHA)
			var waiting *WaitingError
			if err := h.e.Execute(ctx, id); !errors.As(err, &waiting) {
				b.Fatalf("execute = %v", err)
			}
		}
	})
	id := h.push(initial, fixture.ZeroSHA)
	_ = h.e.Execute(ctx, id)
	b.Run("wake while waiting", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var waiting *WaitingError
			if err := h.e.Execute(ctx, id); !errors.As(err, &waiting) {
				b.Fatalf("execute = %v", err)
			}
		}
	})
}
