package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/testenv/postgres"
)

// clock is a settable time source for the store's injectable now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// pg is the PostgreSQL server of this test binary (nil when PostgreSQL is not installed).
var pg *postgres.Server

func TestMain(m *testing.M) {
	s, err := postgres.Start(context.Background())
	switch {
	case errors.Is(err, postgres.ErrUnavailable):
		fmt.Fprintf(os.Stderr, "store tests: %v: the PostgreSQL halves are skipped\n", err)
	case err != nil:
		fmt.Fprintf(os.Stderr, "store tests: start PostgreSQL: %v\n", err)
		os.Exit(1)
	default:
		pg = s
	}
	code := m.Run()
	if pg != nil {
		pg.Stop()
	}
	os.Exit(code)
}

// bothDrivers runs a test against SQLite and against PostgreSQL: newStore opens the one the subtest
// names.
func bothDrivers(t *testing.T, test func(t *testing.T)) {
	t.Run("sqlite", test)
	t.Run("postgres", func(t *testing.T) {
		if pg == nil {
			t.Skip("skipping: PostgreSQL is not installed (.ci/run installs it)")
		}
		test(t)
	})
}

// newStore opens a real store whose clock the test moves: SQLite in a temporary directory, or a fresh
// PostgreSQL database under a "postgres" subtest of bothDrivers.
func newStore(t *testing.T) (*Store, *clock) {
	t.Helper()
	var (
		s   *Store
		err error
	)
	if strings.Contains(t.Name(), "/postgres") {
		url, uerr := pg.NewDatabase(context.Background())
		if uerr != nil {
			t.Fatal(uerr)
		}
		s, err = OpenPostgres(context.Background(), url, PostgresOptions{})
	} else {
		s, err = OpenSQLite(context.Background(), t.TempDir())
	}
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	c := &clock{t: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
	s.now = c.Now
	return s, c
}

func testEvent(delivery, repo string) event.Event {
	return event.Event{
		DeliveryID: delivery, Name: "push", Kind: event.KindDeploy, Repo: repo,
		CloneURL: "https://github.com/" + repo + ".git", SHA: "abc123", BaseSHA: "000111",
		Ref: "refs/heads/main", Sender: "octocat",
	}
}

// accept stores a run without a queue job.
func accept(t *testing.T, s *Store, delivery, repo string) int64 {
	t.Helper()
	rec, err := s.Accept(context.Background(), testEvent(delivery, repo), nil)
	id, dup := rec.Run, rec.Duplicate
	if err != nil || dup {
		t.Fatalf("Accept(%s) = %d, dup %v, %v", delivery, id, dup, err)
	}
	return id
}

func TestOpenSQLiteReopensExistingDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Accept(ctx, testEvent("d1", "acme/infra"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if n, err := s.CountRuns(ctx); err != nil || n != 1 {
		t.Fatalf("CountRuns after reopen = %d, %v; want 1", n, err)
	}
}

func testPingFailsOnClosedStore(t *testing.T) {
	s, _ := newStore(t)
	s.Close()
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("Ping on a closed store succeeded")
	}
}

func TestPingFailsOnClosedStore(t *testing.T) { bothDrivers(t, testPingFailsOnClosedStore) }
