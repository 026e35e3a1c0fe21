package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/postgres"
)

// database is where a runner under test keeps its store: SQLite in its data
// directory (pg nil), or a fresh database on a throwaway PostgreSQL server.
type database struct {
	pg    *postgres.Server
	conns int // PostgreSQL connections per replica; 0: the configuration's default (10)
}

var sqliteDB = database{}

func (d database) String() string {
	if d.pg == nil {
		return "sqlite"
	}
	if d.conns > 0 {
		return fmt.Sprintf("postgres, %d conns", d.conns)
	}
	return "postgres"
}

// withConns is d with a pool of n connections per replica.
func (d database) withConns(n int) database {
	d.conns = n
	return d
}

// startPostgres starts a throwaway PostgreSQL server for the benchmark, or skips it with why not.
func startPostgres(b *testing.B) database {
	b.Helper()
	pg, err := postgres.Start(context.Background())
	if errors.Is(err, postgres.ErrUnavailable) {
		b.Skipf("skipping: the PostgreSQL side needs a PostgreSQL server: %v", err)
	}
	if err != nil {
		b.Skipf("skipping: PostgreSQL did not start: %v", err)
	}
	b.Cleanup(pg.Stop)
	return database{pg: pg}
}

// fresh points cfg at a new, empty database: SQLite in cfg.DataDir as it is, or a new PostgreSQL database
// (with the configuration's default pool of 10 connections per replica unless d says otherwise). Replicas of
// one measurement share what fresh returns.
func (d database) fresh(b *testing.B, cfg *config.Server) {
	b.Helper()
	if d.pg == nil {
		return
	}
	url, err := d.pg.NewDatabase(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	cfg.DatabaseURL, cfg.DatabaseMaxConns = url, 10 // RUNNER_DATABASE_MAX_CONNS's default
	if d.conns > 0 {
		cfg.DatabaseMaxConns = d.conns
	}
}

// watch opens a connection to cfg's store for counting while the runner runs: read-only for SQLite
// (WAL readers do not block the writer), a pool of its own for PostgreSQL.
func watch(cfg config.Server) (*sql.DB, error) {
	if cfg.DatabaseURL != "" {
		db, err := sql.Open("pgx", cfg.DatabaseURL)
		if err == nil {
			db.SetMaxOpenConns(2)
		}
		return db, err
	}
	return sql.Open("sqlite", "file:"+filepath.Join(cfg.DataDir, "runner.db")+"?mode=ro&_pragma=busy_timeout(5000)")
}

// openStore opens cfg's store once its runners stopped, to check what they kept.
func openStore(ctx context.Context, cfg config.Server) (*store.Store, error) {
	if cfg.DatabaseURL != "" {
		return store.OpenPostgres(ctx, cfg.DatabaseURL, store.PostgresOptions{MaxConns: 2})
	}
	return store.OpenSQLite(ctx, cfg.DataDir)
}
