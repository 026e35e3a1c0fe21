package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gitops-runner/runner/internal/changes"
	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/gitrepo"
	"github.com/gitops-runner/runner/internal/policy"
	"github.com/gitops-runner/runner/internal/redact"
	"github.com/gitops-runner/runner/internal/repofs"
	"github.com/gitops-runner/runner/internal/store"
)

// work is the state of one run while it executes.
type work struct {
	e   *Engine
	run store.Run
	log *slog.Logger
	dir string // the run's own directory: src/ work tree, plans/

	// redactor redacts everything the run shows: logs, details, statuses, comments, Slack. It starts as the
	// engine's and learns the run's own secrets through addSecrets.
	redactor *redact.Redactor
	redacted int // redactions counted by redactors the run had before its current one

	mu     sync.Mutex
	stages []store.Stage

	mirror *gitrepo.Mirror
	src    string
	sparse bool             // src holds the sparse work tree: see widen
	repo   repofs.FS        // the commit's files as configuration and change detection read them: see checkoutTree
	cfg    *config.Repo     // the effective configuration: the repository's under the server policy
	eff    policy.Effective // what the policy adds per environment (roles, vars per phase)
	story  *story

	waiting *WaitingError      // set when the run must come back later
	grants  map[string]granted // Terraform's environment per environment, for this run's phase (under mu)

	// Approvals (under mu): environments waiting for a decision, decisions taken in this execution, the merged
	// pull request (nil: not looked up yet), and environments planned in this execution.
	pending   map[string]store.Approval
	decisions []store.Approval
	merged    *int
	planned   map[string]bool
	notes     map[string]string // env -> Markdown for the merged pull request's deploy comment

	rollbackVars map[string]string // a rollback's recorded app versions (backend_image, frontend_version)

	// Stage attempts of earlier executions that a dead runner cut short, read when this execution began
	// (resumedAt): see attempt.go.
	dead      []store.Attempt
	resumedAt time.Time
}

// addSecrets makes the run redact more values from now on, e.g. the AWS session credentials it assumes. The
// redactor is replaced, not changed: call it before stages run in parallel, never during.
func (w *work) addSecrets(secrets ...redact.Secret) {
	w.redacted += w.redactor.Total()
	w.redactor = w.redactor.With(secrets...)
}

// redactions counts what the run redacted.
func (w *work) redactions() int { return w.redacted + w.redactor.Total() }

func (w *work) stage(k store.StageKey) (store.Stage, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.stages {
		if s.Env == k.Env && s.Name == k.Name {
			return s, true
		}
	}
	return store.Stage{}, false
}

func (w *work) setStage(k store.StageKey, status, detail string) {
	w.mu.Lock()
	for i, s := range w.stages {
		if s.Env == k.Env && s.Name == k.Name {
			w.stages[i].Status, w.stages[i].Detail = status, detail
		}
	}
	w.mu.Unlock()
	if w.story != nil {
		w.story.changed(k, status, detail)
	}
}

// nextAttempt counts a new attempt of stage k and returns its number.
func (w *work) nextAttempt(k store.StageKey) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, s := range w.stages {
		if s.Env == k.Env && s.Name == k.Name {
			w.stages[i].Attempts++
			return w.stages[i].Attempts
		}
	}
	return 0
}

func (w *work) snapshot() []store.Stage {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]store.Stage(nil), w.stages...)
}

func (w *work) addStages(ctx context.Context, keys []store.StageKey) error {
	all := append([]store.StageKey{{Name: StageCheckout}}, keys...)
	st, err := w.e.deps.Store.EnsureStages(ctx, w.run.ID, all)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.stages = st
	w.mu.Unlock()
	return nil
}

func (w *work) failed(k store.StageKey, detail string, tail []string) {
	if w.story != nil {
		w.story.failed(k, detail, tail)
	}
}

// checkout fetches the repository and writes the exact commit into the run's
// work tree, then reads the repository's configuration from it.
func (w *work) checkout(ctx context.Context) error {
	ev := w.run.Event
	_, err := w.runStage(ctx, store.StageKey{Name: StageCheckout}, true, func(ctx context.Context, log io.Writer) (string, map[string]string, error) {
		if ev.CloneURL == "" {
			return "", nil, errors.New("the delivery names no clone URL")
		}
		fmt.Fprintf(log, "fetching %s\n", ev.CloneURL)
		want := []string{ev.SHA}
		if !zeroOrEmpty(ev.BaseSHA) {
			want = append(want, ev.BaseSHA)
		}
		m, err := w.e.deps.Git.SyncProgress(ctx, ev.CloneURL, log, want...)
		if err != nil {
			return "", nil, fmt.Errorf("fetch %s: %w", ev.Repo, err)
		}
		w.mirror = m
		w.src = filepath.Join(w.dir, "src")
		if err := os.RemoveAll(w.src); err != nil {
			return "", nil, fmt.Errorf("clear work tree: %w", err)
		}
		fmt.Fprintf(log, "checking out %s\n", ev.SHA)
		if err := w.checkoutTree(ctx, m, ev.SHA, log); err != nil {
			return "", nil, fmt.Errorf("check out %s: %w", short(ev.SHA), err)
		}
		if n, err := removeTerraformDirs(w.src); err != nil {
			return "", nil, fmt.Errorf("clean the checkout: %w", err)
		} else if n > 0 {
			fmt.Fprintf(log, "removed %d .terraform director(ies) committed to the repository: Terraform makes its own\n", n)
		}
		if removed, err := removeEscapingLinks(w.src); err != nil {
			return "", nil, fmt.Errorf("clean the checkout: %w", err)
		} else {
			for _, l := range removed {
				fmt.Fprintf(log, "removed the symlink %s: it leads outside the repository\n", l)
			}
		}
		var cfg *config.Repo
		if ev.Kind == event.KindDeploy || ev.Kind == event.KindRollback || ev.Kind == event.KindFix || ev.Kind == event.KindDrift {
			// Which branch deploys what, and what it needs, is never the pushed commit's to say.
			c, def, err := w.deployConfig(ctx)
			if err != nil {
				return "", nil, err
			}
			fmt.Fprintf(log, "deploy configuration: %s of the default branch %s, under the server policy (%s)\n", config.RepoFile, def, w.policyFor().Source)
			cfg = c
		} else {
			c, err := w.loadRepo(w.repo)
			if err != nil {
				return "", nil, err
			}
			cfg = c
		}
		eff, err := w.applyPolicy(cfg)
		if err != nil {
			if ev.Kind != event.KindDeploy && ev.Kind != event.KindRollback && ev.Kind != event.KindFix && ev.Kind != event.KindDrift {
				return "", nil, err
			}
			// The default branch's file is reviewed; what it asks beyond the policy is left out.
			fmt.Fprintf(log, "warning: %v\n", err)
		}
		if v := w.e.opts.TerraformVersion; v != "" && usesDefaultTerraform(eff.Repo) {
			// Projects pinning terraform_version are checked when they are planned.
			if err := w.policyFor().CheckTerraform(v); err != nil {
				return "", nil, err
			}
		}
		w.cfg, w.eff = eff.Repo, eff
		names := make([]string, 0, len(cfg.Environments))
		for _, e := range cfg.Ordered() {
			names = append(names, e.Name)
		}
		fmt.Fprintf(log, "environments: %s\n", strings.Join(names, ", "))
		return "checked out " + short(ev.SHA), nil, nil
	})
	return err
}

// affected maps changed paths to environments and apps.
func (w *work) affected(changed []string) (changes.Result, error) {
	return changes.AffectedWith(w.repo, w.cfg, changed, changes.Options{Cache: w.e.detected})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// zeroOrEmpty reports whether a SHA means "no commit".
func zeroOrEmpty(sha string) bool { return sha == "" || sha == event.ZeroSHA }

// removeTerraformDirs deletes .terraform directories a commit carries: a provider binary planted
// there would pass for one Terraform installed (and could reach the shared provider cache).
func removeTerraformDirs(root string) (int, error) {
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == ".terraform" && p != root {
			n++
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			if d.IsDir() {
				return fs.SkipDir
			}
		}
		return nil
	})
	return n, err
}

// usesDefaultTerraform reports whether a project of cfg runs the runner's default Terraform (pins none).
func usesDefaultTerraform(cfg *config.Repo) bool {
	for _, p := range cfg.Projects() {
		if p.TerraformVersion == "" {
			return true
		}
	}
	return false
}

// removeEscapingLinks deletes the symlinks of a checkout that lead outside it (to /proc/self/environ, the
// runner's data directory ...): the runner itself reads the checkout's Terraform files (change
// detection, variables), and its parsers' errors are shown on the pull request. It returns the links
// removed, relative to root.
func removeEscapingLinks(root string) ([]string, error) {
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, err
	}
	var removed []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		target, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil // dangling or looping: it reads nothing
		}
		if rel, err := filepath.Rel(real, target); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		removed = append(removed, filepath.ToSlash(rel))
		return nil
	})
	return removed, err
}
