package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
)

// StageApproval is where a deploy of an environment that needs approval waits for a person's decision. It
// holds no worker and no environment lock while it waits.
const StageApproval = "awaiting_approval"

// awaiting returns a WaitingError while one of the run's environments waits for a decision, so that the run
// does no work (no checkout, no lock) until someone decides or the wait expires. An expired wait is marked
// expired here; the run then goes on and ends that environment's deploy.
func (e *Engine) awaiting(ctx context.Context, run store.Run) *WaitingError {
	list, err := e.deps.Store.Approvals(ctx, store.ApprovalFilter{RunID: run.ID, State: store.ApprovalWaiting})
	if err != nil || len(list) == 0 {
		return nil
	}
	a := list[0]
	now := time.Now()
	if !now.Before(a.Expires) {
		if _, err := e.deps.Store.DecideApproval(ctx, a.ID, store.ApprovalExpired, "", "runner",
			"nobody decided before "+a.Expires.Format(time.RFC3339)); err != nil && !errors.Is(err, store.ErrDecided) {
			e.log.Warn("expire an approval", "run", run.ID, "env", a.Env, "err", err)
		}
		return nil
	}
	return &WaitingError{
		Reason: fmt.Sprintf("%s awaits approval until %s", a.Env, a.Expires.Format(time.RFC3339)),
		After:  min(a.Expires.Sub(now)+time.Second, e.opts.ApprovalPoll),
	}
}

// needsApproval says whether env's deploy waits for a person, and why.
func (w *work) needsApproval(env config.Environment, planOut map[string]string) (bool, string) {
	if env.RequireApproval {
		return true, env.Name + " requires approval"
	}
	pe, _ := w.eff.Environment(env.Name)
	if !pe.Protected {
		return false, ""
	}
	switch {
	case w.run.Event.Kind == "rollback":
		return true, env.Name + " is protected, and a rollback applies a plan nobody reviewed"
	case w.run.Event.Kind == event.KindFix:
		return true, env.Name + " is protected, and applying to fix drift applies a plan nobody reviewed"
	case planOut["review_match"] == "true":
		return false, ""
	default:
		return true, env.Name + " is protected, and " + planOut["review"]
	}
}

// gateOutcome is what an approval gate decides.
type gateOutcome int

const (
	gateApply  gateOutcome = iota // approved: apply the saved plan
	gateReplan                    // the environment changed since the plan was approved: plan again and ask again
	gateWait                      // waiting for a decision
	gateRejected
	gateExpired
	gateSuperseded
)

// gate decides what happens to env's saved plan: it applies what was approved, asks for a decision on a
// new plan, or ends the deploy. replanned says the plan stage ran in this execution.
func (w *work) gate(ctx context.Context, env config.Environment, planOut map[string]string, why string, replanned bool) (gateOutcome, store.Approval, error) {
	st := w.e.deps.Store
	cur, err := st.CurrentApproval(ctx, w.run.ID, env.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return gateWait, cur, err
	}
	have := err == nil
	if have && !replanned {
		switch cur.State {
		case store.ApprovalApproved:
			if err := w.samePlan(ctx, env.Name, cur); err != nil {
				fmt.Fprintf(w.logFor(env.Name), "%v: planning again\n", err)
				return gateReplan, cur, nil
			}
			return gateApply, cur, nil
		case store.ApprovalRejected:
			return gateRejected, cur, nil
		case store.ApprovalExpired:
			return gateExpired, cur, nil
		case store.ApprovalSuperseded:
			return gateSuperseded, cur, nil
		case store.ApprovalWaiting:
			return gateWait, cur, nil
		}
	}
	// A new plan: ask for a decision on it.
	base := w.lastAttempt(ctx, env.Name)
	timeout := w.policyFor().ApprovalTimeout
	if timeout <= 0 {
		timeout = w.e.opts.ApprovalTimeout
	}
	a, err := st.RequestApproval(ctx, store.Approval{
		RunID: w.run.ID, Repo: w.run.Event.Repo, Env: env.Name, PR: w.mergedPR(ctx), SHA: w.run.Event.SHA, Ref: w.run.Event.Ref,
		Author: w.changeAuthor(ctx), Why: w.redactor.String(why), Summary: planOut["summary"], PlanSHA256: planOut["plan_sha256"],
		BaseDeployment: base, Expires: time.Now().Add(timeout),
	})
	if err != nil {
		return gateWait, a, err
	}
	return gateWait, a, nil
}

// samePlan checks, before an approved plan is applied, that the saved plan is the file that was shown and
// that the environment has not been deployed since it was made.
func (w *work) samePlan(ctx context.Context, env string, a store.Approval) error {
	sum, err := w.planDigest(env)
	if err != nil {
		return fmt.Errorf("the approved plan of %s cannot be read (%v)", env, err)
	}
	if sum != a.PlanSHA256 {
		return fmt.Errorf("the saved plan of %s is not the one approved (checksum %s, approved %s)", env, short(sum), short(a.PlanSHA256))
	}
	if base := w.lastAttempt(ctx, env); base != a.BaseDeployment {
		return fmt.Errorf("%s was deployed again after the approved plan was made", env)
	}
	return nil
}

// lastAttempt is the id of env's newest deployment record, whatever its outcome (a failed apply may have
// changed the environment too), or 0.
func (w *work) lastAttempt(ctx context.Context, env string) int64 {
	if d, err := w.e.deps.Store.DeploymentsOf(ctx, w.run.Event.Repo, env, 1); err == nil && len(d) > 0 {
		return d[0].ID
	}
	return 0
}

// planFile is where env's saved plan lives for this run.
func (w *work) planFile(env string) string { return filepath.Join(w.dir, "plans", env+".tfplan") }

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// logFor is the log of env's approval stage.
func (w *work) logFor(env string) io.Writer {
	if st, ok := w.stage(store.StageKey{Env: env, Name: StageApproval}); ok {
		return stageLog{w: w, id: st.ID}
	}
	return io.Discard
}

// stageLog appends whole lines to a stage's log outside runStage.
type stageLog struct {
	w  *work
	id int64
}

func (l stageLog) Write(p []byte) (int, error) {
	lines := strings.Split(strings.TrimRight(l.w.redactor.String(string(p)), "\n"), "\n")
	_ = l.w.e.deps.Store.AppendLog(context.Background(), l.id, lines)
	return len(p), nil
}

// awaitApproval shows env waiting for a decision: its stage, the Slack story with buttons, the merged
// pull request and (with a GitHub App) a check run with buttons.
func (w *work) awaitApproval(ctx context.Context, env config.Environment, a store.Approval) {
	key := store.StageKey{Env: env.Name, Name: StageApproval}
	what := fmt.Sprintf("awaiting approval: %s; plan: %s; until %s", a.Why, a.Summary, a.Expires.Format(time.RFC3339))
	if st, ok := w.stage(key); ok {
		if st.Status != store.StageWaiting {
			fmt.Fprintf(stageLog{w: w, id: st.ID}, "%s\nthe saved plan's checksum is sha256:%s\n", what, a.PlanSHA256)
		}
		_ = w.e.deps.Store.WaitStage(ctx, st.ID, w.redactor.String(what))
		w.setStage(key, store.StageWaiting, what)
	}
	w.mu.Lock()
	if w.pending == nil {
		w.pending = map[string]store.Approval{}
	}
	w.pending[env.Name] = a
	w.mu.Unlock()
	p := w.e.opts.CommandPrefix
	w.setNote(env.Name, noteApproval, fmt.Sprintf("**%s awaits approval** until %s: %s.\n\nPlan: %s (saved plan `sha256:%s`).\n\n"+
		"Approve with `%s approve %s` on this pull request, the Slack buttons, the dashboard or `runner approve --run %d --env %s`; "+
		"reject with `%s reject %s <reason>`.",
		escapeMarkdown(env.Name), a.Expires.Format("2006-01-02 15:04 MST"), escapeMarkdown(a.Why), escapeMarkdown(a.Summary), short(a.PlanSHA256),
		p, env.Name, w.run.ID, env.Name, p, env.Name))
	w.story.publish()
	w.story.prComment(ctx)
	w.approvalCheck(ctx, env.Name, a)
}

// decided records a decision in env's approval stage and the story.
func (w *work) decided(ctx context.Context, env string, a store.Approval) {
	key := store.StageKey{Env: env, Name: StageApproval}
	detail := decisionLine(a)
	status := store.StageSucceeded
	if a.State != store.ApprovalApproved {
		status = store.StageFailed
	}
	if st, ok := w.stage(key); ok && st.Status != store.StageSucceeded {
		fmt.Fprintln(stageLog{w: w, id: st.ID}, detail)
		_ = w.e.deps.Store.FinishStage(context.WithoutCancel(ctx), st.ID, status, w.redactor.String(detail), nil)
		w.setStage(key, status, detail)
	}
	w.mu.Lock()
	delete(w.pending, env)
	w.decisions = append(w.decisions, a)
	w.mu.Unlock()
	when := ""
	if !a.Decided.IsZero() {
		when = " at " + a.Decided.Format("2006-01-02 15:04 MST")
	}
	w.setNote(env, noteApproval, fmt.Sprintf("**%s**: %s%s.", escapeMarkdown(env), escapeMarkdown(decisionLine(a)), when))
	w.approvalCheck(ctx, env, a)
}

// decisionLine says who decided what.
func decisionLine(a store.Approval) string {
	switch a.State {
	case store.ApprovalExpired:
		return "approval expired: " + a.Reason
	case store.ApprovalSuperseded:
		return a.Reason
	}
	s := a.State + " by " + a.DecidedBy
	if a.Channel != "" {
		s += " (" + a.Channel + ")"
	}
	if a.Reason != "" {
		s += ": " + a.Reason
	}
	return s
}

// supersedeWaiting ends the approvals of older deploys of this branch: this run carries their changes too.
func (w *work) supersedeWaiting(ctx context.Context) {
	ev := w.run.Event
	list, err := w.e.deps.Store.Approvals(ctx, store.ApprovalFilter{Repo: ev.Repo, State: store.ApprovalWaiting, Limit: 100})
	if err != nil {
		return
	}
	for _, a := range list {
		if a.RunID == w.run.ID || a.Ref != ev.Ref || a.SHA == ev.SHA || !w.mirror.HasCommit(a.SHA) {
			continue
		}
		if base, err := w.mirror.MergeBase(ctx, a.SHA, ev.SHA); err != nil || base != a.SHA {
			continue
		}
		_, err := w.e.deps.Store.DecideApproval(ctx, a.ID, store.ApprovalSuperseded, fmt.Sprintf("run %d", w.run.ID), "runner",
			fmt.Sprintf("superseded by run %d (newer commit %s)", w.run.ID, short(ev.SHA)))
		if err != nil {
			continue
		}
		w.log.Info("superseded a deploy waiting for approval", "run", a.RunID, "env", a.Env)
		if w.e.deps.Waker != nil {
			if err := w.e.deps.Waker.Wake(ctx, a.RunID); err != nil {
				w.log.Warn("wake a superseded run", "run", a.RunID, "err", err)
			}
		}
	}
}

// mergedPR is the pull request whose merge this deploy's commit is (0 for a direct push or unknown),
// looked up once per run.
func (w *work) mergedPR(ctx context.Context) int {
	w.mu.Lock()
	if w.merged != nil {
		n := *w.merged
		w.mu.Unlock()
		return n
	}
	w.mu.Unlock()
	ev := w.run.Event
	n, err := 0, error(nil)
	if ev.Kind == "deploy" {
		// A rollback redeploys an old commit: the pull request that once brought it in is not what it applies.
		n, err = w.e.deps.Store.MergedPR(ctx, ev.Repo, ev.SHA)
	}
	if err == nil && n == 0 && w.e.deps.Merged != nil && ev.Kind == "deploy" {
		// The merged delivery may come after the push's.
		if num, _, gerr := w.e.deps.Merged.MergedPR(ctx, ev.Repo, ev.SHA); gerr == nil {
			n = num
		} else {
			w.log.Warn("find the merged pull request on GitHub", "err", w.redactor.String(gerr.Error()))
		}
	}
	w.mu.Lock()
	w.merged = &n
	w.mu.Unlock()
	return n
}

// changeAuthor is who made the change a deploy applies: the merged pull request's author, else whoever
// pushed or asked for the run.
func (w *work) changeAuthor(ctx context.Context) string {
	ev := w.run.Event
	if pr := w.mergedPR(ctx); pr != 0 {
		if runs, err := w.e.deps.Store.ListRuns(ctx, store.ListFilter{Repo: ev.Repo, PR: pr, Limit: 20}); err == nil {
			for _, r := range runs {
				if r.Event.Author != "" {
					return r.Event.Author
				}
			}
		}
	}
	return ev.Sender
}

// awaitingError ends an environment's deploy for now: it waits for a decision, and the run comes back.
type awaitingError struct {
	env      string
	approval store.Approval
}

func (e *awaitingError) Error() string { return e.env + " awaits approval" }

// errSupersededApproval: a newer deploy took over while env waited; nothing failed.
var errSupersededApproval = errors.New("superseded while awaiting approval")

// approvedPlanKept reports whether env's saved plan must be kept rather than made again: it was put to a
// person (approved, rejected, expired, superseded or still waiting), so only that plan may be applied.
func (w *work) approvedPlanKept(ctx context.Context, env string) bool {
	st, ok := w.stage(store.StageKey{Env: env, Name: StagePlan})
	if !ok || st.Status != store.StageSucceeded {
		return false
	}
	a, err := w.e.deps.Store.CurrentApproval(ctx, w.run.ID, env)
	return err == nil && a.State != store.ApprovalStale
}

func (w *work) markPlanned(env string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.planned == nil {
		w.planned = map[string]bool{}
	}
	w.planned[env] = true
}

// wasPlanned reports whether env's plan was made in this execution (its Terraform data directory is then
// still initialised).
func (w *work) wasPlanned(env string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.planned[env]
}

// Parts of an environment's notes on the merged pull request.
const (
	noteReview   = "#review"   // how the plan differs from the reviewed one
	noteApproval = "#approval" // waiting for approval, or the decision
)

// setNote sets one part of the Markdown the merged pull request's deploy comment shows for env.
func (w *work) setNote(env, part, md string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.notes == nil {
		w.notes = map[string]string{}
	}
	w.notes[env+part] = md
}

// deployNote is what a deployment's record says besides its plan summary.
func (w *work) deployNote(env string, planOut map[string]string) string {
	var parts []string
	if r := planOut["review"]; r != "" {
		parts = append(parts, r)
	}
	w.mu.Lock()
	for _, a := range w.decisions {
		if a.Env == env {
			parts = append(parts, decisionLine(a))
		}
	}
	w.mu.Unlock()
	switch ev := w.run.Event; ev.Kind {
	case event.KindRollback:
		parts = append(parts, "rollback requested by "+ev.RequestedBy)
	case event.KindFix:
		parts = append(parts, "apply to fix drift requested by "+ev.RequestedBy)
	}
	return strings.Join(parts, "; ")
}
