// Package cli implements the runner's sub-commands on top of the other packages;
// cmd/runner only dispatches to it.
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
	"text/tabwriter"
	"time"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/pipeline"
	"github.com/gitops-runner/runner/internal/server"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/tf"
)

// Env is the process's outside: output streams and the environment.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// ExitError ends the command with a code and no further message.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit %d", e.Code) }

// NewLogger builds the process logger from the configuration.
func NewLogger(w io.Writer, level string, asJSON bool) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if asJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Serve runs the webhook service until ctx is cancelled (SIGTERM/SIGINT).
func Serve(ctx context.Context, env Env, args []string) error {
	cfg, err := config.LoadServer(args, env.Getenv)
	if err != nil {
		return err
	}
	log := NewLogger(env.Stderr, cfg.LogLevel, cfg.LogJSON)
	srv, err := server.New(ctx, cfg, log, server.Collaborators{Getenv: env.Getenv})
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

// Validate checks a checkout's .runner.yaml and environments.
func Validate(_ context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir := "."
	if fs.NArg() > 0 {
		dir = fs.Arg(0)
	}
	problems := config.ValidateRepoDir(dir)
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(env.Stderr, p)
		}
		fmt.Fprintf(env.Stderr, "%d problem(s)\n", len(problems))
		return ExitError{Code: 1}
	}
	cfg, err := config.LoadRepo(dir)
	if err != nil {
		return err
	}
	for _, e := range cfg.Ordered() {
		fmt.Fprintf(env.Stdout, "environment %-10s dir %-24s branch %-8s order %d approval %v\n", e.Name, e.Dir, e.Branch, e.Order, e.RequireApproval)
	}
	for _, a := range cfg.Apps {
		fmt.Fprintf(env.Stdout, "app         %-10s path %-23s kind %s\n", a.Name, a.Path, a.Kind)
	}
	fmt.Fprintln(env.Stdout, "ok")
	return nil
}

// Plan plans one environment of a local checkout and prints the summary.
func Plan(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	repo := fs.String("repo", ".", "repository checkout")
	name := fs.String("env", "", "environment name (required)")
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
	if *name == "" {
		return errors.New("--env is required")
	}
	cfg, err := config.LoadRepo(*repo)
	if err != nil {
		return err
	}
	e, ok := cfg.Environment(*name)
	if !ok {
		var names []string
		for _, x := range cfg.Ordered() {
			names = append(names, x.Name)
		}
		return fmt.Errorf("no environment %q (have: %s)", *name, strings.Join(names, ", "))
	}
	binPath, err := tf.FindBinary(*bin, execLookPath)
	if err != nil {
		return err
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
	v := map[string]string{}
	for k, val := range e.Vars {
		v[k] = val
	}
	for _, kv := range vars {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--var %q: want NAME=VALUE", kv)
		}
		v[k] = val
	}
	if *sandboxed {
		return planSandboxed(ctx, env, sandboxPlan{repo: *repo, tmp: tmp, bin: binPath, env: e, vars: v, log: log, asJSON: *asJSON, detailed: *detailed})
	}
	cache := env.Getenv("TF_PLUGIN_CACHE_DIR")
	ws, err := tf.New(tf.Options{Bin: binPath, Dir: filepath.Join(*repo, filepath.FromSlash(e.Dir)), Environment: e.Name, PluginCacheDir: cache, Log: log})
	if err != nil {
		return err
	}
	start := time.Now()
	if err := ws.Init(ctx); err != nil {
		return err
	}
	planFile := filepath.Join(tmp, e.Name+".tfplan")
	if _, err := ws.Plan(ctx, planFile, v); err != nil {
		return err
	}
	p, err := ws.Show(ctx, planFile)
	if err != nil {
		return err
	}
	sum := tf.Summarize(e.Name, p)
	return printPlan(env, sum, *asJSON, *detailed, start)
}

// printPlan prints a plan's summary (text or JSON) and gives the detailed exit code.
func printPlan(env Env, sum tf.Summary, asJSON, detailed bool, start time.Time) error {
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		fmt.Fprint(env.Stdout, sum.Text())
		fmt.Fprintf(env.Stderr, "planned %s in %s\n", sum.Environment, time.Since(start).Round(time.Millisecond))
	}
	if detailed && !sum.NoChanges {
		return ExitError{Code: 2}
	}
	return nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func openStore(ctx context.Context, env Env, fs *flag.FlagSet, args []string) (*store.Store, error) {
	def := env.Getenv("RUNNER_DATA_DIR")
	if def == "" {
		def = "./runner-data"
	}
	dir := fs.String("data-dir", def, "runner data directory (RUNNER_DATA_DIR)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(*dir, "runner.db")); err != nil {
		return nil, fmt.Errorf("no runner database in %s: %w", *dir, err)
	}
	return store.OpenSQLite(ctx, *dir)
}

// Locks lists environment locks.
func Locks(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("locks", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	st, err := openStore(ctx, env, fs, args)
	if err != nil {
		return err
	}
	defer st.Close()
	locks, err := st.Locks(ctx)
	if err != nil {
		return err
	}
	if len(locks) == 0 {
		fmt.Fprintln(env.Stdout, "no environment is locked")
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPO\tENV\tRUN\tHOLDER\tSINCE\tLEASE UNTIL")
	now := time.Now()
	for _, l := range locks {
		until := l.Expires.Format(time.RFC3339)
		if now.After(l.Expires) {
			until += " (expired)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", l.Repo, l.Env, l.RunID, l.Holder, l.Acquired.Format(time.RFC3339), until)
	}
	return tw.Flush()
}

// Unlock releases an environment lock, with a reason that is logged and kept.
func Unlock(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("unlock", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	repo := fs.String("repo", "", "repository owner/name (required)")
	name := fs.String("env", "", "environment (required)")
	reason := fs.String("reason", "", "why the lock is released (required, logged)")
	st, err := openStore(ctx, env, fs, args)
	if err != nil {
		return err
	}
	defer st.Close()
	if *repo == "" || *name == "" || strings.TrimSpace(*reason) == "" {
		return errors.New("--repo, --env and --reason are required")
	}
	l, err := st.ReleaseLock(ctx, *repo, *name, "", "unlocked by operator: "+*reason)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s/%s is not locked", *repo, *name)
	}
	if err != nil {
		return err
	}
	slog.New(slog.NewTextHandler(env.Stderr, nil)).Warn("environment lock released by operator",
		"repo", l.Repo, "env", l.Env, "run", l.RunID, "holder", l.Holder, "reason", *reason)
	fmt.Fprintf(env.Stdout, "released %s/%s (held by run %d)\n", l.Repo, l.Env, l.RunID)
	return nil
}

// sandboxPlan is one `runner plan --sandbox`.
type sandboxPlan struct {
	repo, tmp, bin   string
	env              config.Environment
	vars             map[string]string
	log              io.Writer
	asJSON, detailed bool
}

// planSandboxed plans a copy of the checkout exactly as the runner plans a pull request: in the
// sandbox, with the runner's CLI configuration and explicit environment, and no AWS credentials.
func planSandboxed(ctx context.Context, env Env, p sandboxPlan) error {
	start := time.Now()
	// The sandbox users reach the run through the temporary directory.
	if err := os.Chmod(p.tmp, 0o711); err != nil {
		return err
	}
	work := filepath.Join(p.tmp, "runs", "run-local")
	src := filepath.Join(work, "src")
	if err := copyCheckout(p.repo, src); err != nil {
		return fmt.Errorf("copy the checkout: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(work, "plans"), 0o750); err != nil {
		return err
	}
	cache := env.Getenv("TF_PLUGIN_CACHE_DIR")
	if cache == "" {
		cache = filepath.Join(p.tmp, "plugin-cache")
	}
	cfg := config.Server{
		DataDir: p.tmp, PluginCacheDir: cache, TerraformBin: p.bin, Sandbox: "auto",
		TerraformCLIConfig: env.Getenv("TF_CLI_CONFIG_FILE"), AWSRegion: env.Getenv("AWS_REGION"),
	}
	if v := env.Getenv("RUNNER_SANDBOX"); v != "" {
		cfg.Sandbox = v
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tfr, how, err := server.SandboxedTerraform(ctx, cfg, logger)
	if err != nil {
		return fmt.Errorf("--sandbox: %w", err)
	}
	fmt.Fprintf(env.Stderr, "planning %s as a pull request is planned: %s, no AWS credentials\n", p.env.Name, how)
	res, err := tfr.Plan(ctx, pipeline.PlanRequest{
		Env: p.env.Name, Dir: filepath.Join(src, filepath.FromSlash(p.env.Dir)), WorkTree: work, Phase: pipeline.PhasePlan,
		PlanFile: filepath.Join(work, "plans", p.env.Name+".tfplan"), Vars: p.vars, Log: p.log,
	})
	if err != nil {
		return err
	}
	return printPlan(env, res.Summary, p.asJSON, p.detailed, start)
}

// copyCheckout copies a checkout's files, without .git and Terraform's own directories, as the
// runner's work tree of a pull request holds them.
func copyCheckout(from, to string) error {
	return filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".terraform") && rel != "." {
			return filepath.SkipDir
		}
		dst := filepath.Join(to, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case info.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, b, info.Mode().Perm())
		}
		return nil
	})
}
