package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/review"
	"github.com/gitops-runner/runner/internal/tf"
)

// planOutputs records what later steps check a plan by: the saved plan's checksum (only that file is
// applied), its fingerprint (what review compares), and, for a deploy, how it compares with the plan
// reviewed on the merged pull request.
func (w *work) planOutputs(ctx context.Context, env string, r PlanResult, out map[string]string, log io.Writer) {
	if sum, err := w.planDigest(env); err == nil {
		out["plan_sha256"] = sum
		fmt.Fprintf(log, "saved plan sha256:%s\n", sum)
	}
	if fp, err := json.Marshal(r.Fingerprint); err == nil {
		out["fingerprint"] = string(fp)
	}
	if w.run.Event.Kind != event.KindDeploy {
		return
	}
	line, match, md := w.review(ctx, env, r.Fingerprint)
	out["review"], out["review_match"] = line, fmt.Sprint(match)
	fmt.Fprintln(log, line)
	if !match && md != "" {
		w.setNote(env, noteReview, md)
	}
}

// review compares a deploy's plan of env with the last successful plan of the merged pull request: the
// sentence for records, whether they match, and the difference as Markdown.
func (w *work) review(ctx context.Context, env string, applied []tf.ResourceFingerprint) (string, bool, string) {
	pr := w.mergedPR(ctx)
	if pr == 0 {
		return "no reviewed plan: the commit did not come from a merged pull request", false, ""
	}
	sha, out, ok, err := w.e.deps.Store.ReviewedPlan(ctx, w.run.Event.Repo, pr, env)
	if err != nil {
		w.log.Warn("read the reviewed plan", "pr", pr, "env", env, "err", err)
		return fmt.Sprintf("no reviewed plan: pull request #%d's plan of %s could not be read", pr, env), false, ""
	}
	if !ok || out["fingerprint"] == "" {
		return fmt.Sprintf("no reviewed plan: pull request #%d has no successful plan of %s", pr, env), false, ""
	}
	var reviewed []tf.ResourceFingerprint
	if err := json.Unmarshal([]byte(out["fingerprint"]), &reviewed); err != nil {
		return fmt.Sprintf("no reviewed plan: pull request #%d's plan of %s is unreadable", pr, env), false, ""
	}
	d := review.Compare(reviewed, applied)
	line := fmt.Sprintf("%s (pull request #%d at %s)", d.Line(), pr, short(sha))
	if d.Match() {
		return line, true, ""
	}
	md := fmt.Sprintf("**%s**: the plan applied differs from the plan reviewed on #%d at `%s`:\n\n%s", escapeMarkdown(env), pr, short(sha), d.Markdown())
	return line, false, md
}
