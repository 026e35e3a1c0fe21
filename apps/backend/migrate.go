package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/gitops-runner/runner/apps/backend/internal/config"
	"github.com/gitops-runner/runner/apps/backend/internal/database"
	migrations "github.com/gitops-runner/runner/apps/backend/internal/migrate"
)

// migrate runs `backend migrate [up|status]`: the deploy's one-off task,
// run before the service is rolled to the new version.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	sub := "up"
	if len(args) > 0 {
		sub = args[0]
	}
	if len(args) > 1 || (sub != "up" && sub != "status") {
		return &usageError{fmt.Sprintf("migrate takes up or status, not %q", args)}
	}
	cfg, err := config.ParseMigrate(getenv)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if cfg.Dir != "" {
		log.Warn("using the migrations of MIGRATIONS_DIR instead of the built-in ones", "dir", cfg.Dir)
	}

	db, err := database.OpenSQL(cfg.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	m, err := migrations.New(db, migrations.Options{Dir: cfg.Dir, LockTimeout: cfg.LockTimeout, Logger: log})
	if err != nil {
		return database.Scrub(cfg.DB, err)
	}

	if sub == "status" {
		return database.Scrub(cfg.DB, printStatus(ctx, m, stdout))
	}
	log.Info("migrating", "db", cfg.DB, "latest", m.Latest(), "lock_timeout", cfg.LockTimeout.String())
	start := time.Now()
	res, err := m.Up(ctx)
	if err != nil {
		return database.Scrub(cfg.DB, err)
	}
	if len(res.Applied) == 0 {
		log.Info("database is up to date", "version", res.To)
		return nil
	}
	log.Info("migrated", "from", res.From, "to", res.To, "applied", res.Applied, "duration", time.Since(start).String())
	return nil
}

func printStatus(ctx context.Context, m *migrations.Migrator, stdout io.Writer) error {
	status, err := m.Status(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "VERSION\tMIGRATION\tSTATE\tAPPLIED AT")
	for _, s := range status {
		state, at := "pending", ""
		if s.Applied {
			state, at = "applied", s.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", s.Version, s.Name, state, at)
	}
	return w.Flush()
}
