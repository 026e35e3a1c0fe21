package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitops-runner/runner/internal/config"
)

// savedPlanFiles lists env's saved plan files of this run, by the name they are kept under.
func (w *work) savedPlanFiles(env config.Environment) (map[string]string, error) {
	if single(env) {
		return map[string]string{env.Name + ".tfplan": w.planFile(env.Name)}, nil
	}
	paths, err := filepath.Glob(filepath.Join(w.planDir(env.Name), "*.tfplan"))
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(paths))
	for _, p := range paths {
		out[filepath.Base(p)] = p
	}
	return out, nil
}

// keepPlans hands env's saved plans, made in this execution and about to wait for a decision, to the plan
// keeper, so that whichever replica resumes the run once it is decided applies exactly them. A failure is
// logged: the run is then resumed with its plans only on this replica, and elsewhere plans again (and asks
// again).
func (w *work) keepPlans(ctx context.Context, env config.Environment) {
	if w.e.deps.Plans == nil {
		return
	}
	log := w.logFor(env.Name)
	paths, err := w.savedPlanFiles(env)
	if err != nil {
		fmt.Fprintf(log, "warning: the saved plans of %s are not kept for other replicas: %v\n", env.Name, err)
		return
	}
	files := make(map[string][]byte, len(paths))
	for name, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintf(log, "warning: the saved plans of %s are not kept for other replicas: %v\n", env.Name, err)
			return
		}
		files[name] = b
	}
	if err := w.e.deps.Plans.Keep(ctx, w.run.ID, env.Name, files); err != nil {
		fmt.Fprintf(log, "warning: the saved plans of %s are not kept for other replicas: %v\n", env.Name, err)
	}
}

// restorePlans brings env's kept plans back into this run's work tree when they are not there: the run was
// planned on another replica (or before this replica's disk was lost). What is restored is checked against
// the approved checksum before it is applied, like a plan made here; nothing kept leaves the run to plan
// again.
func (w *work) restorePlans(ctx context.Context, env config.Environment) {
	if w.e.deps.Plans == nil {
		return
	}
	if _, err := w.planDigest(env.Name); err == nil {
		return // made here: still on disk
	}
	log := w.logFor(env.Name)
	files, err := w.e.deps.Plans.Fetch(ctx, w.run.ID, env.Name)
	if err != nil {
		fmt.Fprintf(log, "the kept plans of %s cannot be read (%v): planning again\n", env.Name, err)
		return
	}
	if len(files) == 0 {
		return
	}
	dir := filepath.Join(w.dir, "plans")
	if !single(env) {
		dir = w.planDir(env.Name)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		fmt.Fprintf(log, "the kept plans of %s cannot be restored (%v): planning again\n", env.Name, err)
		return
	}
	for name, b := range files {
		if name != filepath.Base(name) || !strings.HasSuffix(name, ".tfplan") || strings.HasPrefix(name, ".") {
			fmt.Fprintf(log, "the kept plans of %s hold an unexpected name %q: planning again\n", env.Name, name)
			return
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o640); err != nil {
			fmt.Fprintf(log, "the kept plans of %s cannot be restored (%v): planning again\n", env.Name, err)
			return
		}
	}
	fmt.Fprintf(log, "restored %d saved plan(s) of %s made by another replica\n", len(files), env.Name)
}
