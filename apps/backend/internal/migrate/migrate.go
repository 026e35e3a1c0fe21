// Package migrate applies the backend's versioned SQL migrations (sql/*.sql,
// built into the binary) with goose, under a PostgreSQL advisory lock so that
// two migrators never run at once. `backend migrate` runs it; the server never does.
package migrate

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"time"

	"github.com/pressly/goose/v3"
)

//go:embed sql/*.sql
var embedded embed.FS

// Options configures a Migrator.
type Options struct {
	// Dir, when set, replaces the built-in migrations with the .sql files of
	// this directory (MIGRATIONS_DIR; for tests that need one to fail).
	Dir string
	// LockTimeout bounds the wait for another migrator's lock; zero means
	// one second.
	LockTimeout time.Duration
	Logger      *slog.Logger
}

// Migrator migrates one database.
type Migrator struct {
	p *goose.Provider
}

// Migration is one migration and whether the database has it.
type Migration struct {
	Version   int64
	Name      string // file name
	Applied   bool
	AppliedAt time.Time // zero when pending
}

// Result says what Up did.
type Result struct {
	From, To int64    // database version before and after
	Applied  []string // file names, in order
}

// ErrLocked says another migrator held the lock for longer than LockTimeout.
var ErrLocked = errors.New("another migration is running (its advisory lock is held)")

// New returns a Migrator for db, which must be PostgreSQL.
func New(db *sql.DB, opts Options) (*Migrator, error) {
	var fsys fs.FS
	if opts.Dir != "" {
		if _, err := os.Stat(opts.Dir); err != nil {
			return nil, fmt.Errorf("migrations directory: %w", err)
		}
		fsys = os.DirFS(opts.Dir)
	} else {
		sub, err := fs.Sub(embedded, "sql")
		if err != nil {
			return nil, err
		}
		fsys = sub
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	gopts := []goose.ProviderOption{
		goose.WithSessionLocker(advisoryLock{id: LockID, timeout: timeout}),
		goose.WithDisableGlobalRegistry(true),
	}
	if opts.Logger != nil {
		gopts = append(gopts, goose.WithSlog(opts.Logger), goose.WithVerbose(true))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, gopts...)
	if errors.Is(err, goose.ErrNoMigrations) {
		return nil, fmt.Errorf("no .sql migrations found in %s", describe(opts.Dir))
	}
	if err != nil {
		return nil, err
	}
	return &Migrator{p: p}, nil
}

func describe(dir string) string {
	if dir == "" {
		return "the binary"
	}
	return "MIGRATIONS_DIR " + dir
}

// Latest is the newest version the Migrator knows.
func (m *Migrator) Latest() int64 {
	src := m.p.ListSources()
	return src[len(src)-1].Version
}

// Up applies every pending migration, each in its own transaction. When
// one fails, the database keeps those before it and the error, a
// *FailedError, names the one that failed.
func (m *Migrator) Up(ctx context.Context) (Result, error) {
	return m.UpTo(ctx, m.Latest())
}

// UpTo applies the pending migrations up to and including version.
func (m *Migrator) UpTo(ctx context.Context, version int64) (Result, error) {
	results, err := m.p.UpTo(ctx, version)
	var partial *goose.PartialError
	if errors.As(err, &partial) {
		results = append(results, partial.Applied...)
	}
	var res Result
	for _, r := range results {
		res.Applied = append(res.Applied, path.Base(r.Source.Path))
	}
	if len(results) > 0 {
		// Migrations apply in version order without gaps (goose refuses
		// out-of-order ones), so the version before is the previous source's.
		res.From = m.versionBefore(results[0].Source.Version)
		res.To = results[len(results)-1].Source.Version
	} else if err == nil || partial != nil {
		v, verr := m.p.GetDBVersion(ctx)
		if verr != nil {
			return Result{}, errors.Join(err, fmt.Errorf("read database version: %w", verr))
		}
		res.From, res.To = v, v
	}
	if partial != nil {
		return res, &FailedError{Name: path.Base(partial.Failed.Source.Path), Version: res.To, Err: partial.Err}
	}
	if err != nil {
		return res, err
	}
	return res, nil
}

// versionBefore is the version of the known migration before v, or 0.
func (m *Migrator) versionBefore(v int64) int64 {
	var before int64
	for _, s := range m.p.ListSources() {
		if s.Version < v {
			before = s.Version
		}
	}
	return before
}

// FailedError is a migration that failed and was rolled back.
type FailedError struct {
	Name    string // file name of the failed migration
	Version int64  // the database's version now
	Err     error
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("migration %s failed and was rolled back; the database stays at version %d: %v", e.Name, e.Version, e.Err)
}

func (e *FailedError) Unwrap() error { return e.Err }

// Status lists every known migration, oldest first, and whether the
// database has it.
func (m *Migrator) Status(ctx context.Context) ([]Migration, error) {
	st, err := m.p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("read migration status: %w", err)
	}
	out := make([]Migration, 0, len(st))
	for _, s := range st {
		out = append(out, Migration{
			Version:   s.Source.Version,
			Name:      path.Base(s.Source.Path),
			Applied:   s.State == goose.StateApplied,
			AppliedAt: s.AppliedAt,
		})
	}
	return out, nil
}

// Version is the database's current version (0 before the first migration).
func (m *Migrator) Version(ctx context.Context) (int64, error) {
	return m.p.GetDBVersion(ctx)
}
