package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"

	"github.com/gitops-runner/runner/internal/changes"
	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/tf"
)

// planPR plans every environment a pull request affects, in parallel (bounded),
// each under its environment's lock, and reports each plan on the pull request.
func (w *work) planPR(ctx context.Context) (string, string) {
	ev := w.run.Event
	base, err := w.mirror.MergeBase(ctx, ev.BaseSHA, ev.SHA)
	if err != nil {
		return store.StatusFailed, fmt.Sprintf("merge base of %s and %s: %v", short(ev.BaseSHA), short(ev.SHA), err)
	}
	changed, err := w.mirror.ChangedFiles(ctx, base, ev.SHA)
	if err != nil {
		return store.StatusFailed, fmt.Sprintf("changed files: %v", err)
	}
	named := map[string]bool{}
	for _, e := range ev.Envs {
		named[e] = true
	}
	res, err := changes.AffectedWith(w.repo, w.cfg, changed, changes.Options{AllProjects: named, Cache: w.e.detected})
	if err != nil {
		w.planComment(ctx, detectionKey, "### Change detection failed\n\n```\n"+fence(w.redactor.String(err.Error()))+"\n```\n", "")
		return store.StatusFailed, fmt.Sprintf("change detection: %v", err)
	}
	w.detectionNotes(ctx, res)
	if len(ev.Envs) > 0 {
		// A plan command named its environments: those are planned, affected or not.
		var unknown []string
		for _, e := range ev.Envs {
			if _, ok := w.cfg.Environment(e); !ok {
				unknown = append(unknown, e)
			}
		}
		if len(unknown) > 0 {
			w.planComment(ctx, notPlannedKey, "### Not planned\n\nNo environment is called "+escapeMarkdown(strings.Join(unknown, ", "))+
				" in this pull request's `.runner.yaml`.\n", "")
			return store.StatusFailed, "unknown environment " + strings.Join(unknown, ", ")
		}
		res.Environments = ev.Envs
	}
	if err := w.e.deps.Store.SetRunScope(ctx, w.run.ID, changed, res.Environments, res.Apps); err != nil {
		return store.StatusFailed, err.Error()
	}
	w.configChanges(ctx, base, changed)
	if len(res.Environments) == 0 {
		return store.StatusNothing, "the pull request affects no environment"
	}
	if err := w.widen(ctx, res.Environments, nil); err != nil {
		return store.StatusFailed, err.Error()
	}
	var keys []store.StageKey
	for _, env := range res.Environments {
		keys = append(keys, store.StageKey{Env: env, Name: StagePlan})
	}
	if err := w.addStages(ctx, keys); err != nil {
		return store.StatusFailed, err.Error()
	}
	if iso := w.e.opts.Isolation; !iso.Isolated && !iso.AllowUnisolated {
		// Pull-request code would run with the runner's privileges: plan nothing.
		why := "not planned: Terraform cannot run isolated on this runner (" + iso.Describe + ")"
		for _, env := range res.Environments {
			w.prStatus(ctx, env, "error", "not planned: the runner cannot isolate Terraform")
			w.planComment(ctx, env, "### Not planned\n\n"+unisolatedRefusal(iso), "")
		}
		return store.StatusFailed, why + "; set RUNNER_UNSAFE_UNISOLATED_PLANS=true to plan anyway"
	}
	if iso := w.e.opts.Isolation; !iso.Isolated {
		w.log.Warn("planning a pull request WITHOUT isolation (RUNNER_UNSAFE_UNISOLATED_PLANS=true): its code can read the runner's secrets",
			"pr", w.run.Event.PR, "why", iso.Describe)
	}
	for _, env := range res.Environments {
		w.prStatus(ctx, env, "pending", "plan queued")
	}
	// Every environment's session before any plan starts: each joins the run's redactor, which must
	// not change while plans run in parallel. A failure shows in that environment's plan.
	for _, name := range res.Environments {
		_, _ = w.grant(ctx, name)
		if env, ok := w.cfg.Environment(name); ok {
			if err := w.preparePlanDir(env); err != nil {
				return store.StatusFailed, err.Error()
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(w.dir, "plans"), 0o750); err != nil {
		return store.StatusFailed, fmt.Sprintf("plan dir: %v", err)
	}
	sem := make(chan struct{}, w.e.opts.PlanParallelism)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
		waiting  *WaitingError
	)
	for _, name := range res.Environments {
		env, ok := w.cfg.Environment(name)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if err := w.planOnePR(ctx, env, res.Projects[env.Name]); err != nil {
				mu.Lock()
				if !errors.As(err, &waiting) {
					failures = append(failures, env.Name)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		// Stopping: environments that never got a slot are not planned; the run resumes.
		return store.StatusCancelled, ctx.Err().Error()
	}
	if len(failures) == 0 && waiting != nil {
		// Environments planned so far keep their results; the run comes back for the rest.
		w.waiting = waiting
		return statusWaiting, waiting.Error()
	}
	if len(failures) > 0 {
		return store.StatusFailed, "plan failed for " + strings.Join(failures, ", ")
	}
	return store.StatusSucceeded, ""
}

func (w *work) planOnePR(ctx context.Context, env config.Environment, projects []string) error {
	key := store.StageKey{Env: env.Name, Name: StagePlan}
	if st, ok := w.stage(key); ok && st.Status == store.StageSucceeded {
		// Planned in an earlier attempt (before the run waited for another
		// environment's lock): nothing to lock, plan or post again.
		return nil
	}
	lctx, release, err := w.lockEnv(ctx, env.Name, key, w.e.opts.LockPoll*5)
	var waiting *WaitingError
	if errors.As(err, &waiting) {
		w.prStatus(ctx, env.Name, "pending", "waiting for the environment lock")
		return err
	}
	if err != nil {
		if ctx.Err() == nil {
			w.prStatus(ctx, env.Name, "error", "could not take the environment lock")
		}
		return err
	}
	defer release()
	w.prStatus(ctx, env.Name, "pending", "planning")
	var result PlanResult
	_, err = w.runStage(lctx, key, false, func(ctx context.Context, log io.Writer) (string, map[string]string, error) {
		r, err := w.planEnv(ctx, env, projects, w.lastDeployedVars(ctx, env), log)
		result = r
		if err != nil {
			return "", nil, err
		}
		out := map[string]string{"summary": summaryLine(r.Summary)}
		w.planOutputs(ctx, env.Name, r, out, log)
		recordPolicy(r, out)
		return summaryLine(r.Summary), out, nil
	})
	if err == nil && len(result.PolicyFailures) > 0 {
		err = w.prPolicy(ctx, env.Name, result)
	}
	var partial *ProjectsFailed
	if err != nil {
		if ctx.Err() == nil {
			if errors.Is(err, errPolicy) {
				// Planned: the comment shows the plan and what the policy checks found.
				w.planOutcome(ctx, env.Name, "failure", firstLine(w.redactor.String(err.Error())), &result, nil)
				w.projectOutcomes(ctx, env, result, true)
				w.planComment(ctx, env.Name, w.note(env.Name)+w.redactor.String(result.Markdown()), w.redactor.String(result.Text))
			} else if errors.As(err, &partial) && len(result.Projects) > 0 {
				// Each project has its section; the ones that failed say why, the others show their plans.
				w.planOutcome(ctx, env.Name, "failure", "plan failed for "+strings.Join(partial.Names, ", "), &result, err)
				w.projectOutcomes(ctx, env, result, false)
				w.planComment(ctx, env.Name, w.note(env.Name)+w.redactor.String(result.Markdown()), w.redactor.String(result.Text))
			} else {
				w.planOutcome(ctx, env.Name, "failure", "plan failed: "+firstLine(w.redactor.String(err.Error())), nil, err)
				body := "### Plan failed\n\n```\n" + fence(w.redactor.String(err.Error())) + "\n```\n"
				if result.Steps != "" {
					body += "\n" + w.redactor.String(result.Steps)
				}
				w.planComment(ctx, env.Name, body, "")
			}
		}
		return err
	}
	if result.Summary.Environment == "" {
		// Stage already done in an earlier attempt: nothing new to post.
		return nil
	}
	// Deliveries can arrive out of order: an older head's plan never overwrites
	// the comment of a newer one (its commit status is its own).
	if newer := w.supersededBy(ctx); newer != "" {
		w.log.Info("plan superseded by a newer head; comment left alone", "env", env.Name, "newer", short(newer))
	} else {
		w.planComment(ctx, env.Name, w.note(env.Name)+w.redactor.String(result.Markdown()), w.redactor.String(result.Text))
	}
	w.planOutcome(ctx, env.Name, "success", summaryLine(result.Summary), &result, nil)
	w.projectOutcomes(ctx, env, result, false)
	return nil
}

// plan runs terraform init + plan + show for one project of the work tree.
func (w *work) plan(ctx context.Context, env config.Environment, p config.Project, vars map[string]string, log io.Writer) (PlanResult, error) {
	if w.e.deps.Terraform == nil {
		return PlanResult{}, errors.New("no Terraform runner configured")
	}
	if p.TerraformVersion != "" {
		if err := w.policyFor().CheckTerraform(p.TerraformVersion); err != nil {
			return PlanResult{}, fmt.Errorf("project %s: %w", p.Name, err)
		}
	}
	dir := filepath.Join(w.src, filepath.FromSlash(p.Dir))
	planFile := w.projectPlanFile(env, p)
	if err := os.MkdirAll(filepath.Dir(planFile), 0o750); err != nil {
		return PlanResult{}, fmt.Errorf("plan dir: %w", err)
	}
	declared, err := declaredVars(dir)
	if err != nil {
		// Terraform itself says what is wrong, with the file and line; inputs cannot be matched
		// to variables meanwhile, so none is passed.
		fmt.Fprintf(log, "note: the configuration of %s does not parse; Terraform will say where\n", p.Dir)
		declared = map[string]bool{}
	}
	g, err := w.grant(ctx, env.Name)
	if err != nil {
		return PlanResult{}, err
	}
	if g.Note != "" {
		fmt.Fprintf(log, "note: %s\n", g.Note)
	}
	use := map[string]string{}
	for k, v := range p.Vars {
		use[k] = v
	}
	for k, v := range w.phaseVars(env.Name) {
		use[k] = v
	}
	for k, v := range vars {
		if v != "" {
			use[k] = v
		}
	}
	for k := range use {
		if !declared[k] {
			fmt.Fprintf(log, "note: %s is not a variable of %s; not passed\n", k, p.Dir)
			delete(use, k)
		}
	}
	wf, ok := w.cfg.Workflow(p.Workflow)
	if !ok {
		return PlanResult{}, fmt.Errorf("project %s: no workflow %q", p.Name, p.Workflow)
	}
	beforeInit, afterInit, after := phaseSteps(wf.Plan, config.StepPlan)
	sr := w.newStepRun(env, p, g.Env, log)
	if err := sr.run(ctx, beforeInit, ""); err != nil {
		return PlanResult{Steps: sr.section()}, err
	}
	req := PlanRequest{
		Env: env.Name, Root: rootOf(env, p), Dir: dir, WorkTree: w.dir, Phase: w.phase(), PlanFile: planFile, Vars: use,
		Environ: g.Env, Log: log, Attempt: w.tfAttempt(ctx, env.Name),
	}
	if len(after) > 0 {
		// Steps after the plan (policy steps) read its JSON form; written only for them (1 MB for 500 resources).
		req.PlanJSON = planFile + ".json"
	}
	if len(afterInit) > 0 {
		req.AfterInit = func(ctx context.Context) error { return sr.run(ctx, afterInit, "") }
	}
	r, err := w.e.deps.Terraform.Plan(ctx, req)
	if err == nil {
		err = sr.run(ctx, after, planFile)
	}
	r.Steps, r.PolicyFailures = sr.section(), sr.policy
	return r, err
}

// declaredVars lists the input variables a Terraform root declares.
func declaredVars(dir string) (map[string]bool, error) {
	mod, diags := tfconfig.LoadModule(dir)
	if diags.HasErrors() {
		return nil, fmt.Errorf("read %s: %w", dir, diags.Err())
	}
	out := make(map[string]bool, len(mod.Variables))
	for name := range mod.Variables {
		out[name] = true
	}
	return out, nil
}

// lastDeployedVars are the app versions last deployed to env, so a plan or an
// infrastructure-only deploy never rolls an app back.
func (w *work) lastDeployedVars(ctx context.Context, env config.Environment) map[string]string {
	d, err := w.e.deps.Store.LastDeployment(ctx, w.run.Event.Repo, env.Name)
	if err != nil {
		return map[string]string{}
	}
	return map[string]string{"backend_image": d.BackendImage, "frontend_version": d.FrontendVersion}
}

func (w *work) runURL() string {
	if w.e.opts.PublicURL == "" {
		return ""
	}
	return fmt.Sprintf("%s/api/runs/%d", strings.TrimRight(w.e.opts.PublicURL, "/"), w.run.ID)
}

func (w *work) prStatus(ctx context.Context, env, state, desc string) {
	w.setStatus(ctx, "runner/plan: "+env, state, desc)
}

// planOutcome reports a finished plan of env: a check run with the plan (GitHub App), else a commit status.
func (w *work) planOutcome(ctx context.Context, env, state, desc string, result *PlanResult, failure error) {
	if w.e.deps.Checks != nil {
		w.planCheck(ctx, "runner/plan: "+env, env, state, desc, result, failure)
		return
	}
	w.prStatus(ctx, env, state, desc)
}

// setStatus posts a commit status on the run's commit (never failing the run); with a GitHub App, a check
// run of that name instead.
func (w *work) setStatus(ctx context.Context, statusContext, state, desc string) {
	if w.e.deps.Checks != nil {
		env := strings.TrimPrefix(statusContext, "runner/plan: ")
		w.planCheck(ctx, statusContext, env, state, desc, nil, nil)
		return
	}
	if w.e.deps.PRs == nil || (w.cfg != nil && !w.cfg.Notify.GitHub.Statuses) {
		return
	}
	ev := w.run.Event
	if err := w.e.deps.PRs.SetStatus(context.WithoutCancel(ctx), ev.Repo, ev.SHA, statusContext, state, desc, w.runURL()); err != nil {
		w.log.Warn("post commit status", "context", statusContext, "err", w.redactor.String(err.Error()))
	}
}

func (w *work) planComment(ctx context.Context, env, summary, text string) {
	if w.e.deps.PRs == nil || (w.cfg != nil && !w.cfg.Notify.GitHub.Comments) {
		return
	}
	ev := w.run.Event
	head := fmt.Sprintf("Commit `%s`", short(ev.SHA))
	if u := w.runURL(); u != "" {
		head += fmt.Sprintf(" · [run %d](%s)", w.run.ID, u)
	}
	if iso := w.e.opts.Isolation; !iso.Isolated && iso.AllowUnisolated && ev.Kind == event.KindPlan {
		head += "\n\n> [!WARNING]\n> Planned **without isolation** (`RUNNER_UNSAFE_UNISOLATED_PLANS=true`): this pull request's " +
			"Terraform ran with the runner's own privileges."
	}
	if err := w.e.deps.PRs.UpsertPlanComment(context.WithoutCancel(ctx), ev.Repo, ev.PR, env, head+"\n\n"+summary, text); err != nil {
		w.log.Warn("post plan comment", "env", env, "err", w.redactor.String(err.Error()))
	}
}

// summaryLine is a plan's one-line description, for statuses and stage details.
func summaryLine(s tf.Summary) string {
	if s.NoChanges {
		return "no changes"
	}
	return fmt.Sprintf("%d to add, %d to change, %d to destroy, %d to replace", s.Add, s.Change, s.Destroy, s.Replace)
}

// supersededBy returns the pull request's head when it is no longer this run's
// commit, or "". When GitHub cannot say, it falls back to the head SHA of another
// run of the same pull request that descends from this run's head (a later push).
func (w *work) supersededBy(ctx context.Context) string {
	ev := w.run.Event
	// GitHub knows the pull request's head now: a plan of any other commit is
	// stale, whatever the order deliveries came in and even after a force-push
	// (where the newer head does not descend from this one).
	if w.e.deps.PRs != nil {
		head, err := w.e.deps.PRs.PullHead(ctx, ev.Repo, ev.PR)
		if err == nil {
			if head != ev.SHA {
				return head
			}
			return ""
		}
		w.log.Warn("read the pull request's head; judging by commit ancestry", "pr", ev.PR, "err", w.redactor.String(err.Error()))
	}
	runs, err := w.e.deps.Store.ListRuns(ctx, store.ListFilter{Repo: ev.Repo, PR: ev.PR, Limit: 20})
	if err != nil {
		return ""
	}
	for _, r := range runs {
		if r.ID == w.run.ID || r.Event.Kind != ev.Kind || r.Event.SHA == ev.SHA || !w.mirror.HasCommit(r.Event.SHA) {
			continue
		}
		if base, err := w.mirror.MergeBase(ctx, ev.SHA, r.Event.SHA); err == nil && base == ev.SHA {
			return r.Event.SHA
		}
	}
	return ""
}

// phase is the Terraform phase of this run's work: a pull request, and a drift check, plan with plan
// credentials; a deploy plans and applies with apply credentials.
func (w *work) phase() string {
	if k := w.run.Event.Kind; k == event.KindPlan || k == event.KindDrift {
		return PhasePlan
	}
	return PhaseApply
}

// unisolatedRefusal explains on the pull request why it was not planned.
func unisolatedRefusal(iso Isolation) string {
	return "This runner cannot run Terraform isolated (" + iso.Describe + "), so it does not plan pull requests: " +
		"their code could read the runner's credentials.\n\n" +
		"An operator can run the runner as root in its container (it then runs Terraform as a separate user, " +
		"in its own namespaces where the kernel allows), or accept the risk with `RUNNER_UNSAFE_UNISOLATED_PLANS=true`.\n"
}
