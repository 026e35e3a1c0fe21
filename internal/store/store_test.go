package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/event"
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

// newStore opens a real SQLite store in a temporary directory whose clock the test moves.
func newStore(t *testing.T) (*Store, *clock) {
	t.Helper()
	s, err := OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
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

func TestPingFailsOnClosedStore(t *testing.T) {
	s, _ := newStore(t)
	s.Close()
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("Ping on a closed store succeeded")
	}
}
