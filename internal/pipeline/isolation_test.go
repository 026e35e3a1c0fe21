package pipeline

import (
	"context"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
)

// Without isolation a pull request is not planned: no Terraform runs, the pull request is told why
// and which setting would change it. With the operator's explicit consent it is planned, and the
// comment says it ran unisolated.
func TestUnisolatedPullRequestPlans(t *testing.T) {
	for _, tt := range []struct {
		name      string
		iso       Isolation
		wantPlans int
		wantRun   string
		wantText  string
	}{
		{"refused", Isolation{Describe: "the runner is not root"}, 0, store.StatusFailed, "RUNNER_UNSAFE_UNISOLATED_PLANS"},
		{"allowed by the operator", Isolation{Describe: "the runner is not root", AllowUnisolated: true}, 1, store.StatusSucceeded, "without isolation"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, func(o *Options) { o.Isolation = tt.iso }, nil)
			base, err := h.repo.Head()
			if err != nil {
				t.Fatal(err)
			}
			head := h.commit("feature", map[string]string{"environments/dev/a.tf": tfFile("a")})
			id := h.pullRequest(7, head, base, "feature")
			if err := h.e.Execute(context.Background(), id); err != nil {
				t.Fatal(err)
			}
			plans, _ := h.tf.calls()
			if len(plans) != tt.wantPlans {
				t.Fatalf("terraform plans = %v, want %d", plans, tt.wantPlans)
			}
			r := h.run(id)
			if r.Status != tt.wantRun {
				t.Fatalf("run %s (%s), want %s", r.Status, r.Error, tt.wantRun)
			}
			h.prs.mu.Lock()
			comments := strings.Join(h.prs.comments, "\n")
			h.prs.mu.Unlock()
			if !strings.Contains(comments, tt.wantText) {
				t.Errorf("comments %q lack %q", comments, tt.wantText)
			}
		})
	}
}
