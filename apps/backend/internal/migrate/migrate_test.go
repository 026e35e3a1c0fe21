package migrate

import (
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/gitops-runner/runner/apps/backend/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const failOnPurposeDir = "../../testdata/migrations-fail-on-purpose"

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newMigrator(t *testing.T, db *sql.DB, opts Options) *Migrator {
	t.Helper()
	m, err := New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestUpMigratesAnEmptyDatabaseToLatestOnce(t *testing.T) {
	ctx := t.Context()
	m := newMigrator(t, openDB(t), Options{})

	res, err := m.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.From != 0 || res.To != m.Latest() || !slices.Equal(res.Applied, []string{"00001_create_items.sql", "00002_item_limits.sql"}) {
		t.Fatalf("Up() = %+v", res)
	}

	again, err := m.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.From != m.Latest() || again.To != m.Latest() || len(again.Applied) != 0 {
		t.Fatalf("second Up() = %+v, want nothing applied", again)
	}
	status, err := m.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range status {
		if !s.Applied || s.AppliedAt.IsZero() {
			t.Errorf("after Up, %s is %+v", s.Name, s)
		}
	}
}

func TestStatusListsPendingMigrations(t *testing.T) {
	m := newMigrator(t, openDB(t), Options{})
	status, err := m.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(status) != 2 || status[0].Applied || status[1].Applied || status[0].Version != 1 || status[1].Version != 2 {
		t.Fatalf("Status() on an empty database = %+v, want versions 1 and 2 pending", status)
	}
}

// A migration runs while the previous version of the app serves traffic
// and has written rows: they must survive it.
func TestUpKeepsTheRowsOfTheVersionBefore(t *testing.T) {
	ctx := t.Context()
	db := openDB(t)
	m := newMigrator(t, db, Options{})
	latest := m.Latest()
	if _, err := m.UpTo(ctx, latest-1); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := db.ExecContext(ctx, `INSERT INTO items (id, name, description) VALUES ($1, $2, 'd')`,
			strings.Repeat(strconv.Itoa(i), 32), "row "+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}

	res, err := m.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.From != latest-1 || res.To != latest {
		t.Fatalf("Up() = %+v, want %d -> %d", res, latest-1, latest)
	}
	var names string
	if err := db.QueryRowContext(ctx, `SELECT string_agg(name, ',' ORDER BY seq) FROM items`).Scan(&names); err != nil {
		t.Fatal(err)
	}
	if names != "row 0,row 1,row 2" {
		t.Fatalf("rows after the migration: %q", names)
	}
	// And the new version's rule holds from now on.
	_, err = db.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ($1, $2)`, strings.Repeat("f", 32), strings.Repeat("x", 101))
	if err == nil || !strings.Contains(err.Error(), "items_name_length") {
		t.Fatalf("inserting a 101-character name = %v, want the items_name_length check to refuse it", err)
	}
}

func TestFailedMigrationIsRolledBackAndNamed(t *testing.T) {
	ctx := t.Context()
	db := openDB(t)
	m := newMigrator(t, db, Options{})
	if _, err := m.UpTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// A row written by hand that breaks the limits 00002 adds.
	if _, err := db.ExecContext(ctx, `INSERT INTO items (id, name) VALUES ($1, $2)`, strings.Repeat("a", 32), strings.Repeat("x", 101)); err != nil {
		t.Fatal(err)
	}

	_, err := m.Up(ctx)
	var failed *FailedError
	if !errors.As(err, &failed) {
		t.Fatalf("Up() = %v, want a *FailedError", err)
	}
	if failed.Name != "00002_item_limits.sql" || failed.Version != 1 || !strings.Contains(err.Error(), "items_name_length") {
		t.Fatalf("Up() = %v", err)
	}
	if v, err := m.Version(ctx); err != nil || v != 1 {
		t.Fatalf("version after the failure = %d, %v; want 1", v, err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM items`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows after the failure = %d, %v; want 1", n, err)
	}
}

func TestFailOnPurposeFixtureFailsOnEveryDatabase(t *testing.T) {
	ctx := t.Context()
	db := openDB(t)
	// Once on an empty database, once on a migrated one.
	for _, migrateFirst := range []bool{false, true} {
		if migrateFirst {
			if _, err := newMigrator(t, db, Options{}).Up(ctx); err != nil {
				t.Fatal(err)
			}
		}
		m := newMigrator(t, db, Options{Dir: failOnPurposeDir})
		before, _ := m.Version(ctx)
		_, err := m.Up(ctx)
		var failed *FailedError
		if !errors.As(err, &failed) || failed.Name != "99999999999999_fail_on_purpose.sql" || failed.Version != before ||
			!strings.Contains(err.Error(), "failing on purpose") {
			t.Fatalf("Up() with the fixture = %v", err)
		}
		if after, _ := m.Version(ctx); after != before {
			t.Fatalf("version moved from %d to %d", before, after)
		}
	}
}

func TestConcurrentMigratorsApplyEachMigrationOnce(t *testing.T) {
	ctx := t.Context()
	db := openDB(t)
	const migrators = 4
	results := make([]Result, migrators)
	errs := make([]error, migrators)
	var wg sync.WaitGroup
	for i := range migrators {
		wg.Go(func() {
			// Each its own Migrator, as separate ECS tasks would be.
			m, err := New(db, Options{LockTimeout: 30 * time.Second})
			if err != nil {
				errs[i] = err
				return
			}
			results[i], errs[i] = m.Up(ctx)
		})
	}
	wg.Wait()
	var applied []string
	for i := range migrators {
		if errs[i] != nil {
			t.Fatalf("migrator %d: %v", i, errs[i])
		}
		applied = append(applied, results[i].Applied...)
	}
	slices.Sort(applied)
	if !slices.Equal(applied, []string{"00001_create_items.sql", "00002_item_limits.sql"}) {
		t.Fatalf("applied across all migrators: %v, want each migration once", applied)
	}
}

func TestUpGivesUpWhileAnotherMigratorHoldsTheLock(t *testing.T) {
	ctx := t.Context()
	db := openDB(t)
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, "SELECT pg_advisory_lock($1)", LockID); err != nil {
		t.Fatal(err)
	}

	m := newMigrator(t, db, Options{LockTimeout: 300 * time.Millisecond})
	start := time.Now()
	_, err = m.Up(ctx)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Up() = %v, want ErrLocked", err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("Up() waited %s for a 300ms lock timeout", waited)
	}
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'items'`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("items tables = %d, %v; want 0 (nothing ran)", tables, err)
	}

	// Released, the lock is free for the next migrator.
	if _, err := holder.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", LockID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("Up() after the lock was released: %v", err)
	}
}

func TestNewRefusesAMissingOrEmptyDirectory(t *testing.T) {
	db, err := sql.Open("pgx", "postgres://nobody@127.0.0.1:1/none?sslmode=disable") // never connected
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := New(db, Options{Dir: t.TempDir() + "/missing"}); err == nil {
		t.Error("New() with a missing directory succeeded")
	}
	if _, err := New(db, Options{Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "no .sql migrations") {
		t.Errorf("New() with an empty directory = %v", err)
	}
}

// The built-in migrations follow the house rules: numbered 00001, 00002, ...
// without gaps, roll forward only (no Down section), and each bounds how long
// it waits for a table lock so that it cannot queue the running app's
// queries behind it for long.
func TestMigrationFilesFollowTheRules(t *testing.T) {
	entries, err := fs.ReadDir(embedded, "sql")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`^(\d{5})_[a-z0-9_]+\.sql$`)
	for i, e := range entries {
		m := name.FindStringSubmatch(e.Name())
		if m == nil {
			t.Errorf("%s: want NNNNN_lower_case_name.sql", e.Name())
			continue
		}
		if v, _ := strconv.Atoi(m[1]); v != i+1 {
			t.Errorf("%s: version %d, want %d (no gaps, no duplicates)", e.Name(), v, i+1)
		}
		b, err := fs.ReadFile(embedded, "sql/"+e.Name())
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if !strings.Contains(text, "-- +goose Up") || strings.Contains(text, "-- +goose Down") {
			t.Errorf("%s: want an Up section and no Down section", e.Name())
		}
		if !strings.Contains(text, "SET LOCAL lock_timeout") {
			t.Errorf("%s: want SET LOCAL lock_timeout before its statements", e.Name())
		}
	}
	if len(entries) == 0 {
		t.Fatal("no migrations embedded")
	}
}
