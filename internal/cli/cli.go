// Package cli implements the runner's sub-commands on top of the other packages;
// cmd/runner only dispatches to it.
package cli

import (
	"context"
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
	"github.com/gitops-runner/runner/internal/server"
	"github.com/gitops-runner/runner/internal/store"
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
		if len(e.Projects) == 1 && e.Projects[0].Name == e.Name {
			fmt.Fprintf(env.Stdout, "environment %-10s dir %-24s branch %-8s order %d approval %v\n", e.Name, e.Projects[0].Dir, e.Branch, e.Order, e.RequireApproval)
			continue
		}
		fmt.Fprintf(env.Stdout, "environment %-10s projects %-19d branch %-8s order %d approval %v\n", e.Name, len(e.Projects), e.Branch, e.Order, e.RequireApproval)
		for _, p := range e.Projects {
			fmt.Fprintf(env.Stdout, "  project   %-28s dir %s workspace %s\n", p.Name, p.Dir, p.Workspace)
		}
	}
	for _, a := range cfg.Apps {
		fmt.Fprintf(env.Stdout, "app         %-10s path %-23s kind %s\n", a.Name, a.Path, a.Kind)
	}
	fmt.Fprintln(env.Stdout, "ok")
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
