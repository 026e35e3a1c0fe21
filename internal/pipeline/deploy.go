package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
)

// target is one environment a push deploys, with what changed for it.
type target struct {
	env     config.Environment
	base    string   // last deployed SHA, or the push's before
	changed []string // base..sha
	apps    []string // apps changed for this environment
	reason  []string
	// projects are the environment's projects to plan and apply: those the change affects, and those
	// taking a changed app's version.
	projects []string
}

// deploy handles a push: for every environment that deploys from the pushed
// branch and is affected since its last successful deploy, it builds the apps
// that changed, then per environment in order and under its lock plans, applies
// and rolls the fleets. The first failure stops the environments after it.
func (w *work) deploy(ctx context.Context) (string, string) {
	ev := w.run.Event
	branch := event.Branch(ev.Ref)
	var targets []target
	var onBranch []string
	for _, env := range w.cfg.Ordered() {
		if env.Branch != branch {
			continue
		}
		onBranch = append(onBranch, env.Name)
		t, err := w.target(ctx, env)
		if err != nil {
			return store.StatusFailed, err.Error()
		}
		if t != nil {
			targets = append(targets, *t)
		}
	}
	if len(onBranch) == 0 {
		return store.StatusNothing, fmt.Sprintf("no environment deploys from branch %s: the default branch's %s and the server policy decide, not the pushed commit's",
			branch, config.RepoFile)
	}
	changed, envNames, apps := scopeOf(targets)
	if err := w.e.deps.Store.SetRunScope(ctx, w.run.ID, changed, envNames, apps); err != nil {
		return store.StatusFailed, err.Error()
	}
	if len(targets) == 0 {
		return store.StatusNothing, "no environment is affected since its last deploy"
	}
	if err := w.widen(ctx, envNames, apps); err != nil {
		return store.StatusFailed, err.Error()
	}
	w.supersedeWaiting(ctx)

	// Stages: images once per run, then per environment in order.
	var keys []store.StageKey
	for _, a := range apps {
		if app, ok := w.cfg.App(a); ok && app.Kind == config.AppKindImage {
			keys = append(keys, store.StageKey{Name: StageImage + ":" + a})
		}
	}
	for _, t := range targets {
		for _, a := range t.apps {
			if app, ok := w.cfg.App(a); ok && app.Kind == config.AppKindBundle {
				keys = append(keys, store.StageKey{Env: t.env.Name, Name: StageBundle + ":" + a})
			}
		}
		keys = append(keys, store.StageKey{Env: t.env.Name, Name: StagePlan})
		if pe, _ := w.eff.Environment(t.env.Name); t.env.RequireApproval || pe.Protected {
			keys = append(keys, store.StageKey{Env: t.env.Name, Name: StageApproval})
		}
		if _, ok := w.migrator(apps); ok {
			keys = append(keys, store.StageKey{Env: t.env.Name, Name: StageMigrate})
		}
		keys = append(keys,
			store.StageKey{Env: t.env.Name, Name: StageApply},
			store.StageKey{Env: t.env.Name, Name: StageService},
			store.StageKey{Env: t.env.Name, Name: StageRefresh})
	}
	if err := w.addStages(ctx, keys); err != nil {
		return store.StatusFailed, err.Error()
	}
	w.story = w.newStory(ctx, targets)
	defer w.story.close(ctx)

	images, err := w.buildImages(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return store.StatusCancelled, ctx.Err().Error()
		}
		for _, t := range targets {
			w.skipEnv(ctx, t.env.Name, "not deployed: an image build failed")
		}
		w.story.finish(ctx)
		return store.StatusFailed, err.Error()
	}
	return w.deployTargets(ctx, targets, images)
}

// deployTargets deploys each target in order. An environment waiting for approval stops the run for now
// (the environments after it wait too); the first failure stops the environments after it.
func (w *work) deployTargets(ctx context.Context, targets []target, images map[string]string) (string, string) {
	for i, t := range targets {
		err := w.deployEnv(ctx, t, images)
		var waiting *awaitingError
		switch {
		case errors.As(err, &waiting):
			a := waiting.approval
			after := min(time.Until(a.Expires)+time.Second, w.e.opts.ApprovalPoll)
			w.waiting = &WaitingError{Reason: fmt.Sprintf("%s awaits approval until %s", t.env.Name, a.Expires.Format(time.RFC3339)), After: after}
			return statusWaiting, w.waiting.Error()
		case errors.Is(err, errSupersededApproval):
			for _, later := range targets[i+1:] {
				w.skipEnvBecause(ctx, later.env.Name, skipped{why: "not deployed: " + waitingSupersededWhy(t.env.Name), superseded: true})
			}
			w.story.finish(ctx)
			return store.StatusSucceeded, ""
		}
		if err != nil {
			if ctx.Err() != nil {
				return store.StatusCancelled, ctx.Err().Error()
			}
			for _, later := range targets[i+1:] {
				w.skipEnv(ctx, later.env.Name, "not deployed: "+t.env.Name+" failed")
			}
			w.story.finish(ctx)
			return store.StatusFailed, fmt.Sprintf("deploy of %s failed: %v", t.env.Name, err)
		}
	}
	w.story.finish(ctx)
	return store.StatusSucceeded, ""
}

func waitingSupersededWhy(env string) string {
	return "a newer deploy superseded this one while " + env + " awaited approval"
}

// target works out whether env is affected by this push, diffing from its last
// successful deploy (so a failed deploy is retried by the next push).
func (w *work) target(ctx context.Context, env config.Environment) (*target, error) {
	ev := w.run.Event
	base, reason := "", ""
	if d, err := w.e.deps.Store.LastDeployment(ctx, ev.Repo, env.Name); err == nil && w.mirror.HasCommit(d.SHA) {
		base, reason = d.SHA, "since last deploy "+short(d.SHA)
	} else if !zeroOrEmpty(ev.BaseSHA) && w.mirror.HasCommit(ev.BaseSHA) {
		base, reason = ev.BaseSHA, "since "+short(ev.BaseSHA)+" (no earlier deploy recorded)"
	} else {
		reason = "first deploy: every file counts as changed"
	}
	if base == ev.SHA {
		return nil, nil
	}
	changed, err := w.mirror.ChangedFiles(ctx, base, ev.SHA)
	if err != nil {
		return nil, fmt.Errorf("changed files for %s: %w", env.Name, err)
	}
	res, err := w.affected(changed)
	if err != nil {
		return nil, fmt.Errorf("change detection for %s: %w", env.Name, err)
	}
	if !contains(res.Environments, env.Name) && len(res.Apps) == 0 {
		return nil, nil
	}
	t := &target{env: env, base: base, changed: changed, apps: res.Apps, reason: []string{reason}, projects: res.Projects[env.Name]}
	t.reason = append(t.reason, res.Reasons[env.Name]...)
	if len(res.Apps) > 0 {
		for _, p := range w.appProjects(env) {
			if !contains(t.projects, p) {
				t.projects = append(t.projects, p)
			}
		}
	}
	return t, nil
}

func scopeOf(ts []target) (changed, envs, apps []string) {
	seen := map[string]bool{}
	seenApp := map[string]bool{}
	for _, t := range ts {
		envs = append(envs, t.env.Name)
		for _, f := range t.changed {
			if !seen[f] {
				seen[f] = true
				changed = append(changed, f)
			}
		}
		for _, a := range t.apps {
			if !seenApp[a] {
				seenApp[a] = true
				apps = append(apps, a)
			}
		}
	}
	sort.Strings(changed)
	sort.Strings(apps)
	return changed, envs, apps
}

// buildImages builds and pushes each changed image app once. It returns app -> repository@digest.
func (w *work) buildImages(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for _, st := range w.snapshot() {
		if st.Env != "" || !strings.HasPrefix(st.Name, StageImage+":") {
			continue
		}
		name := strings.TrimPrefix(st.Name, StageImage+":")
		app, _ := w.cfg.App(name)
		res, err := w.runStage(ctx, store.StageKey{Name: st.Name}, false, func(ctx context.Context, log io.Writer) (string, map[string]string, error) {
			if w.e.deps.Images == nil {
				return "", nil, errors.New("no image builder configured (set up the registry)")
			}
			created, _ := w.mirror.CommitTime(w.run.Event.SHA)
			ref, err := w.e.deps.Images.BuildAndPush(ctx, ImageRequest{
				App: app, Dir: filepath.Join(w.src, filepath.FromSlash(app.Path)), Revision: w.run.Event.SHA,
				SourceURL: sourceURL(w.run.Event), Created: created, Log: log,
			})
			if err != nil {
				return "", nil, err
			}
			return "pushed " + ref, map[string]string{"ref": ref}, nil
		})
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", name, err)
		}
		out[name] = res["ref"]
	}
	return out, nil
}

func sourceURL(ev event.Event) string {
	u := strings.TrimSuffix(ev.CloneURL, ".git")
	return u
}

// deployEnv runs one environment's stages under its lock.
func (w *work) deployEnv(ctx context.Context, t target, images map[string]string) error {
	env := t.env
	planKey := store.StageKey{Env: env.Name, Name: StagePlan}
	w.story.envStarted(ctx, env.Name)
	// The environment's session before its stages start (they redact its secrets); a failure shows
	// in its plan stage.
	_, _ = w.grant(ctx, env.Name)
	var (
		lctx    context.Context
		release func()
		err     error
	)
	for {
		// A deploy keeps its worker while it waits, checking now and then whether
		// a newer push's deploy is on its way: that one carries this commit's
		// changes too (it diffs from the last deploy), so this run steps aside
		// and frees its worker instead of deploying what is about to be replaced.
		lctx, release, err = w.lockEnv(ctx, env.Name, planKey, w.e.opts.LockPoll*10)
		var waiting *WaitingError
		if !errors.As(err, &waiting) {
			break
		}
		if newer := w.newerDeployPending(ctx); newer != nil {
			w.skipEnvBecause(ctx, env.Name, skipped{
				why:        fmt.Sprintf("not deployed: superseded by run %d (newer commit %s)", newer.ID, short(newer.Event.SHA)),
				superseded: true,
			})
			return nil
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			w.story.envDone(ctx, env.Name, err)
		}
		return err
	}
	defer release()
	if newer := w.deployedNewer(lctx, env.Name); newer != "" && w.run.Event.Kind != event.KindRollback {
		// Runs of two pushes can reach an environment in either order: the older
		// one never rolls back what the newer one deployed.
		w.skipEnvBecause(ctx, env.Name, skipped{why: "not deployed: newer commit " + short(newer) + " already deployed", superseded: true})
		return nil
	}
	err = w.deployLocked(lctx, t, images)
	var waiting *awaitingError
	if ctx.Err() == nil && !errors.As(err, &waiting) {
		w.story.envDone(ctx, env.Name, err)
	}
	return err
}

// newerDeployPending returns an unfinished deploy run of the same branch whose
// commit descends from this run's (a later push), or nil. Its commit is fetched
// into the mirror when needed (it may not have started yet).
func (w *work) newerDeployPending(ctx context.Context) *store.Run {
	ev := w.run.Event
	runs, err := w.e.deps.Store.ListRuns(ctx, store.ListFilter{Repo: ev.Repo, Limit: 50})
	if err != nil {
		return nil
	}
	for _, r := range runs {
		if r.ID == w.run.ID || r.Event.Kind != ev.Kind || r.Event.Ref != ev.Ref || r.Event.SHA == ev.SHA || store.Finished(r.Status) {
			continue
		}
		if !w.mirror.HasCommit(r.Event.SHA) {
			if _, err := w.e.deps.Git.Sync(ctx, ev.CloneURL, r.Event.SHA); err != nil || !w.mirror.HasCommit(r.Event.SHA) {
				continue
			}
		}
		if base, err := w.mirror.MergeBase(ctx, ev.SHA, r.Event.SHA); err == nil && base == ev.SHA {
			return &r
		}
	}
	return nil
}

// deployedNewer returns the SHA last deployed to env when it descends from this
// run's commit (a later push deployed first), or "".
func (w *work) deployedNewer(ctx context.Context, env string) string {
	ev := w.run.Event
	d, err := w.e.deps.Store.LastDeployment(ctx, ev.Repo, env)
	if err != nil || d.SHA == ev.SHA || !w.mirror.HasCommit(d.SHA) {
		return ""
	}
	if base, err := w.mirror.MergeBase(ctx, ev.SHA, d.SHA); err == nil && base == ev.SHA {
		return d.SHA
	}
	return ""
}

func (w *work) deployLocked(ctx context.Context, t target, images map[string]string) error {
	env := t.env
	vars := w.lastDeployedVars(ctx, env)
	last := map[string]string{"backend_image": vars["backend_image"], "frontend_version": vars["frontend_version"]}
	for _, ref := range images {
		vars["backend_image"] = ref // one image app per system: the backend
	}
	for k, v := range w.rollbackVars {
		if v != "" {
			vars[k] = v // the versions recorded for the commit rolled back to
		}
	}
	// Bundles for this environment.
	for _, a := range t.apps {
		app, ok := w.cfg.App(a)
		if !ok || app.Kind != config.AppKindBundle {
			continue
		}
		key := store.StageKey{Env: env.Name, Name: StageBundle + ":" + a}
		out, err := w.runStage(ctx, key, false, func(ctx context.Context, log io.Writer) (string, map[string]string, error) {
			if w.e.deps.Bundles == nil {
				return "", nil, errors.New("no bundle builder configured")
			}
			bucket, err := w.artifactsBucket(ctx, env, log)
			if err != nil {
				return "", nil, err
			}
			v, err := w.e.deps.Bundles.BuildAndUpload(ctx, BundleRequest{
				App: app, Dir: filepath.Join(w.src, filepath.FromSlash(app.Path)), APIURL: env.APIURL,
				Bucket: bucket, Revision: w.run.Event.SHA, Log: log,
			})
			if err != nil {
				return "", nil, err
			}
			return "uploaded version " + short(v), map[string]string{"version": v}, nil
		})
		if err != nil {
			return w.envFailed(ctx, env, "bundle failed", vars, err)
		}
		vars["frontend_version"] = out["version"]
	}

	// Plan and apply. If the apply has not succeeded yet (first attempt or a resumed
	// run), plan again: a saved plan from an earlier attempt may be stale. The exception is a plan a person
	// approved: exactly that saved plan is applied, once its checksum and the environment are checked.
	applyKey := store.StageKey{Env: env.Name, Name: StageApply}
	applied := false
	if st, ok := w.stage(applyKey); ok && st.Status == store.StageSucceeded {
		applied = true
	}
	planKey := store.StageKey{Env: env.Name, Name: StagePlan}
	var (
		plan    PlanResult
		planOut map[string]string
		err     error
	)
	for attempt := 0; ; attempt++ {
		replan := !applied && (attempt > 0 || !w.approvedPlanKept(ctx, env.Name))
		planOut, err = w.runStage(ctx, planKey, replan, func(ctx context.Context, log io.Writer) (string, map[string]string, error) {
			fmt.Fprintf(log, "deploying %s: %s\n", env.Name, strings.Join(t.reason, "; "))
			r, err := w.planEnv(ctx, env, t.projects, vars, log)
			if err != nil {
				return "", nil, err
			}
			plan = r
			w.markPlanned(env.Name)
			out := map[string]string{"summary": summaryLine(r.Summary), "fleets": fleetsTouched(r)}
			w.planOutputs(ctx, env.Name, r, out, log)
			recordPolicy(r, out)
			if err := w.policyGate(ctx, env.Name, out, log); err != nil {
				return "", out, err
			}
			detail := out["summary"]
			if out["review"] != "" {
				detail += "; " + out["review"]
			}
			return detail, out, nil
		})
		if err != nil {
			return w.envFailed(ctx, env, "plan failed", vars, err)
		}
		need, why := w.needsApproval(env, planOut)
		if !need || applied {
			w.skipStage(ctx, store.StageKey{Env: env.Name, Name: StageApproval}, "not needed: "+cmp.Or(planOut["review"], "no approval required"))
			break
		}
		if w.wasPlanned(env.Name) {
			w.keepPlans(ctx, env)
		} else {
			w.restorePlans(ctx, env)
		}
		outcome, a, err := w.gate(ctx, env, planOut, why, w.wasPlanned(env.Name))
		if err != nil {
			return w.envFailed(ctx, env, "approval failed", vars, err)
		}
		switch outcome {
		case gateApply:
			w.decided(ctx, env.Name, a)
		case gateReplan:
			if attempt == 0 {
				continue
			}
			return w.envFailed(ctx, env, "the approved plan could not be applied", vars, errors.New("the environment changed again while planning"))
		case gateWait:
			w.awaitApproval(ctx, env, a)
			return &awaitingError{env: env.Name, approval: a}
		case gateSuperseded:
			w.decided(ctx, env.Name, a)
			w.skipEnvBecause(ctx, env.Name, skipped{why: "not deployed: " + a.Reason, superseded: true})
			return errSupersededApproval
		default: // rejected, expired
			w.decided(ctx, env.Name, a)
			why := decisionLine(a)
			return w.envFailed(ctx, env, why, vars, errors.New(why))
		}
		break
	}
	// A run resumed after its apply did not plan again: what the applied plan
	// changed comes from the plan stage's recorded outputs.
	summary := cmp.Or(planOut["summary"], summaryLine(plan.Summary))
	fleets, fleetsKnown := planOut["fleets"]
	rolls := func(fleet string) bool {
		return !fleetsKnown || slices.Contains(strings.Split(fleets, ","), fleet)
	}
	// Migrations, before the apply rolls the service (or, on a first deploy, right after it).
	migrator, migrating := w.migrator(t.apps)
	migrateLater := false
	if migrating {
		if migrateLater, err = w.migrate(ctx, env, migrator, vars["backend_image"], last["backend_image"], false, nil); err != nil {
			return w.envFailed(ctx, env, "migration failed", vars, err)
		}
	}
	outputs, err := w.runStage(ctx, applyKey, false, func(ctx context.Context, log io.Writer) (string, map[string]string, error) {
		if err := w.checkLock(ctx, env.Name); err != nil {
			return "", nil, fmt.Errorf("apply %s: %w", env.Name, err)
		}
		g, err := w.grant(ctx, env.Name)
		if err != nil {
			return "", nil, err
		}
		if sum := planOut["plan_sha256"]; sum != "" {
			// Only the plan that was made (and shown, and approved where that is needed) is applied.
			got, err := w.planDigest(env.Name)
			if err != nil || got != sum {
				return "", nil, fmt.Errorf("the saved plan of %s changed after it was made (sha256 %s, want %s): not applied", env.Name, short(got), short(sum))
			}
			fmt.Fprintf(log, "saved plan sha256:%s verified\n", sum)
		}
		outs, err := w.applyEnv(ctx, env, g.Env, !w.wasPlanned(env.Name), log)
		if err != nil {
			return "", nil, err
		}
		return "applied: " + summary, outs, nil
	})
	if err != nil {
		return w.envFailed(ctx, env, "apply failed", vars, err)
	}
	if migrateLater {
		if _, err := w.migrate(ctx, env, migrator, vars["backend_image"], last["backend_image"], true, outputs); err != nil {
			return w.envFailed(ctx, env, "migration failed", vars, err)
		}
	}

	// Fleets.
	_, err = w.runStage(ctx, store.StageKey{Env: env.Name, Name: StageService}, false, func(ctx context.Context, log io.Writer) (string, map[string]string, error) {
		if vars["backend_image"] == last["backend_image"] && !rolls(fleetECS) {
			return "", nil, skip("backend unchanged")
		}
		cluster, service := outputs["ecs_cluster_name"], outputs["ecs_service_name"]
		if cluster == "" || service == "" {
			return "", nil, skip("environment has no ecs_cluster_name/ecs_service_name outputs")
		}
		if w.e.deps.Rollouts == nil {
			return "", nil, errors.New("no AWS rollout client configured")
		}
		d, err := w.e.deps.Rollouts.WaitService(ctx, cluster, service, log)
		return d, nil, err
	})
	if err != nil {
		return w.envFailed(ctx, env, "ECS service did not stabilise", vars, err)
	}
	_, err = w.runStage(ctx, store.StageKey{Env: env.Name, Name: StageRefresh}, false, func(ctx context.Context, log io.Writer) (string, map[string]string, error) {
		if vars["frontend_version"] == last["frontend_version"] && !rolls(fleetInstances) {
			return "", nil, skip("frontend unchanged")
		}
		asg := outputs["frontend_asg_name"]
		if asg == "" {
			return "", nil, skip("environment has no frontend_asg_name output")
		}
		if w.e.deps.Rollouts == nil {
			return "", nil, errors.New("no AWS rollout client configured")
		}
		d, err := w.e.deps.Rollouts.RefreshInstances(ctx, asg, env.Refresh, log)
		return d, nil, err
	})
	if err != nil {
		return w.envFailed(ctx, env, "instance refresh failed", vars, err)
	}
	w.recordDeploy(ctx, env, "succeeded", summary, vars, w.deployNote(env.Name, planOut))
	return nil
}

// artifactsBucket is the environment's bundle bucket: from .runner.yaml, else
// the artifacts_bucket output of the environment's current Terraform state.
func (w *work) artifactsBucket(ctx context.Context, env config.Environment, log io.Writer) (string, error) {
	if env.ArtifactsBucket != "" {
		return env.ArtifactsBucket, nil
	}
	if w.e.deps.Terraform == nil {
		return "", errors.New("no Terraform runner configured to read the artifacts_bucket output")
	}
	fmt.Fprintf(log, "reading the artifacts_bucket output of %s\n", env.Name)
	g, err := w.grant(ctx, env.Name)
	if err != nil {
		return "", err
	}
	outs, err := w.outputsEnv(ctx, env, g.Env, log)
	if err != nil && outs["artifacts_bucket"] == "" {
		return "", fmt.Errorf("read outputs of %s: %w", env.Name, err)
	}
	if outs["artifacts_bucket"] == "" {
		return "", fmt.Errorf("environment %s has no artifacts bucket yet: set artifacts_bucket in .runner.yaml, "+
			"or apply the environment once (its artifacts_bucket output names the bucket)", env.Name)
	}
	return outs["artifacts_bucket"], nil
}

// envFailed records an environment's failed deploy and skips its remaining
// stages. When the runner is stopping (ctx done, the lock not lost) nothing is
// recorded: the run is abandoned, not failed, and resumes on restart.
func (w *work) envFailed(ctx context.Context, env config.Environment, why string, vars map[string]string, err error) error {
	if ctx.Err() != nil && !errors.Is(context.Cause(ctx), errLockLost) {
		return err
	}
	w.skipRest(ctx, env.Name, "not run: "+why)
	w.recordDeploy(ctx, env, "failed", why, vars, "")
	return err
}

// The fleets an apply may have to roll, as recorded in the plan stage's "fleets" output.
const (
	fleetECS       = "ecs"       // the ECS service (task definition or service changed)
	fleetInstances = "instances" // the frontend ASG (launch template changed)
)

// fleetsTouched lists, comma-separated, the fleets a plan changes.
func fleetsTouched(p PlanResult) string {
	var out []string
	if touches(p, "aws_ecs_task_definition", "aws_ecs_service") {
		out = append(out, fleetECS)
	}
	if touches(p, "aws_launch_template") {
		out = append(out, fleetInstances)
	}
	return strings.Join(out, ",")
}

// touches reports whether a plan changes a resource of one of the given types.
func touches(p PlanResult, types ...string) bool {
	for _, r := range p.Summary.Resources {
		for _, t := range types {
			addr := r.Address
			if strings.HasPrefix(addr, t+".") || strings.Contains(addr, "."+t+".") {
				return true
			}
		}
	}
	return false
}

func (w *work) recordDeploy(ctx context.Context, env config.Environment, outcome, summary string, vars map[string]string, note string) {
	err := w.e.deps.Store.RecordDeployment(context.WithoutCancel(ctx), store.Deployment{
		Repo: w.run.Event.Repo, Env: env.Name, SHA: w.run.Event.SHA, RunID: w.run.ID, Outcome: outcome,
		Summary: summary, BackendImage: vars["backend_image"], FrontendVersion: vars["frontend_version"], Note: note,
	})
	if err != nil {
		w.log.Error("record deployment", "env", env.Name, "err", err)
	}
}

// skipEnv marks every stage of an environment skipped.
func (w *work) skipEnv(ctx context.Context, env, why string) {
	w.skipEnvBecause(ctx, env, skipped{why: why})
}

// skipEnvBecause marks every stage of env skipped and tells the story why.
func (w *work) skipEnvBecause(ctx context.Context, env string, why skipped) {
	for _, st := range w.snapshot() {
		if st.Env == env {
			w.skipStage(ctx, store.StageKey{Env: env, Name: st.Name}, why.why)
		}
	}
	w.story.envDone(ctx, env, why)
}

var errSkipped = errors.New("skipped")

// skipped is why an environment was not deployed; it matches errSkipped.
// superseded means a newer commit is already deployed there: nothing failed.
type skipped struct {
	why        string
	superseded bool
}

func (s skipped) Error() string        { return s.why }
func (s skipped) Is(target error) bool { return target == errSkipped }

// skipRest marks the environment's stages that have not run skipped.
func (w *work) skipRest(ctx context.Context, env, why string) {
	for _, st := range w.snapshot() {
		if st.Env == env && (st.Status == store.StagePending || st.Status == store.StageWaiting) {
			w.skipStage(ctx, store.StageKey{Env: env, Name: st.Name}, why)
		}
	}
}

// appProjects are the projects of env that take an app's version (declare backend_image or
// frontend_version); all of them when none does, so an app change still deploys the environment.
func (w *work) appProjects(env config.Environment) []string {
	var out []string
	for _, p := range env.Projects {
		declared, err := declaredVars(filepath.Join(w.src, filepath.FromSlash(p.Dir)))
		if err != nil || declared["backend_image"] || declared["frontend_version"] {
			out = append(out, p.Name)
		}
	}
	if len(out) == 0 {
		return env.ProjectNames()
	}
	return out
}
