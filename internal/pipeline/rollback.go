package pipeline

import (
	"context"
	"fmt"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
)

// rollback redeploys one environment at a commit that deployed there successfully before: Terraform at
// that commit, with the app versions recorded for it (the image by its digest: nothing is built), then the
// fleets roll, under the environment's lock and with its approvals, like any deploy. It is recorded as a
// deployment, so the next push diffs from it. A fix (apply to fix drift) is the same run at the environment's
// current commit: it applies only while that is still what is deployed.
func (w *work) rollback(ctx context.Context) (string, string) {
	ev := w.run.Event
	name := ev.Envs[0]
	env, ok := w.cfg.Environment(name)
	if !ok {
		return store.StatusFailed, fmt.Sprintf("no environment %s in the default branch's configuration", name)
	}
	deps, err := w.e.deps.Store.Succeeded(ctx, ev.Repo, name, 200)
	if err != nil {
		return store.StatusFailed, err.Error()
	}
	var recorded *store.Deployment
	for i := range deps {
		if deps[i].SHA == ev.SHA {
			recorded = &deps[i]
			break
		}
	}
	if recorded == nil {
		return store.StatusFailed, fmt.Sprintf("%s never deployed %s successfully: nothing recorded to roll back to", name, short(ev.SHA))
	}
	from := ""
	if len(deps) > 0 {
		from = deps[0].SHA
	}
	why := fmt.Sprintf("rollback from %s to %s (deployed by run %d), requested by %s", short(from), short(ev.SHA), recorded.RunID, ev.RequestedBy)
	if ev.Kind == event.KindFix {
		if from != ev.SHA {
			// Applying the old commit now would roll the newer deploy back: that is a rollback's to ask.
			return store.StatusNothing, fmt.Sprintf("not applied: %s has deployed %s since the fix was asked for %s; check it for drift again",
				name, short(from), short(ev.SHA))
		}
		why = fmt.Sprintf("apply to fix drift: %s again (deployed by run %d), requested by %s", short(ev.SHA), recorded.RunID, ev.RequestedBy)
	}
	t := target{env: env, base: from, reason: []string{why}}
	if ev.Comment != "" {
		t.reason = append(t.reason, "reason: "+ev.Comment)
	}
	if err := w.e.deps.Store.SetRunScope(ctx, w.run.ID, nil, []string{name}, nil); err != nil {
		return store.StatusFailed, err.Error()
	}
	keys := []store.StageKey{{Env: name, Name: StagePlan}}
	if pe, _ := w.eff.Environment(name); env.RequireApproval || pe.Protected {
		keys = append(keys, store.StageKey{Env: name, Name: StageApproval})
	}
	keys = append(keys, store.StageKey{Env: name, Name: StageApply}, store.StageKey{Env: name, Name: StageService},
		store.StageKey{Env: name, Name: StageRefresh})
	if err := w.addStages(ctx, keys); err != nil {
		return store.StatusFailed, err.Error()
	}
	w.rollbackVars = map[string]string{"backend_image": recorded.BackendImage, "frontend_version": recorded.FrontendVersion}
	w.story = w.newStory(ctx, []target{t})
	defer w.story.close(ctx)
	return w.deployTargets(ctx, []target{t}, nil)
}
