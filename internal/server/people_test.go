//go:build e2e

package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/cli"
	"github.com/gitops-runner/runner/internal/config"
	ghnotify "github.com/gitops-runner/runner/internal/notify/github"
	"github.com/gitops-runner/runner/internal/pipeline"
	"github.com/gitops-runner/runner/internal/server"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fakeaws"
	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
	"github.com/gitops-runner/runner/internal/testenv/fakeslack"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/testenv/stack"
)

// People who act in these tests, with their access to the repository.
const (
	maintainer = "maint"  // maintain: may approve, reject, unlock, roll back
	approver   = "carol"  // read access, but one of prod's approvers by name
	reader     = "reader" // read: may do nothing
	apiToken   = "api-token-0123456789abcdef"
	slackKey   = "slack-signing-secret-0123456789"
	slackUser  = "U0MAINT01" // mapped to maintainer by the policy
)

// approvalPolicy requires approval on prod (or, protected, only when the plan differs from the reviewed one).
func approvalPolicy(t *testing.T, prodKey string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "repos.yaml")
	text := `slack_users: {` + slackUser + `: ` + maintainer + `}
repos:
  - match: ["acme/*"]
    distinct_approver: true
    environments:
      - name: prod
        ` + prodKey + `: true
        approvers: {users: [` + approver + `]}
`
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// approvalHarness is a runner with dev and prod (no apps), prod gated by the policy.
func approvalHarness(t *testing.T, prodKey string, mods ...func(*config.Server)) (*harness, *stack.Stack) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	pol := approvalPolicy(t, prodKey)
	all := append([]func(*config.Server){func(c *config.Server) {
		c.ReposConfig = pol
		c.SlackSigningSecret = slackKey
		c.APIToken = apiToken
		c.ApprovalPoll = 500 * time.Millisecond
		c.SlackChannel = "#deploys"
	}}, mods...)
	h, st := newStackHarness(t, fixture.Options{Environments: []string{"dev", "prod"}, NoApps: true}, all...)
	st.GitHub.SetCollaborator(repoName, maintainer, fakegithub.Collaborator{Role: "maintain"})
	st.GitHub.SetCollaborator(repoName, approver, fakegithub.Collaborator{Role: "read"})
	st.GitHub.SetCollaborator(repoName, reader, fakegithub.Collaborator{Role: "read"})
	st.GitHub.SeedRepo(repoName, fakegithub.Repo{CloneURL: h.git.URL(repoName), DefaultBranch: "main"})
	return h, st
}

// mergeToMain commits files on main as the squash merge of pull request pr (authored by prAuthor), pushes
// it and sends the push: the run deploys dev, then prod waits for approval.
func mergeToMain(t *testing.T, h *harness, st *stack.Stack, pr int, files map[string]string) (int64, string) {
	t.Helper()
	if err := h.repo.Checkout("main"); err != nil {
		t.Fatal(err)
	}
	before, _ := h.repo.Head()
	sha := commitPush(t, h, "main", files)
	st.GitHub.SeedPull(repoName, fakegithub.Pull{Number: pr, Title: "change", State: "closed", Merged: true, MergeCommitSHA: sha,
		HeadSHA: sha, BaseRef: "main", HeadRef: fmt.Sprintf("change-%d", pr), User: prAuthor})
	return h.accept("push", h.pushPayload(before, sha)), sha
}

// prodChange changes both environments (through the shared module) so dev deploys and prod waits.
func prodChange(n int) map[string]string {
	return map[string]string{
		"environments/dev/extra.tf":  fmt.Sprintf("resource \"terraform_data\" \"extra\" {\n  input = %d\n}\n", n),
		"environments/prod/extra.tf": fmt.Sprintf("resource \"terraform_data\" \"extra\" {\n  input = %d\n}\n", n),
	}
}

// waitStage polls until a stage has a status.
func (h *harness) waitStage(runID int64, key, status string, within time.Duration) store.Run {
	h.t.Helper()
	deadline := time.Now().Add(within)
	for {
		run := h.getRun(runID)
		if s, ok := stageMap(run)[key]; ok && s.Status == status {
			return run
		}
		if store.Finished(run.Status) || time.Now().After(deadline) {
			dumpRun(h.t, run)
			h.t.Fatalf("run %d (%s: %s): stage %s never became %s", runID, run.Status, run.Error, key, status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// comment posts a comment on pull request pr (in the GitHub stand-in) and sends its issue_comment
// delivery, derived from the real payload; it returns the run and the comment's id.
func (h *harness) comment(st *stack.Stack, pr int, sender, body string) (int64, int64) {
	h.t.Helper()
	m := realPayload(h.t, "issue_comment.created.json")
	h.pointRepo(m)
	id := st.GitHub.SeedComment(repoName, pr, sender, body)
	issue := m["issue"].(map[string]any)
	issue["number"] = pr
	issue["pull_request"] = map[string]any{"url": fmt.Sprintf("https://api.github.com/repos/%s/pulls/%d", repoName, pr)}
	c := m["comment"].(map[string]any)
	c["id"], c["body"] = id, body
	c["user"].(map[string]any)["login"] = sender
	m["sender"].(map[string]any)["login"] = sender
	return h.accept("issue_comment", m), id
}

// replies are the comments on pr that answer commands (not the runner's sticky ones).
func replies(st *stack.Stack, pr int) string {
	var b strings.Builder
	for _, c := range st.GitHub.Comments(repoName, pr) {
		b.WriteString(c.Body + "\n---\n")
	}
	return b.String()
}

func approvalOf(t *testing.T, h *harness, runID int64, env string) store.Approval {
	t.Helper()
	a, err := h.srv.Store().CurrentApproval(context.Background(), runID, env)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// assertAppliedTheShownPlan checks that a deploy that waited applied the saved plan it showed, without
// planning again, and that prod's state holds the change.
func assertAppliedTheShownPlan(t *testing.T, h *harness, run store.Run, a store.Approval, input int) {
	t.Helper()
	if run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("deploy %s: %s", run.Status, run.Error)
	}
	stages := stageMap(run)
	if got := stages["prod/plan"].Output["plan_sha256"]; got == "" || got != a.PlanSHA256 {
		t.Fatalf("plan checksum %q, approved %q", got, a.PlanSHA256)
	}
	resp, err := h.apiGet(fmt.Sprintf("/api/stages/%d/log", stages["prod/apply"].ID))
	if err != nil {
		t.Fatal(err)
	}
	var log struct{ Lines []store.LogLine }
	_ = json.NewDecoder(resp.Body).Decode(&log)
	resp.Body.Close()
	var text strings.Builder
	for _, l := range log.Lines {
		text.WriteString(l.Line + "\n")
	}
	if !strings.Contains(text.String(), "saved plan sha256:"+a.PlanSHA256+" verified") {
		t.Fatalf("apply did not verify the approved plan:\n%s", text.String())
	}
	state := mustRead(t, filepath.Join(h.cfg.DataDir, "..", "state"), "prod.tfstate")
	if !strings.Contains(state, fmt.Sprintf(`"input": %d`, input)) && !strings.Contains(state, fmt.Sprintf(`"value": %d`, input)) {
		t.Fatalf("prod state does not hold input %d:\n%s", input, state)
	}
}

// A deploy waits for approval on prod; an unauthorised approval is refused with a reply; a maintainer's
// comment approves, and exactly the saved plan is applied.
func TestApprovalByCommentAppliesTheSavedPlan(t *testing.T) {
	h, st := approvalHarness(t, "require_approval")
	runID, sha := mergeToMain(t, h, st, 12, prodChange(1))
	run := h.waitStage(runID, "prod/awaiting_approval", store.StageWaiting, 3*time.Minute)
	stages := stageMap(run)
	if stages["dev/apply"].Status != store.StageSucceeded || stages["prod/apply"].Status != store.StagePending {
		dumpRun(t, run)
		t.Fatalf("dev must be deployed and prod's apply pending")
	}
	if w := stages["prod/awaiting_approval"].WaitingFor; !strings.Contains(w, "prod requires approval") || !strings.Contains(w, "to add") {
		t.Fatalf("waiting for %q", w)
	}
	// The merged pull request says how to decide; Slack shows the buttons; no lock is held.
	waitFor(t, func() string { return replies(st, 12) }, func(s string) bool {
		return strings.Contains(s, "awaiting approval") && strings.Contains(s, "/runner approve prod")
	})
	waitFor(t, func() string {
		var b strings.Builder
		for _, m := range st.Slack.Messages() {
			b.Write(m.Blocks)
		}
		return b.String()
	}, func(s string) bool {
		return strings.Contains(s, "runner_approve") && strings.Contains(s, "runner_reject")
	})
	if locks, _ := h.srv.Store().Locks(context.Background()); len(locks) != 0 {
		t.Fatalf("a waiting deploy holds locks: %+v", locks)
	}

	// A reader may not approve: the reply says what is missing, and nothing is decided.
	c, cid := h.comment(st, 12, reader, "/runner approve prod")
	if r := h.waitRun(c, time.Minute); r.Status != store.StatusNothing || !strings.Contains(r.Error, "refused") {
		t.Fatalf("refused command run %s: %s", r.Status, r.Error)
	}
	if s := replies(st, 12); !strings.Contains(s, "@"+reader+" you may not `approve`") || !strings.Contains(s, "maintain access or more") {
		t.Fatalf("refusal reply:\n%s", s)
	}
	if got := st.GitHub.Reactions(cid); !contains(got, "eyes") || !contains(got, "-1") {
		t.Fatalf("reactions on the refused command = %v", got)
	}
	// Nor may the author of the change (distinct_approver), even with maintain.
	st.GitHub.SetCollaborator(repoName, prAuthor, fakegithub.Collaborator{Role: "maintain"})
	c, _ = h.comment(st, 12, prAuthor, "/runner approve prod")
	if r := h.waitRun(c, time.Minute); !strings.Contains(r.Error, "distinct_approver") {
		t.Fatalf("author approval run %s: %s", r.Status, r.Error)
	}
	if a := approvalOf(t, h, runID, "prod"); a.State != store.ApprovalWaiting {
		t.Fatalf("approval %s after refusals", a.State)
	}

	c, cid = h.comment(st, 12, maintainer, "/runner approve prod")
	if r := h.waitRun(c, time.Minute); r.Status != store.StatusSucceeded {
		t.Fatalf("approve command %s: %s", r.Status, r.Error)
	}
	if got := st.GitHub.Reactions(cid); !contains(got, "+1") {
		t.Fatalf("reactions = %v", got)
	}
	a := approvalOf(t, h, runID, "prod")
	if a.State != store.ApprovalApproved || a.DecidedBy != maintainer || a.Channel != "comment" {
		t.Fatalf("approval = %+v", a)
	}
	run = h.waitRun(runID, 3*time.Minute)
	assertAppliedTheShownPlan(t, h, run, a, 1)
	if d := stageMap(run)["prod/awaiting_approval"]; d.Status != store.StageSucceeded || !strings.Contains(d.Detail, "approved by "+maintainer+" (comment)") {
		t.Fatalf("approval stage %s: %s", d.Status, d.Detail)
	}
	dep, err := h.srv.Store().LastDeployment(context.Background(), repoName, "prod")
	if err != nil || dep.SHA != sha || !strings.Contains(dep.Note, "approved by "+maintainer) {
		t.Fatalf("prod deployment = %+v, %v", dep, err)
	}
	// One Slack message tells the whole deploy, waiting included: the buttons are gone and the decision shows.
	waitFor(t, func() []fakeslack.Message { return st.Slack.Messages() }, func(ms []fakeslack.Message) bool {
		var top []fakeslack.Message
		for _, m := range ms {
			if m.ThreadTS == "" {
				top = append(top, m)
			}
		}
		return len(top) == 1 && !strings.Contains(string(top[0].Blocks), "runner_approve") && strings.Contains(string(top[0].Blocks), maintainer)
	})
	// One GitHub deployment per environment, ending in success.
	if deps := st.GitHub.Deployments(repoName); len(deps) != 2 {
		t.Fatalf("GitHub deployments = %+v", deps)
	}
}

// A waiting deploy gives its worker back: with one worker, a pull request is planned meanwhile.
func TestApprovalWaitHoldsNoWorker(t *testing.T) {
	h, st := approvalHarness(t, "require_approval", func(c *config.Server) { c.Workers = 1 })
	runID, _ := mergeToMain(t, h, st, 13, prodChange(2))
	h.waitStage(runID, "prod/awaiting_approval", store.StageWaiting, 3*time.Minute)
	base, head := openPR(t, h, "meanwhile", map[string]string{"environments/dev/more.tf": "resource \"terraform_data\" \"more\" {}\n"})
	plan := h.waitRun(h.accept("pull_request", h.prPayload("opened", 61, head, base, "meanwhile")), 2*time.Minute)
	if plan.Status != store.StatusSucceeded {
		dumpRun(t, plan)
		t.Fatalf("plan while a deploy waits: %s %s", plan.Status, plan.Error)
	}
	if r := h.getRun(runID); r.Status != store.StatusRunning {
		t.Fatalf("the waiting deploy is %s", r.Status)
	}
}

// A Slack button with a valid signature approves; bad and stale signatures are refused.
func TestApprovalBySlackButton(t *testing.T) {
	h, st := approvalHarness(t, "require_approval")
	runID, _ := mergeToMain(t, h, st, 14, prodChange(3))
	h.waitStage(runID, "prod/awaiting_approval", store.StageWaiting, 3*time.Minute)
	value := fmt.Sprintf(`{"run":%d,"env":"prod"}`, runID)
	payload := stackSlackPayload(st, slackUser, "runner_approve", value)
	for _, tc := range []struct {
		name   string
		secret string
		at     time.Time
	}{
		{"bad signature", "not-the-signing-secret-0000", time.Now()},
		{"old signature", slackKey, time.Now().Add(-10 * time.Minute)},
	} {
		if code := postSlack(t, h, payload, tc.secret, tc.at); code != http.StatusUnauthorized {
			t.Fatalf("%s: status %d, want 401", tc.name, code)
		}
	}
	if a := approvalOf(t, h, runID, "prod"); a.State != store.ApprovalWaiting {
		t.Fatalf("a refused Slack request decided: %+v", a)
	}
	if code := postSlack(t, h, payload, slackKey, time.Now()); code != http.StatusOK {
		t.Fatalf("signed Slack request: status %d", code)
	}
	run := h.waitRun(runID, 3*time.Minute)
	a := approvalOf(t, h, runID, "prod")
	if a.DecidedBy != maintainer || a.Channel != "slack" {
		t.Fatalf("approval = %+v", a)
	}
	assertAppliedTheShownPlan(t, h, run, a, 3)
	waitFor(t, func() int { return len(stackSlackResponses(st)) }, func(n int) bool { return n == 1 })
}

// runner approve --run N --env prod applies the saved plan.
func TestApprovalByCLI(t *testing.T) {
	h, st := approvalHarness(t, "require_approval")
	runID, _ := mergeToMain(t, h, st, 15, prodChange(4))
	h.waitStage(runID, "prod/awaiting_approval", store.StageWaiting, 3*time.Minute)
	var out, errOut bytes.Buffer
	env := cli.Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	err := cli.Approve(context.Background(), env, []string{"--server", h.base, "--token", apiToken, "--run", fmt.Sprint(runID),
		"--env", "prod", "--as", "ops", "--reason", "checked the plan"})
	if err != nil {
		t.Fatalf("runner approve: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "Approved") {
		t.Fatalf("runner approve said %q", out.String())
	}
	run := h.waitRun(runID, 3*time.Minute)
	a := approvalOf(t, h, runID, "prod")
	if a.DecidedBy != "ops" || a.Channel != "cli" || a.Reason != "checked the plan" {
		t.Fatalf("approval = %+v", a)
	}
	assertAppliedTheShownPlan(t, h, run, a, 4)
}

// /runner reject ends the deploy: prod is not applied and the deployment is recorded failed.
func TestApprovalRejectEndsTheDeploy(t *testing.T) {
	h, st := approvalHarness(t, "require_approval")
	runID, _ := mergeToMain(t, h, st, 16, prodChange(5))
	h.waitStage(runID, "prod/awaiting_approval", store.StageWaiting, 3*time.Minute)
	c, _ := h.comment(st, 16, approver, "/runner reject prod not during the freeze")
	if r := h.waitRun(c, time.Minute); r.Status != store.StatusSucceeded {
		t.Fatalf("reject command %s: %s", r.Status, r.Error)
	}
	run := h.waitRun(runID, 2*time.Minute)
	stages := stageMap(run)
	if run.Status != store.StatusFailed || stages["prod/apply"].Status != store.StageSkipped ||
		!strings.Contains(stages["prod/awaiting_approval"].Detail, "rejected by "+approver+" (comment): not during the freeze") {
		dumpRun(t, run)
		t.Fatalf("rejected deploy %s: %s", run.Status, run.Error)
	}
	if state, err := os.ReadFile(filepath.Join(h.cfg.DataDir, "..", "state", "prod.tfstate")); err == nil && strings.Contains(string(state), "extra") {
		t.Fatal("prod was applied after a rejection")
	}
	// The merged pull request and the approvals API say who rejected it and why.
	waitFor(t, func() string { return replies(st, 16) }, func(s string) bool {
		return strings.Contains(s, "| prod | failed |") && strings.Contains(s, "rejected by "+approver+" (comment): not during the freeze")
	})
	resp, err := h.apiGet("/api/approvals")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Approvals []map[string]any }
	_ = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list.Approvals) != 1 || list.Approvals[0]["state"] != "rejected" || list.Approvals[0]["decided_by"] != approver ||
		list.Approvals[0]["channel"] != "comment" || list.Approvals[0]["reason"] != "not during the freeze" {
		t.Fatalf("approvals = %+v", list.Approvals)
	}
}

// A wait expires; a newer push of the branch supersedes a waiting deploy.
func TestApprovalExpiresAndIsSuperseded(t *testing.T) {
	h, st := approvalHarness(t, "require_approval", func(c *config.Server) { c.ApprovalTimeout = 4 * time.Second })
	first, _ := mergeToMain(t, h, st, 17, prodChange(6))
	h.waitStage(first, "prod/awaiting_approval", store.StageWaiting, 3*time.Minute)
	run := h.waitRun(first, time.Minute)
	if run.Status != store.StatusFailed || !strings.Contains(stageMap(run)["prod/awaiting_approval"].Detail, "approval expired") {
		dumpRun(t, run)
		t.Fatalf("expired deploy %s: %s", run.Status, run.Error)
	}
	if a := approvalOf(t, h, first, "prod"); a.State != store.ApprovalExpired {
		t.Fatalf("approval = %+v", a)
	}

	h.cfg.ApprovalTimeout = time.Hour
	h.stop()
	h.start(server.Collaborators{})
	second, _ := mergeToMain(t, h, st, 18, prodChange(7))
	h.waitStage(second, "prod/awaiting_approval", store.StageWaiting, 3*time.Minute)
	third, _ := mergeToMain(t, h, st, 19, prodChange(8))
	run = h.waitRun(second, 2*time.Minute)
	if run.Status != store.StatusSucceeded || !strings.Contains(stageMap(run)["prod/apply"].Detail, "superseded") {
		dumpRun(t, run)
		t.Fatalf("superseded deploy %s: %s", run.Status, run.Error)
	}
	if a := approvalOf(t, h, second, "prod"); a.State != store.ApprovalSuperseded {
		t.Fatalf("approval = %+v", a)
	}
	h.waitStage(third, "prod/awaiting_approval", store.StageWaiting, 3*time.Minute)
}

// /runner plan re-plans a pull request; on a fork pull request that was not planned it plans only when the
// commenter may plan.
func TestCommandPlanReplansAndPlansForksForAuthorisedCommenters(t *testing.T) {
	h, st := approvalHarness(t, "require_approval")
	base, head := openPR(t, h, "fork-change", map[string]string{"environments/dev/extra.tf": "resource \"terraform_data\" \"extra\" {}\n"})
	payload := h.prPayload("opened", 62, head, base, "fork-change")
	pr := payload["pull_request"].(map[string]any)
	pr["head"].(map[string]any)["repo"].(map[string]any)["full_name"] = "eve/platform"
	pr["user"].(map[string]any)["login"] = "eve"
	st.GitHub.SeedPull(repoName, fakegithub.Pull{Number: 62, Title: "from a fork", State: "open", User: "eve", HeadRef: "fork-change",
		HeadSHA: head, BaseRef: "main", BaseSHA: base, HeadRepo: "eve/platform"})
	if run := h.waitRun(h.accept("pull_request", payload), time.Minute); run.Status != store.StatusNothing {
		t.Fatalf("fork pull request %s: %s", run.Status, run.Error)
	}
	if c := replies(st, 62); !strings.Contains(c, "/runner plan") {
		t.Fatalf("the not-planned comment names no command:\n%s", c)
	}

	// A reader's plan command is refused, with the permission it lacks.
	c, _ := h.comment(st, 62, reader, "/runner plan")
	if r := h.waitRun(c, time.Minute); r.Status != store.StatusNothing || !strings.Contains(r.Error, "refused") {
		t.Fatalf("reader's plan command %s: %s", r.Status, r.Error)
	}
	if s := replies(st, 62); !strings.Contains(s, "@"+reader+" you may not `plan`") || !strings.Contains(s, "write access or more") {
		t.Fatalf("refusal:\n%s", s)
	}
	if runs := planRuns(t, h, 62); len(runs) != 1 {
		t.Fatalf("plan runs after a refused command: %d", len(runs))
	}

	// A maintainer's is carried out: a new plan run of the fork's head, reported on the pull request.
	c, cid := h.comment(st, 62, maintainer, "/runner plan dev")
	if r := h.waitRun(c, time.Minute); r.Status != store.StatusSucceeded {
		t.Fatalf("plan command %s: %s", r.Status, r.Error)
	}
	if got := st.GitHub.Reactions(cid); !contains(got, "eyes") || !contains(got, "+1") {
		t.Fatalf("reactions = %v", got)
	}
	runs := planRuns(t, h, 62)
	if len(runs) != 2 {
		t.Fatalf("plan runs = %d", len(runs))
	}
	plan := h.waitRun(runs[0].ID, 2*time.Minute)
	if plan.Status != store.StatusSucceeded || plan.Event.SHA != head || plan.Event.RequestedBy != maintainer+" (comment)" {
		dumpRun(t, plan)
		t.Fatalf("requested plan %s: %s (%+v)", plan.Status, plan.Error, plan.Event)
	}
	if s := replies(st, 62); !strings.Contains(s, "to add") || !strings.Contains(s, fmt.Sprintf("run %d", plan.ID)) {
		t.Fatalf("pull request comments after the plan:\n%s", s)
	}

	// An unknown command gets the help text.
	c, _ = h.comment(st, 62, maintainer, "/runner deploy prod")
	h.waitRun(c, time.Minute)
	if s := replies(st, 62); !strings.Contains(s, "/runner rollback") {
		t.Fatalf("no help for an unknown command:\n%s", s)
	}
}

// planRuns lists a pull request's plan runs, newest first.
func planRuns(t *testing.T, h *harness, pr int) []store.Run {
	t.Helper()
	runs, err := h.srv.Store().ListRuns(context.Background(), store.ListFilter{Repo: repoName, PR: pr})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Run
	for _, r := range runs {
		if r.Event.Kind == "plan" {
			out = append(out, r)
		}
	}
	return out
}

// On a protected environment a merge deploy whose plan matches the pull request's reviewed plan goes
// through; one whose plan differs waits for approval, and the difference is shown.
func TestApprovalChangedPlanAtMergeNeedsApprovalOnProtected(t *testing.T) {
	h, st := approvalHarness(t, "protected")
	// Pull request 30 is planned and merged as it was reviewed.
	files := map[string]string{"environments/prod/extra.tf": "resource \"terraform_data\" \"extra\" {\n  input = \"reviewed\"\n}\n"}
	base, head := openPR(t, h, "reviewed", files)
	if run := h.waitRun(h.accept("pull_request", h.prPayload("opened", 30, head, base, "reviewed")), 2*time.Minute); run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("plan of #30: %s %s", run.Status, run.Error)
	}
	runID, _ := mergeToMain(t, h, st, 30, files)
	run := h.waitRun(runID, 3*time.Minute)
	if run.Status != store.StatusSucceeded || !strings.Contains(stageMap(run)["prod/plan"].Detail, "matches the reviewed plan") ||
		stageMap(run)["prod/awaiting_approval"].Status != store.StageSkipped {
		dumpRun(t, run)
		t.Fatalf("a matching protected deploy %s: %s", run.Status, run.Error)
	}

	// Pull request 31 is reviewed, but main moves on before it merges: its merge applies more.
	more := map[string]string{"environments/prod/more.tf": "resource \"terraform_data\" \"more\" {}\n"}
	base, head = openPR(t, h, "drifted", more)
	if run := h.waitRun(h.accept("pull_request", h.prPayload("opened", 31, head, base, "drifted")), 2*time.Minute); run.Status != store.StatusSucceeded {
		t.Fatalf("plan of #31: %s %s", run.Status, run.Error)
	}
	if err := h.repo.Checkout("main"); err != nil {
		t.Fatal(err)
	}
	commitPush(t, h, "main", map[string]string{"environments/prod/sneaky.tf": "resource \"terraform_data\" \"sneaky\" {}\n"})
	runID, _ = mergeToMain(t, h, st, 31, more)
	run = h.waitStage(runID, "prod/awaiting_approval", store.StageWaiting, 3*time.Minute)
	if w := stageMap(run)["prod/awaiting_approval"].WaitingFor; !strings.Contains(w, "protected") || !strings.Contains(w, "differs from the reviewed plan") {
		t.Fatalf("waiting for %q", w)
	}
	waitFor(t, func() string { return replies(st, 31) }, func(s string) bool {
		return strings.Contains(s, "differs from the plan reviewed on #31") && strings.Contains(s, "sneaky")
	})
}

// runner rollback redeploys an earlier commit with the image it deployed (by digest, no build), rolls the
// fleets, and records a deployment that the next push diffs from.
func TestRollbackRedeploysTheOldImageDigest(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds images and runs Terraform")
	}
	h, st := newStackHarness(t, fixture.Options{Environments: []string{"dev"}}, func(c *config.Server) { c.APIToken = apiToken })
	st.ECS.Deploy("dev-cluster", "dev-api", "dev-api:2", fakeaws.Stabilize, 2)
	first, _ := h.repo.Head()
	run1 := h.waitRun(h.accept("push", h.pushPayload(fixture.ZeroSHA, first)), 5*time.Minute)
	_, second := changeEverything(t, h, nil)
	run2 := h.waitRun(h.accept("push", h.pushPayload(first, second)), 5*time.Minute)
	if run1.Status != store.StatusSucceeded || run2.Status != store.StatusSucceeded {
		dumpRun(t, run2)
		t.Fatalf("deploys: %s %s / %s %s", run1.Status, run1.Error, run2.Status, run2.Error)
	}
	image1 := stageMap(run1)["image:backend"].Output["ref"]
	image2 := stageMap(run2)["image:backend"].Output["ref"]
	if image1 == "" || image1 == image2 {
		t.Fatalf("images %q and %q", image1, image2)
	}
	refreshes := len(st.ASG.Refreshes("dev-frontend"))

	var out, errOut bytes.Buffer
	env := cli.Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	err := cli.Rollback(context.Background(), env, []string{"--server", h.base, "--token", apiToken, "--repo", repoName,
		"--env", "dev", "--to", "previous", "--as", "ops", "--reason", "5xx after the deploy"})
	if err != nil {
		t.Fatalf("runner rollback: %v\n%s", err, errOut.String())
	}
	var rollbackID int64
	for _, f := range strings.Fields(out.String()) {
		fmt.Sscan(f, &rollbackID)
	}
	runs, _ := h.srv.Store().ListRuns(context.Background(), store.ListFilter{Repo: repoName, Limit: 1})
	rb := h.waitRun(runs[0].ID, 5*time.Minute)
	if rb.Event.Kind != "rollback" || rb.Status != store.StatusSucceeded || rb.Event.SHA != first {
		dumpRun(t, rb)
		t.Fatalf("rollback run %s %s: %s (%s)", rb.Event.Kind, rb.Status, rb.Error, out.String())
	}
	for _, s := range rb.Stages {
		if strings.HasPrefix(s.Name, "image") || strings.HasPrefix(s.Name, "bundle") {
			t.Fatalf("a rollback built something: stage %s", s.Name)
		}
	}
	state := mustRead(t, filepath.Join(h.cfg.DataDir, "..", "state"), "dev.tfstate")
	if !strings.Contains(state, image1) || strings.Contains(state, image2) {
		t.Fatalf("dev state does not hold the old image %s", image1)
	}
	if s := stageMap(rb)["dev/refresh"]; s.Status != store.StageSucceeded || len(st.ASG.Refreshes("dev-frontend")) != refreshes+1 {
		t.Fatalf("refresh stage %s %s", s.Status, s.Detail)
	}
	dep, err := h.srv.Store().LastDeployment(context.Background(), repoName, "dev")
	if err != nil || dep.SHA != first || dep.BackendImage != image1 || !strings.Contains(dep.Note, "rollback requested by ops (cli)") {
		t.Fatalf("deployment after the rollback = %+v, %v", dep, err)
	}

	// The next push diffs from the rolled-back commit: v2's app changes count again.
	if err := h.repo.WriteFiles(map[string]string{"environments/dev/extra.tf": "resource \"terraform_data\" \"extra\" {}\n"}); err != nil {
		t.Fatal(err)
	}
	third, _ := h.repo.Commit("after the rollback")
	_ = h.repo.Push("main")
	run3 := h.waitRun(h.accept("push", h.pushPayload(second, third)), 5*time.Minute)
	if !contains(run3.Apps, "backend") || !contains(run3.Changed, "apps/frontend/src/App.txt") {
		t.Fatalf("the push after the rollback diffed from elsewhere: apps %v, changed %v", run3.Apps, run3.Changed)
	}
}

// With a GitHub App, a pull request's plan is a check run with the plan as its output, a failed plan has
// annotations where Terraform said, and a deploy waiting for approval has buttons whose requested action
// approves it.
func TestCheckRunOutputAnnotationsAndApproveButton(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pol := approvalPolicy(t, "require_approval")
	var checks pipelineChecks
	h, st := newStackHarnessWith(t, fixture.Options{Environments: []string{"dev", "prod"}, NoApps: true}, server.Collaborators{Checks: &checks},
		func(c *config.Server) { c.ReposConfig = pol; c.ApprovalPoll = 500 * time.Millisecond })
	st.GitHub.RegisterApp(11, 22, &key.PublicKey)
	app, err := ghnotify.New(context.Background(), ghnotify.Options{AppID: 11, InstallationID: 22, BaseURL: st.GitHub.URL(),
		PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})})
	if err != nil {
		t.Fatal(err)
	}
	checks.set(server.NewChecks(app))
	st.GitHub.SetCollaborator(repoName, maintainer, fakegithub.Collaborator{Role: "maintain"})

	base, head := openPR(t, h, "checked", map[string]string{"environments/dev/extra.tf": "resource \"terraform_data\" \"extra\" {}\n"})
	if run := h.waitRun(h.accept("pull_request", h.prPayload("opened", 70, head, base, "checked")), 2*time.Minute); run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("plan: %s %s", run.Status, run.Error)
	}
	cr := checkRun(t, st, "runner/plan: dev", head)
	if cr.Status != "completed" || cr.Conclusion != "success" || !strings.Contains(cr.Title, "to add") ||
		!strings.Contains(cr.Text, "terraform_data.extra") || cr.Summary == "" {
		t.Fatalf("plan check run = %+v", cr)
	}
	if len(st.GitHub.Statuses(repoName, head)) != 0 {
		t.Fatal("commit statuses were posted besides check runs")
	}

	// A broken pull request: its check run fails with an annotation at the file and line.
	broken := commitPush(t, h, "checked", map[string]string{"environments/dev/broken.tf": "resource \"terraform_data\" \"b\" {\n  nonsense = 1\n}\n"})
	h.waitRun(h.accept("pull_request", h.prPayload("synchronize", 70, broken, base, "checked")), 2*time.Minute)
	cr = checkRun(t, st, "runner/plan: dev", broken)
	if cr.Conclusion != "failure" || len(cr.Annotations) == 0 || cr.Annotations[0].Path != "environments/dev/broken.tf" || cr.Annotations[0].StartLine != 2 {
		t.Fatalf("failed plan check run = %+v", cr)
	}

	// A deploy waiting on prod: its check run has the buttons; pressing Approve applies.
	runID, sha := mergeToMain(t, h, st, 71, prodChange(9))
	h.waitStage(runID, "prod/awaiting_approval", store.StageWaiting, 3*time.Minute)
	cr = waitFor(t, func() fakegithub.CheckRunRecord { return checkRun(t, st, "runner/deploy: prod", sha) },
		func(c fakegithub.CheckRunRecord) bool { return len(c.Actions) == 2 })
	if cr.Actions[0].Identifier != "approve" || !strings.Contains(cr.Title, "Awaiting approval") {
		t.Fatalf("deploy check run = %+v", cr)
	}
	var payload map[string]any
	if err := json.Unmarshal(st.GitHub.RequestedActionPayload(repoName, cr.ID, "approve", maintainer), &payload); err != nil {
		t.Fatal(err)
	}
	h.pointRepo(payload)
	act := h.waitRun(h.accept("check_run", payload), time.Minute)
	if act.Status != store.StatusSucceeded {
		t.Fatalf("requested action run %s: %s", act.Status, act.Error)
	}
	run := h.waitRun(runID, 3*time.Minute)
	a := approvalOf(t, h, runID, "prod")
	if a.Channel != "check_run" || a.DecidedBy != maintainer {
		t.Fatalf("approval = %+v", a)
	}
	assertAppliedTheShownPlan(t, h, run, a, 9)
	if cr := checkRun(t, st, "runner/deploy: prod", sha); cr.Status != "completed" || cr.Conclusion != "success" {
		t.Fatalf("deploy check run after the deploy = %+v", cr)
	}
}

// checkRun is the newest check run of that name on sha.
func checkRun(t *testing.T, st *stack.Stack, name, sha string) fakegithub.CheckRunRecord {
	t.Helper()
	var found fakegithub.CheckRunRecord
	for _, c := range st.GitHub.CheckRuns(repoName) {
		if c.Name == name && c.HeadSHA == sha {
			found = c
		}
	}
	return found
}

// pipelineChecks forwards to check runs set once the fake knows the App.
type pipelineChecks struct {
	mu sync.Mutex
	c  pipeline.Checks
}

func (p *pipelineChecks) set(c pipeline.Checks) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.c = c
}

func (p *pipelineChecks) UpsertCheckRun(ctx context.Context, repo string, run pipeline.CheckRun) (int64, error) {
	p.mu.Lock()
	c := p.c
	p.mu.Unlock()
	return c.UpsertCheckRun(ctx, repo, run)
}

// stackSlackPayload is a Slack block_actions payload of a button press, answered at the fake's response_url.
func stackSlackPayload(st *stack.Stack, user, actionID, value string) []byte {
	return fakeslack.BlockActionPayload(user, "maint.slack", actionID, value, st.Slack.ResponseURL())
}

func stackSlackResponses(st *stack.Stack) []fakeslack.Response { return st.Slack.Responses() }

// postSlack sends an interaction to the runner signed with secret at time at, and returns the status.
func postSlack(t *testing.T, h *harness, payload []byte, secret string, at time.Time) int {
	t.Helper()
	body, headers := fakeslack.SignedInteraction(secret, payload, at)
	req, err := http.NewRequest(http.MethodPost, h.base+"/slack/interactions", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
