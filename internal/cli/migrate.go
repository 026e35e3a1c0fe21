package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitops-runner/runner/internal/queue"
	"github.com/gitops-runner/runner/internal/store"
)

// Migrate brings the store's schema (and River's) up to date and exits: on PostgreSQL
// (--database-url, RUNNER_DATABASE_URL) before replicas of a new version start, else on the SQLite store
// of the data directory. With --from sqlite:PATH it then copies a SQLite store's history into the empty
// PostgreSQL database: runs, stages, logs, deployments, approvals, overrides and lock history; runs that
// had not finished are resumed by the replicas. Stop the SQLite runner first: its locks are not copied.
func Migrate(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	url := fs.String("database-url", env.Getenv("RUNNER_DATABASE_URL"), "postgres:// URL (RUNNER_DATABASE_URL); empty: the SQLite store of --data-dir")
	def := env.Getenv("RUNNER_DATA_DIR")
	if def == "" {
		def = "./runner-data"
	}
	dir := fs.String("data-dir", def, "data directory of the SQLite store (RUNNER_DATA_DIR)")
	from := fs.String("from", "", "sqlite:PATH: copy that SQLite store (a data directory or its runner.db) into the PostgreSQL database")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var (
		st  *store.Store
		err error
	)
	if *url != "" {
		st, err = store.OpenPostgres(ctx, *url, store.PostgresOptions{MaxConns: 4})
	} else {
		if *from != "" {
			return errors.New("--from copies into PostgreSQL: give --database-url (or RUNNER_DATABASE_URL)")
		}
		st, err = store.OpenSQLite(ctx, *dir)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	if err := queue.Migrate(ctx, st, log); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "migrated the %s store and the queue\n", st.Dialect())
	if *from == "" {
		return nil
	}
	path, ok := strings.CutPrefix(*from, "sqlite:")
	if !ok || path == "" {
		return fmt.Errorf("--from %q: want sqlite:PATH", *from)
	}
	if filepath.Base(path) == "runner.db" {
		path = filepath.Dir(path)
	}
	if _, err := os.Stat(filepath.Join(path, "runner.db")); err != nil {
		return fmt.Errorf("--from: no runner database in %s: %w", path, err)
	}
	src, err := store.OpenSQLite(ctx, path)
	if err != nil {
		return err
	}
	defer src.Close()
	rep, err := st.CopyFrom(ctx, src)
	if err != nil {
		return err
	}
	for i, t := range rep.Tables {
		fmt.Fprintf(env.Stdout, "copied %-16s %d rows\n", t, rep.Rows[i])
	}
	fmt.Fprintf(env.Stdout, "%d unfinished run(s) will be resumed by the replicas; environment locks were not copied "+
		"(they belonged to the stopped SQLite runner)\n", rep.Resumed)
	return nil
}
