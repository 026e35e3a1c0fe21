// Package itemstest gives tests the item stores to run against: a fresh
// memory store, and a Postgres store on a fresh, migrated database of the
// test binary's throwaway server (internal/pgtest; call pgtest.Main from
// TestMain).
package itemstest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for goose

	"github.com/gitops-runner/runner/apps/backend/internal/items"
	"github.com/gitops-runner/runner/apps/backend/internal/migrate"
	"github.com/gitops-runner/runner/apps/backend/internal/pgtest"
)

// Store is what both stores do (api.Store).
type Store interface {
	List(ctx context.Context, opts items.ListOptions) (items.Page, error)
	Create(ctx context.Context, in items.Input) (items.Item, error)
	Get(ctx context.Context, id string) (items.Item, error)
	Update(ctx context.Context, id string, in items.Input) (items.Item, error)
	Delete(ctx context.Context, id string) error
}

// Kind names a store and makes empty ones.
type Kind struct {
	Name string
	New  func(t testing.TB) Store
}

// Kinds are the stores every store-level and API test runs against.
func Kinds() []Kind {
	return []Kind{
		{Name: "memory", New: func(testing.TB) Store { return items.NewMemory() }},
		{Name: "postgres", New: func(t testing.TB) Store { return NewPostgres(t, nil) }},
	}
}

// MigratedDatabase returns the URL of a new database at the latest
// migration.
func MigratedDatabase(t testing.TB) string {
	t.Helper()
	url := pgtest.NewDatabase(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m, err := migrate.New(db, migrate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(t.Context()); err != nil {
		t.Fatal(err)
	}
	return url
}

// NewPostgres returns a Postgres store on a new migrated database, its
// queries traced by tracer when that is not nil.
func NewPostgres(t testing.TB, tracer pgx.QueryTracer) *items.Postgres {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(MigratedDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return items.NewPostgres(pool)
}
