//go:build e2e

package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
)

// openPR commits files on a branch and pushes it; it returns base and head.
func openPR(t *testing.T, h *harness, branch string, files map[string]string) (base, head string) {
	t.Helper()
	if err := h.repo.Checkout("main"); err != nil {
		t.Fatal(err)
	}
	base, _ = h.repo.Head()
	if err := h.repo.Branch(branch); err != nil {
		t.Fatal(err)
	}
	return base, commitPush(t, h, branch, files)
}

func commitPush(t *testing.T, h *harness, branch string, files map[string]string) string {
	t.Helper()
	if err := h.repo.WriteFiles(files); err != nil {
		t.Fatal(err)
	}
	sha, err := h.repo.Commit("change " + branch)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.repo.Push(branch); err != nil {
		t.Fatal(err)
	}
	return sha
}

func TestPullRequestPlanCommentsAndStatuses(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	h, st := newStackHarness(t, fixture.Options{})
	base, head := openPR(t, h, "net", map[string]string{"terraform/modules/network/main.tf": fixture.NetworkModuleV2})
	run := h.waitRun(h.accept("pull_request", h.prPayload("opened", 21, head, base, "net")), 3*time.Minute)
	if run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("PR run %s: %s", run.Status, run.Error)
	}
	comments := st.GitHub.Comments(repoName, 21)
	if len(comments) != 3 {
		t.Fatalf("%d comments, want one per environment", len(comments))
	}
	first := map[int64]string{}
	for _, c := range comments {
		first[c.ID] = c.Body
		if !strings.Contains(c.Body, "Terraform plan: `") || !strings.Contains(c.Body, "<details>") {
			t.Fatalf("comment lacks summary or collapsed plan:\n%s", c.Body)
		}
	}
	for _, env := range envs {
		sts := st.GitHub.Statuses(repoName, head)
		var last string
		for _, s := range sts {
			if s.Context == "runner/plan: "+env {
				last = s.State // oldest first: keep the newest
			}
		}
		if last != "success" {
			t.Fatalf("status for %s = %q; all: %+v", env, last, sts)
		}
	}

	// A new push to the PR edits the same comments.
	head2 := commitPush(t, h, "net", map[string]string{"terraform/modules/network/main.tf": strings.Replace(fixture.NetworkModuleV2, ":wide", ":wider", 1)})
	run2 := h.waitRun(h.accept("pull_request", h.prPayload("synchronize", 21, head2, base, "net")), 3*time.Minute)
	if run2.Status != store.StatusSucceeded {
		dumpRun(t, run2)
		t.Fatalf("second PR run %s: %s", run2.Status, run2.Error)
	}
	comments = st.GitHub.Comments(repoName, 21)
	if len(comments) != 3 {
		t.Fatalf("%d comments after the second push, want the same 3 edited", len(comments))
	}
	for _, c := range comments {
		old, ok := first[c.ID]
		if !ok {
			t.Fatalf("comment %d is new; sticky comments must be edited in place", c.ID)
		}
		if old == c.Body || !strings.Contains(c.Body, head2[:12]) {
			t.Fatalf("comment %d was not updated for %s", c.ID, head2[:12])
		}
	}

	// A PR that touches no environment gets no comment.
	base3, head3 := openPR(t, h, "docs", map[string]string{"README.md": "# docs only\n"})
	run3 := h.waitRun(h.accept("pull_request", h.prPayload("opened", 22, head3, base3, "docs")), time.Minute)
	if run3.Status != store.StatusNothing || len(st.GitHub.Comments(repoName, 22)) != 0 || len(st.GitHub.Statuses(repoName, head3)) != 0 {
		t.Fatalf("docs-only PR: status %s, %d comments", run3.Status, len(st.GitHub.Comments(repoName, 22)))
	}
}

const failingResource = `resource "terraform_data" "broken" {
  provisioner "local-exec" {
    command = "echo 'simulated provider error' >&2; exit 1"
  }
}
`

// A failed apply in the first environment skips the ones after it, and the next
// push retries it: each environment diffs from its last successful deploy.
func TestFailedApplyStopsLaterEnvironmentsAndIsRetried(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	h := newHarness(t, fixture.Options{Environments: []string{"dev", "prod"}, NoApps: true}, serverCollaborators(), nil)
	first, _ := h.repo.Head()
	run1 := h.waitRun(h.accept("push", h.pushPayload(fixture.ZeroSHA, first)), 3*time.Minute)
	if run1.Status != store.StatusSucceeded {
		dumpRun(t, run1)
		t.Fatalf("first deploy %s", run1.Status)
	}

	if err := h.repo.Checkout("main"); err != nil {
		t.Fatal(err)
	}
	second := commitPush(t, h, "main", map[string]string{
		"terraform/modules/network/main.tf": fixture.NetworkModuleV2,
		"environments/dev/broken.tf":        failingResource,
	})
	run2 := h.waitRun(h.accept("push", h.pushPayload(first, second)), 3*time.Minute)
	st := stageMap(run2)
	if run2.Status != store.StatusFailed || st["dev/apply"].Status != store.StageFailed {
		dumpRun(t, run2)
		t.Fatalf("broken deploy: run %s, dev apply %s", run2.Status, st["dev/apply"].Status)
	}
	for _, n := range []string{"plan", "apply"} {
		if st["prod/"+n].Status != store.StageSkipped {
			t.Fatalf("prod/%s = %s, want skipped after dev failed", n, st["prod/"+n].Status)
		}
	}

	// The fix touches only dev's broken file; prod still gets the network change
	// it never received, because it diffs from its last successful deploy.
	third := commitPush(t, h, "main", map[string]string{"environments/dev/broken.tf": ""})
	run3 := h.waitRun(h.accept("push", h.pushPayload(second, third)), 3*time.Minute)
	if run3.Status != store.StatusSucceeded || !reflectEqual(run3.Environments, []string{"dev", "prod"}) {
		dumpRun(t, run3)
		t.Fatalf("retry deploy: %s envs %v: %s", run3.Status, run3.Environments, run3.Error)
	}
	if !contains(run3.Changed, "terraform/modules/network/main.tf") {
		t.Fatalf("retry changed files %v should include the network change since the last success", run3.Changed)
	}
}

// A lock left by a dead holder blocks its environment until the lease runs out;
// runs on other environments go ahead meanwhile, even with both workers' runs
// waiting for that lock (a waiting plan gives its worker back); two runs on one
// environment take turns.
func TestEnvironmentLocks(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	h := newHarness(t, fixture.Options{Environments: []string{"dev", "prod"}, NoApps: true}, serverCollaborators(), nil)
	ctx := context.Background()
	ok, _, err := h.srv.Store().TryLock(ctx, repoName, "dev", "run 999 on a crashed host", 999, 15*time.Second)
	if err != nil || !ok {
		t.Fatalf("seed stale lock: %v %v", ok, err)
	}
	base, devHead := openPR(t, h, "dev-change", map[string]string{"environments/dev/extra.tf": "resource \"terraform_data\" \"a\" {\n  input = 1\n}\n"})
	_, devHead2 := openPR(t, h, "dev-change-2", map[string]string{"environments/dev/extra2.tf": "resource \"terraform_data\" \"b\" {\n  input = 2\n}\n"})
	_, prodHead := openPR(t, h, "prod-change", map[string]string{"environments/prod/extra.tf": "resource \"terraform_data\" \"c\" {\n  input = 3\n}\n"})

	// Both dev plans take the two workers and wait for the dead holder's lock...
	ids := []int64{
		h.accept("pull_request", h.prPayload("opened", 40, devHead, base, "dev-change")),
		h.accept("pull_request", h.prPayload("opened", 41, devHead2, base, "dev-change-2")),
	}
	waitFor(t, func() []store.Stage {
		var out []store.Stage
		for _, id := range ids {
			out = append(out, h.getRun(id).Stages...)
		}
		return out
	}, func(stages []store.Stage) bool {
		n := 0
		for _, s := range stages {
			if s.Env == "dev" && s.Status == store.StageWaiting && strings.Contains(s.WaitingFor, "run 999") {
				n++
			}
		}
		return n == 2
	})
	// ... and a prod plan sent now still goes ahead while they wait.
	ids = append(ids, h.accept("pull_request", h.prPayload("opened", 42, prodHead, base, "prod-change")))
	runs := map[int64]store.Run{}
	for _, id := range ids {
		runs[id] = h.waitRun(id, 3*time.Minute)
		if runs[id].Status != store.StatusSucceeded {
			dumpRun(t, runs[id])
			t.Fatalf("run %d: %s %s", id, runs[id].Status, runs[id].Error)
		}
	}
	hist, err := h.srv.Store().LockHistory(ctx, repoName)
	if err != nil {
		t.Fatal(err)
	}
	var ghost store.LockSpan
	var dev, prod []store.LockSpan
	for _, s := range hist {
		switch {
		case s.RunID == 999:
			ghost = s
		case s.Env == "dev":
			dev = append(dev, s)
		case s.Env == "prod":
			prod = append(prod, s)
		}
	}
	if ghost.Reason != "lease expired" {
		t.Fatalf("dead holder's lock: %+v, want released because the lease expired", ghost)
	}
	if len(dev) != 2 || len(prod) != 1 {
		t.Fatalf("lock history dev %v prod %v", dev, prod)
	}
	for _, s := range dev {
		if s.Acquired.Before(ghost.Released) {
			t.Fatalf("dev taken at %s before the dead holder's lease ran out at %s", s.Acquired, ghost.Released)
		}
	}
	if dev[1].Acquired.Before(dev[0].Released) {
		t.Fatalf("two runs held dev at once: %+v", dev)
	}
	// Prod went ahead while dev waited: it took its lock before dev's dead holder's lease ran out (when its
	// plan ends depends on the machine's load, not on dev's lock).
	if !prod[0].Acquired.Before(ghost.Released) {
		t.Fatalf("prod (%+v) waited for dev's lock (released %s)", prod[0], ghost.Released)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// A pull request that breaks .runner.yaml is told so with a commit status.
func TestBrokenRepositoryConfigIsReportedOnThePullRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h, st := newStackHarness(t, fixture.Options{Environments: []string{"dev"}})
	base, head := openPR(t, h, "broken-config", map[string]string{".runner.yaml": "environments:\n  - name: dev\n    dir: environments/dev\n    colour: blue\n"})
	run := h.waitRun(h.accept("pull_request", h.prPayload("opened", 50, head, base, "broken-config")), time.Minute)
	if run.Status != store.StatusFailed || !strings.Contains(run.Error, "colour") {
		t.Fatalf("run %s: %s", run.Status, run.Error)
	}
	sts := st.GitHub.Statuses(repoName, head)
	if len(sts) != 1 || sts[0].Context != "runner/config" || sts[0].State != "failure" || !strings.Contains(sts[0].Description, "colour") {
		t.Fatalf("statuses = %+v", sts)
	}
}

// Deliveries can arrive out of order: the plan of an older head, delivered after
// the newer one, does not overwrite the newer plan's comment.
func TestOutOfOrderPushDoesNotOverwriteNewerPlan(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h, st := newStackHarness(t, fixture.Options{Environments: []string{"dev"}})
	base, older := openPR(t, h, "ooo", map[string]string{"environments/dev/a.tf": "resource \"terraform_data\" \"a\" {\n  input = 1\n}\n"})
	newer := commitPush(t, h, "ooo", map[string]string{"environments/dev/b.tf": "resource \"terraform_data\" \"b\" {\n  input = 2\n}\n"})
	if run := h.waitRun(h.accept("pull_request", h.prPayload("synchronize", 60, newer, base, "ooo")), 2*time.Minute); run.Status != store.StatusSucceeded {
		t.Fatalf("newer plan %s: %s", run.Status, run.Error)
	}
	if run := h.waitRun(h.accept("pull_request", h.prPayload("opened", 60, older, base, "ooo")), 2*time.Minute); run.Status != store.StatusSucceeded {
		t.Fatalf("older plan %s: %s", run.Status, run.Error)
	}
	comments := st.GitHub.Comments(repoName, 60)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, newer[:12]) {
		t.Fatalf("comment should still show the newer head %s: %+v", newer[:12], comments)
	}
}
