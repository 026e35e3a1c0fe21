package pipeline

import (
	"context"
	"fmt"

	"github.com/gitops-runner/runner/internal/store"
)

// Check run button identifiers (GitHub allows 20 characters).
const (
	checkApprove = "approve"
	checkReject  = "reject"
)

// planCheck reports an environment's pull request plan as a check run: "pending" while it queues and
// runs, then the outcome with the plan's summary, or the failure with annotations where Terraform said.
func (w *work) planCheck(ctx context.Context, name, env, state, desc string, result *PlanResult, failure error) {
	run := CheckRun{Name: name, HeadSHA: w.run.Event.SHA, ExternalID: externalID(w.run.ID, env, 0), DetailsURL: w.runURL(),
		Title: firstLine(desc), Summary: desc}
	switch state {
	case "pending":
		run.Status = "in_progress"
	case "success":
		run.Status, run.Conclusion = "completed", "success"
		if result != nil {
			run.Summary = w.note(env) + w.redactor.String(result.Markdown())
			run.Text = "```\n" + fence(w.redactor.String(result.Text)) + "\n```\n"
		}
	case "error":
		// Not planned (a policy refusal, no isolation): check runs can say so without failing.
		run.Status, run.Conclusion = "completed", "neutral"
	default:
		run.Status, run.Conclusion = "completed", "failure"
		if result != nil && len(result.Projects) > 0 {
			run.Summary = w.note(env) + w.redactor.String(result.Markdown())
		}
		if failure != nil {
			text := w.redactor.String(failure.Error())
			run.Text = "```\n" + fence(text) + "\n```\n"
			run.Annotations = w.failureAnnotations(env, text, failure)
		}
	}
	w.upsertCheck(ctx, run)
}

// annotations places Terraform's diagnostics of env's plan at their file and line in the repository.
func (w *work) annotations(env, text string) []Annotation {
	dir := ""
	if w.cfg != nil {
		if e, ok := w.cfg.Environment(env); ok && len(e.Projects) == 1 {
			dir = e.Projects[0].Dir
		}
	}
	return annotationsIn(dir, text)
}

// approvalCheck shows an environment's approval on the deploy commit's check run: buttons while it waits,
// then the decision.
func (w *work) approvalCheck(ctx context.Context, env string, a store.Approval) {
	run := CheckRun{Name: "runner/deploy: " + env, HeadSHA: w.run.Event.SHA, ExternalID: externalID(w.run.ID, env, a.ID), DetailsURL: w.runURL()}
	switch a.State {
	case store.ApprovalWaiting:
		run.Status = "in_progress"
		run.Title = "Awaiting approval: " + a.Summary
		run.Summary = fmt.Sprintf("**%s** waits for approval until %s.\n\n%s\n\nPlan: %s\n\nApprove or reject with the buttons above, "+
			"`%s approve %s` on the merged pull request, Slack, the dashboard, or `runner approve --run %d --env %s`.",
			escapeMarkdown(env), a.Expires.Format("2006-01-02 15:04 MST"), escapeMarkdown(a.Why), escapeMarkdown(a.Summary),
			w.e.opts.CommandPrefix, env, w.run.ID, env)
		run.Actions = []CheckAction{
			{Label: "Approve", Description: "Apply the plan shown", Identifier: checkApprove},
			{Label: "Reject", Description: "Do not deploy this", Identifier: checkReject},
		}
	case store.ApprovalApproved:
		run.Status = "in_progress"
		run.Title = "Approved: applying"
		run.Summary = escapeMarkdown(decisionLine(a))
	default:
		run.Status, run.Conclusion = "completed", "cancelled"
		if a.State == store.ApprovalRejected {
			run.Conclusion = "failure"
		}
		run.Title = "Not deployed: " + a.State
		run.Summary = escapeMarkdown(decisionLine(a))
	}
	w.upsertCheck(ctx, run)
}

// refusedCheck says on the check run why a button press was not carried out.
func (w *work) refusedCheck(ctx context.Context, runID int64, env string, err error) {
	a, gerr := w.e.deps.Store.CurrentApproval(ctx, runID, env)
	if gerr != nil || a.State != store.ApprovalWaiting || w.e.deps.Checks == nil {
		return
	}
	run := CheckRun{Name: "runner/deploy: " + env, HeadSHA: a.SHA, ExternalID: externalID(runID, env, a.ID), Status: "in_progress",
		Title: "Awaiting approval: " + a.Summary,
		Summary: fmt.Sprintf("%s waits for approval. The last button press was not carried out: %s.", escapeMarkdown(env),
			escapeMarkdown(w.redactor.String(err.Error()))),
		Actions: []CheckAction{
			{Label: "Approve", Description: "Apply the plan shown", Identifier: checkApprove},
			{Label: "Reject", Description: "Do not deploy this", Identifier: checkReject},
		}}
	w.upsertCheck(ctx, run)
}

func (w *work) upsertCheck(ctx context.Context, run CheckRun) {
	if w.e.deps.Checks == nil || (w.cfg != nil && !w.cfg.Notify.GitHub.Statuses) {
		return
	}
	if _, err := w.e.deps.Checks.UpsertCheckRun(context.WithoutCancel(ctx), w.run.Event.Repo, run); err != nil {
		w.log.Warn("post check run", "name", run.Name, "err", w.redactor.String(err.Error()))
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// finishApprovalCheck completes an approved environment's deploy check run with the deploy's outcome.
func (w *work) finishApprovalCheck(ctx context.Context, env, outcome string) {
	if w.e.deps.Checks == nil {
		return
	}
	var approved *store.Approval
	w.mu.Lock()
	for i := range w.decisions {
		if a := w.decisions[i]; a.Env == env && a.State == store.ApprovalApproved {
			approved = &a
		}
	}
	w.mu.Unlock()
	if approved == nil {
		return
	}
	run := CheckRun{Name: "runner/deploy: " + env, HeadSHA: w.run.Event.SHA, ExternalID: externalID(w.run.ID, env, approved.ID),
		DetailsURL: w.runURL(), Status: "completed", Conclusion: "success", Title: "Deployed",
		Summary: escapeMarkdown(decisionLine(*approved)) + "; deploy " + escapeMarkdown(outcome) + "."}
	if outcome != "succeeded" {
		run.Conclusion, run.Title = "failure", "Not deployed: "+firstLine(outcome)
	}
	w.upsertCheck(ctx, run)
}
