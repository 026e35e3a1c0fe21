package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gitops-runner/runner/internal/changes"
	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/gitrepo"
	"github.com/gitops-runner/runner/internal/repofs"
)

// A pull request's plan and a push's deploy read the commit from the mirror without writing it
// (gitrepo.Mirror.Tree: the tree listed, its Terraform files and symlinks read into memory): loading
// the configuration and change detection read that. Once the environments (and apps) are known, widen
// writes what their projects need (folders, the modules they call, the files they read, var and backend
// files, .runner.yaml) and the apps' folders from the mirror at the same SHA, or the whole tree when that
// cannot be told statically or a workflow runs commands of its own. Other runs (rollbacks, commands)
// check out the whole tree.

// startsSparse reports whether the run's checkout starts from the commit's tree in memory.
func (w *work) startsSparse() bool {
	k := w.run.Event.Kind
	return (k == event.KindPlan || k == event.KindDeploy) && !w.e.opts.FullWorkTrees
}

// configFile is what a Tree reads up front: the files configuration and change detection read.
func configFile(p string) bool { return p == config.RepoFile || changes.TerraformFile(p) }

// checkoutTree writes the run's whole work tree, or (see startsSparse) reads the commit's tree into memory
// and makes an empty work tree for widen to fill; it says what it did.
func (w *work) checkoutTree(ctx context.Context, m *gitrepo.Mirror, sha string, log io.Writer) error {
	start := time.Now()
	if !w.startsSparse() {
		if err := m.Checkout(ctx, sha, w.src); err != nil {
			return err
		}
		w.repo = repofs.Dir(w.src)
		fmt.Fprintf(log, "wrote the work tree in %s\n", time.Since(start).Round(time.Millisecond))
		return nil
	}
	tree, err := m.Tree(ctx, sha, configFile)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(w.src, 0o755); err != nil {
		return fmt.Errorf("make the work tree: %w", err)
	}
	w.repo, w.sparse = tree, true
	fmt.Fprintf(log, "read the commit's tree (%d files and folders) in %s; the files the plans need are written once the environments are known\n",
		tree.Len(), time.Since(start).Round(time.Millisecond))
	return nil
}

// widen writes into a sparse work tree what the projects of envs need (see changes.Needs) and the folders
// of apps, or the whole tree when that cannot be told. It does nothing to a whole work tree.
func (w *work) widen(ctx context.Context, envs, apps []string) error {
	if !w.sparse {
		return nil
	}
	start := time.Now()
	paths, complete, why := changes.NeedsWith(w.repo, w.cfg, envs, changes.Options{Cache: w.e.detected})
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
	var n int
	var err error
	tree, inMemory := w.repo.(*repofs.Tree)
	if complete && inMemory {
		// From the tree read at checkout: its Terraform files are in memory already.
		n, err = gitrepo.WriteTree(ctx, tree, w.src, gitrepo.Selection{Paths: paths})
	}
	if !complete || !inMemory || errors.Is(err, gitrepo.ErrBlobTooBig) {
		n, err = w.mirror.CheckoutPaths(ctx, w.run.Event.SHA, w.src, gitrepo.Selection{Paths: paths})
	}
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
