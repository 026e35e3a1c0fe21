package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/pipeline"
	"github.com/gitops-runner/runner/internal/server"
	"github.com/gitops-runner/runner/internal/tf"
)

// Plan plans an environment (each of its projects, in dependency order) or one project of a local
// checkout and prints the summary. Terraform's working data (its data directory and the saved plan) goes
// to a temporary directory, never into the checkout; init may write .terraform.lock.hcl as Terraform
// itself would.
func Plan(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	repo := fs.String("repo", ".", "repository checkout")
	name := fs.String("env", "", "environment name (this or --project is required)")
	project := fs.String("project", "", "plan only this project (by its name in .runner.yaml)")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	bin := fs.String("terraform", env.Getenv("RUNNER_TERRAFORM_BIN"), "terraform or tofu binary")
	verbose := fs.Bool("v", false, "stream Terraform's output to stderr")
	detailed := fs.Bool("detailed-exitcode", false, "exit 0 when the plan has no changes, 2 when it has some (1 on errors), as terraform plan does")
	sandboxed := fs.Bool("sandbox", false, "plan exactly as a pull request is planned: a copy of the checkout, isolated, with the runner's explicit environment (no AWS credentials)")
	var vars multiFlag
	fs.Var(&vars, "var", "input variable NAME=VALUE (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" && *project == "" {
		return errors.New("--env is required (or --project)")
	}
	cfg, err := config.LoadRepo(*repo)
	if err != nil {
		return err
	}
	e, projects, err := planTargets(cfg, *name, *project)
	if err != nil {
		return err
	}
	for _, p := range projects {
		if err := hasConfiguration(*repo, p); err != nil {
			return err
		}
	}
	binPath, err := tf.FindBinary(*bin, execLookPath)
	if err != nil {
		return err
	}
	extra := map[string]string{}
	for _, kv := range vars {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--var %q: want NAME=VALUE", kv)
		}
		extra[k] = val
	}
	tmp, err := os.MkdirTemp("", "runner-plan-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var log io.Writer = io.Discard
	if *verbose {
		log = env.Stderr
	}
	pl := localPlan{env: env, repo: *repo, tmp: tmp, bin: binPath, e: e, extra: extra, log: log}
	if *sandboxed {
		if err := pl.sandbox(ctx); err != nil {
			return err
		}
	}
	start := time.Now()
	var sums []projectSummary
	for _, layer := range config.Layers(projects) {
		for _, p := range layer {
			sum, err := pl.plan(ctx, p)
			if err != nil {
				return fmt.Errorf("plan %s: %w", p.Name, err)
			}
			sums = append(sums, projectSummary{Project: p.Name, Dir: p.Dir, Workspace: p.Workspace, Summary: sum})
		}
	}
	return printPlans(env, e, sums, *asJSON, *detailed, start)
}

// planTargets picks the environment and the projects a `runner plan` names.
func planTargets(cfg *config.Repo, envName, project string) (config.Environment, []config.Project, error) {
	if project != "" {
		p, ok := cfg.Project(project)
		if !ok {
			var names []string
			for _, x := range cfg.Projects() {
				names = append(names, x.Name)
			}
			return config.Environment{}, nil, fmt.Errorf("no project %q (have: %s)", project, strings.Join(names, ", "))
		}
		if envName != "" && envName != p.Env {
			return config.Environment{}, nil, fmt.Errorf("project %s belongs to environment %s, not %s", p.Name, p.Env, envName)
		}
		e, _ := cfg.Environment(p.Env)
		return e, []config.Project{p}, nil
	}
	e, ok := cfg.Environment(envName)
	if !ok {
		var names []string
		for _, x := range cfg.Ordered() {
			names = append(names, x.Name)
		}
		return config.Environment{}, nil, fmt.Errorf("no environment %q (have: %s)", envName, strings.Join(names, ", "))
	}
	return e, e.Projects, nil
}

// hasConfiguration checks, before any init, that a project's folder holds Terraform files.
func hasConfiguration(repo string, p config.Project) error {
	dir := filepath.Join(repo, filepath.FromSlash(p.Dir))
	for _, pat := range []string{"*.tf", "*.tf.json"} {
		if m, _ := filepath.Glob(filepath.Join(dir, pat)); len(m) > 0 {
			return nil
		}
	}
	return fmt.Errorf("project %s: %s: %w", p.Name, p.Dir, config.ErrNoConfiguration)
}

// localPlan is one `runner plan`: directly on the checkout, or (sandbox) on a copy, isolated.
type localPlan struct {
	env       Env
	repo, tmp string
	bin       string
	e         config.Environment
	extra     map[string]string
	log       io.Writer
	// set by sandbox
	sandboxed pipeline.Terraform
	work, src string
}

func (l *localPlan) vars(p config.Project) map[string]string {
	v := map[string]string{}
	for k, val := range p.Vars {
		v[k] = val
	}
	for k, val := range l.extra {
		v[k] = val
	}
	return v
}

func (l *localPlan) plan(ctx context.Context, p config.Project) (tf.Summary, error) {
	key := strings.ReplaceAll(p.Name, "/", "__")
	if l.sandboxed != nil {
		res, err := l.sandboxed.Plan(ctx, pipeline.PlanRequest{
			Env: l.e.Name, Root: pipeline.Root{Project: p.Name, Workspace: p.Workspace, VarFiles: p.VarFiles, BackendConfig: p.BackendConfig},
			Dir: filepath.Join(l.src, filepath.FromSlash(p.Dir)), WorkTree: l.work, Phase: pipeline.PhasePlan,
			PlanFile: filepath.Join(l.work, "plans", key+".tfplan"), Vars: l.vars(p), Log: l.log,
		})
		return res.Summary, err
	}
	dataDir := filepath.Join(l.tmp, "data", key)
	ws, err := tf.New(tf.Options{
		Bin: l.bin, Dir: filepath.Join(l.repo, filepath.FromSlash(p.Dir)), Environment: p.Name,
		PluginCacheDir: l.env.Getenv("TF_PLUGIN_CACHE_DIR"), Log: l.log,
		Env:       map[string]string{"TF_DATA_DIR": dataDir},
		Workspace: p.Workspace, VarFiles: p.VarFiles, BackendConfig: p.BackendConfig,
	})
	if err != nil {
		return tf.Summary{}, err
	}
	if err := ws.Init(ctx); err != nil {
		return tf.Summary{}, err
	}
	planFile := filepath.Join(l.tmp, key+".tfplan")
	if _, err := ws.Plan(ctx, planFile, l.vars(p)); err != nil {
		return tf.Summary{}, err
	}
	plan, err := ws.Show(ctx, planFile)
	if err != nil {
		return tf.Summary{}, err
	}
	return tf.Summarize(p.Name, plan), nil
}

// sandbox prepares planning a copy of the checkout exactly as the runner plans a pull request: in the
// sandbox, with the runner's CLI configuration and explicit environment, and no AWS credentials.
func (l *localPlan) sandbox(ctx context.Context) error {
	// The sandbox users reach the run through the temporary directory.
	if err := os.Chmod(l.tmp, 0o711); err != nil {
		return err
	}
	l.work = filepath.Join(l.tmp, "runs", "run-local")
	l.src = filepath.Join(l.work, "src")
	if err := copyCheckout(l.repo, l.src); err != nil {
		return fmt.Errorf("copy the checkout: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(l.work, "plans"), 0o750); err != nil {
		return err
	}
	cache := l.env.Getenv("TF_PLUGIN_CACHE_DIR")
	if cache == "" {
		cache = filepath.Join(l.tmp, "plugin-cache")
	}
	cfg := config.Server{
		DataDir: l.tmp, PluginCacheDir: cache, TerraformBin: l.bin, Sandbox: "auto",
		TerraformCLIConfig: l.env.Getenv("TF_CLI_CONFIG_FILE"), AWSRegion: l.env.Getenv("AWS_REGION"),
	}
	if v := l.env.Getenv("RUNNER_SANDBOX"); v != "" {
		cfg.Sandbox = v
	}
	logger := slog.New(slog.NewTextHandler(l.env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tfr, how, err := server.SandboxedTerraform(ctx, cfg, logger)
	if err != nil {
		return fmt.Errorf("--sandbox: %w", err)
	}
	fmt.Fprintf(l.env.Stderr, "planning %s as a pull request is planned: %s, no AWS credentials\n", l.e.Name, how)
	l.sandboxed = tfr
	return nil
}

// projectSummary is one project's plan in `runner plan --json` for an environment of several projects.
type projectSummary struct {
	Project   string     `json:"project"`
	Dir       string     `json:"dir"`
	Workspace string     `json:"workspace"`
	Summary   tf.Summary `json:"summary"`
}

// printPlans prints the summaries (text or JSON) and gives the detailed exit code. One project prints its
// summary as before projects existed; several print {"environment": ..., "projects": [...]}.
func printPlans(env Env, e config.Environment, sums []projectSummary, asJSON, detailed bool, start time.Time) error {
	changes := false
	for _, s := range sums {
		changes = changes || !s.Summary.NoChanges
	}
	if len(sums) == 1 {
		sums[0].Summary.Environment = e.Name
	}
	switch {
	case asJSON && len(sums) == 1:
		if err := writeJSON(env.Stdout, sums[0].Summary); err != nil {
			return err
		}
	case asJSON:
		if err := writeJSON(env.Stdout, struct {
			Environment string           `json:"environment"`
			Projects    []projectSummary `json:"projects"`
		}{e.Name, sums}); err != nil {
			return err
		}
	default:
		for _, s := range sums {
			if len(sums) > 1 {
				fmt.Fprintf(env.Stdout, "== project %s (%s, workspace %s)\n", s.Project, s.Dir, s.Workspace)
			}
			fmt.Fprint(env.Stdout, s.Summary.Text())
		}
		fmt.Fprintf(env.Stderr, "planned %s in %s\n", e.Name, time.Since(start).Round(time.Millisecond))
	}
	if detailed && changes {
		return ExitError{Code: 2}
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
