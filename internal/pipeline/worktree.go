package pipeline

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/gitops-runner/runner/internal/changes"
	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/gitrepo"
)

// A pull request's plan and a push's deploy start from a sparse work tree: .runner.yaml, every
// Terraform file (.tf, .tf.json, .tfvars, .hcl), every symlink and every folder (empty) of the commit,
// which is what loading the configuration and change detection read. Once the environments (and apps) are known, widen writes what their projects need
// (folders, the modules they call, the files they read, var and backend files) and the apps' folders from
// the mirror at the same SHA, or the whole tree when that cannot be told statically or a workflow runs
// commands of its own. Other runs (rollbacks, commands) check out the whole tree.

// startsSparse reports whether the run's checkout writes the sparse work tree.
func (w *work) startsSparse() bool {
	k := w.run.Event.Kind
	return (k == event.KindPlan || k == event.KindDeploy) && !w.e.opts.FullWorkTrees
}

// checkoutTree writes the run's work tree (sparse or whole, see startsSparse) and says what it wrote.
func (w *work) checkoutTree(ctx context.Context, m *gitrepo.Mirror, sha string, log io.Writer) error {
	start := time.Now()
	if !w.startsSparse() {
		if err := m.Checkout(ctx, sha, w.src); err != nil {
			return err
		}
		fmt.Fprintf(log, "wrote the work tree in %s\n", time.Since(start).Round(time.Millisecond))
		return nil
	}
	n, err := m.CheckoutPaths(ctx, sha, w.src, gitrepo.Selection{Match: changes.TerraformFile, Links: true, Dirs: true})
	if err != nil {
		return err
	}
	w.sparse = true
	fmt.Fprintf(log, "wrote %d Terraform files and symlinks (and the folders) in %s; the rest of what the plans need is written once the environments are known\n",
		n, time.Since(start).Round(time.Millisecond))
	return nil
}

// widen writes into a sparse work tree what the projects of envs need (see changes.Needs) and the folders
// of apps, or the whole tree when that cannot be told. It does nothing to a whole work tree.
func (w *work) widen(ctx context.Context, envs, apps []string) error {
	if !w.sparse {
		return nil
	}
	start := time.Now()
	paths, complete, why := changes.Needs(w.src, w.cfg, envs)
	if complete {
		extra, full := w.stepNeeds(envs)
		if full != "" {
			complete, why = false, full
		}
		paths = append(paths, extra...)
		for _, a := range apps {
			if app, ok := w.cfg.App(a); ok {
				paths = append(paths, app.Path)
			}
		}
	}
	if !complete {
		paths = []string{"."}
	}
	n, err := w.mirror.CheckoutPaths(ctx, w.run.Event.SHA, w.src, gitrepo.Selection{Paths: paths})
	if err != nil {
		return fmt.Errorf("write the work tree: %w", err)
	}
	if _, err := removeTerraformDirs(w.src); err != nil {
		return fmt.Errorf("clean the work tree: %w", err)
	}
	if _, err := removeEscapingLinks(w.src); err != nil {
		return fmt.Errorf("clean the work tree: %w", err)
	}
	if !complete {
		w.sparse = false
		w.log.Info("work tree: wrote the whole tree", "why", why, "files", n, "took", time.Since(start).Round(time.Millisecond))
		return nil
	}
	w.log.Info("work tree: wrote what the plans need", "paths", len(paths), "files", n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// stepNeeds lists what the workflows of envs' projects read beyond the projects (policy steps' rego
// folders), or says why they need the whole tree (run steps run any command in the repository).
func (w *work) stepNeeds(envs []string) (paths []string, full string) {
	for _, name := range envs {
		env, ok := w.cfg.Environment(name)
		if !ok {
			continue
		}
		for _, p := range env.Projects {
			wf, ok := w.cfg.Workflow(p.Workflow)
			if !ok {
				continue
			}
			if wf.HasRunSteps() {
				return nil, fmt.Sprintf("project %s: workflow %s has run steps", p.Name, wf.Name)
			}
			for _, s := range append(append([]config.Step(nil), wf.Plan...), wf.Apply...) {
				paths = append(paths, s.Paths...)
			}
		}
	}
	return paths, ""
}
