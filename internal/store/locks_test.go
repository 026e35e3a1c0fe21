package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

const lease = time.Minute

func mustLock(t *testing.T, s *Store, env, holder string, run int64) Lock {
	t.Helper()
	ok, l, err := s.TryLock(context.Background(), "acme/infra", env, holder, run, lease)
	if err != nil || !ok {
		t.Fatalf("TryLock(%s, %s) = %v, %+v, %v; want acquired", env, holder, ok, l, err)
	}
	return l
}

func testTryLock(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t)

	// Free.
	l := mustLock(t, s, "prod", "run-1", 1)
	acquired := c.Now()
	if l.Holder != "run-1" || l.RunID != 1 || !l.Acquired.Equal(acquired) || !l.Expires.Equal(acquired.Add(lease)) {
		t.Errorf("new lock = %+v", l)
	}

	// Held by another: not acquired, and the holder is named.
	c.Advance(10 * time.Second)
	ok, cur, err := s.TryLock(ctx, "acme/infra", "prod", "run-2", 2, lease)
	if err != nil || ok {
		t.Fatalf("TryLock by another = %v, %v; want not acquired", ok, err)
	}
	if cur.Holder != "run-1" || cur.RunID != 1 {
		t.Errorf("current = %+v, want run-1's lock", cur)
	}

	// Re-entrant: the holder extends its lease and keeps its acquisition time.
	l = mustLock(t, s, "prod", "run-1", 1)
	if !l.Acquired.Equal(acquired) || !l.Expires.Equal(c.Now().Add(lease)) {
		t.Errorf("re-entered lock = %+v, want acquired %v and expiry %v", l, acquired, c.Now().Add(lease))
	}

	// Other environments and repositories are independent.
	mustLock(t, s, "dev", "run-2", 2)
	if ok, _, err := s.TryLock(ctx, "acme/other", "prod", "run-2", 2, lease); err != nil || !ok {
		t.Errorf("other repository's prod: %v, %v; want acquired", ok, err)
	}
	if h, _ := s.LockHistory(ctx, "acme/infra"); len(h) != 0 {
		t.Errorf("history = %+v, want none: nothing was released", h)
	}
}

func testExpiredLeaseLetsAnotherHolderIn(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t)
	first := mustLock(t, s, "prod", "run-1", 1)

	c.Advance(lease) // exactly at expiry the lease still holds
	if ok, _, err := s.TryLock(ctx, "acme/infra", "prod", "run-2", 2, lease); err != nil || ok {
		t.Fatalf("TryLock at expiry = %v, %v; want not acquired", ok, err)
	}
	c.Advance(time.Millisecond)
	l := mustLock(t, s, "prod", "run-2", 2)
	if !l.Acquired.Equal(c.Now()) {
		t.Errorf("taken-over lock acquired at %v, want %v", l.Acquired, c.Now())
	}
	h, err := s.LockHistory(ctx, "acme/infra")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].RunID != 1 || h[0].Reason != "lease expired" || !h[0].Acquired.Equal(first.Acquired) || !h[0].Released.Equal(c.Now()) {
		t.Errorf("history = %+v, want run 1's span ended by lease expiry", h)
	}
	// The first holder finds out when it renews.
	if err := s.RenewLock(ctx, "acme/infra", "prod", "run-1", lease); !errors.Is(err, ErrLockLost) {
		t.Errorf("RenewLock by the old holder = %v, want ErrLockLost", err)
	}
	if _, err := s.ReleaseLock(ctx, "acme/infra", "prod", "run-1", "done"); !errors.Is(err, ErrLockLost) {
		t.Errorf("ReleaseLock by the old holder = %v, want ErrLockLost", err)
	}
}

func testRenewLockExtendsLease(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t)
	mustLock(t, s, "prod", "run-1", 1)
	c.Advance(50 * time.Second)
	if err := s.RenewLock(ctx, "acme/infra", "prod", "run-1", lease); err != nil {
		t.Fatalf("RenewLock: %v", err)
	}
	locks, err := s.Locks(ctx)
	if err != nil || len(locks) != 1 || !locks[0].Expires.Equal(c.Now().Add(lease)) {
		t.Fatalf("Locks = %+v, %v; want expiry %v", locks, err, c.Now().Add(lease))
	}
	c.Advance(30 * time.Second) // past the first lease, within the renewed one
	if ok, cur, err := s.TryLock(ctx, "acme/infra", "prod", "run-2", 2, lease); err != nil || ok || cur.Holder != "run-1" {
		t.Errorf("TryLock within the renewed lease = %v, %+v, %v; want held by run-1", ok, cur, err)
	}
	if err := s.RenewLock(ctx, "acme/infra", "dev", "run-1", lease); !errors.Is(err, ErrLockLost) {
		t.Errorf("RenewLock of a lock never taken = %v, want ErrLockLost", err)
	}
}

func testReleaseLock(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		holder     string
		wantErr    error
		wantLocked bool
	}{
		{"by its holder", "run-1", nil, false},
		{"by an operator", "", nil, false},
		{"by another holder", "run-2", ErrLockLost, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newStore(t)
			mustLock(t, s, "prod", "run-1", 1)
			c.Advance(time.Minute / 2)
			reason := "released " + tc.name
			l, err := s.ReleaseLock(ctx, "acme/infra", "prod", tc.holder, reason)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ReleaseLock = %v, want %v", err, tc.wantErr)
			}
			if l.Holder != "run-1" || l.RunID != 1 {
				t.Errorf("returned lock = %+v, want run-1's", l)
			}
			locks, _ := s.Locks(ctx)
			if locked := len(locks) == 1; locked != tc.wantLocked {
				t.Errorf("locks after release = %+v, want locked %v", locks, tc.wantLocked)
			}
			h, _ := s.LockHistory(ctx, "acme/infra")
			if tc.wantLocked {
				if len(h) != 0 {
					t.Errorf("history = %+v, want none", h)
				}
				return
			}
			if len(h) != 1 || h[0].Reason != reason || h[0].Env != "prod" || h[0].RunID != 1 || !h[0].Released.Equal(c.Now()) {
				t.Errorf("history = %+v, want one span with reason %q", h, reason)
			}
			// Free again.
			mustLock(t, s, "prod", "run-3", 3)
		})
	}
}

func testReleaseLockNotHeld(t *testing.T) {
	s, _ := newStore(t)
	if _, err := s.ReleaseLock(context.Background(), "acme/infra", "prod", "", "why"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ReleaseLock of a free lock = %v, want ErrNotFound", err)
	}
}

func testReleaseAllLocks(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t)
	for i, env := range []string{"dev", "staging", "prod"} {
		mustLock(t, s, env, fmt.Sprintf("run-%d", i), int64(i))
	}
	c.Advance(2 * lease) // expired leases are dropped too
	released, err := s.ReleaseAllLocks(ctx, "previous process died")
	if err != nil {
		t.Fatal(err)
	}
	if len(released) != 3 {
		t.Errorf("released = %+v, want 3 locks", released)
	}
	if locks, _ := s.Locks(ctx); len(locks) != 0 {
		t.Errorf("locks left = %+v", locks)
	}
	h, _ := s.LockHistory(ctx, "acme/infra")
	if len(h) != 3 {
		t.Fatalf("history = %+v, want 3 spans", h)
	}
	for _, span := range h {
		if span.Reason != "previous process died" {
			t.Errorf("span %+v: reason %q", span, span.Reason)
		}
	}
	if again, err := s.ReleaseAllLocks(ctx, "again"); err != nil || len(again) != 0 {
		t.Errorf("ReleaseAllLocks with none = %+v, %v", again, err)
	}
}

func testLocksListing(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t)
	if locks, err := s.Locks(ctx); err != nil || locks == nil || len(locks) != 0 {
		t.Fatalf("Locks with none = %#v, %v; want an empty list", locks, err)
	}
	mustLock(t, s, "prod", "run-1", 1)
	if ok, _, err := s.TryLock(ctx, "acme/api", "dev", "run-2", 2, lease); err != nil || !ok {
		t.Fatal(ok, err)
	}
	mustLock(t, s, "dev", "run-3", 3)
	c.Advance(2 * lease)
	locks, err := s.Locks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range locks {
		got = append(got, fmt.Sprintf("%s/%s=%d", l.Repo, l.Env, l.RunID))
	}
	want := []string{"acme/api/dev=2", "acme/infra/dev=3", "acme/infra/prod=1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Locks = %v, want %v (expired leases listed, ordered by repo and env)", got, want)
	}
	if locks[0].Expires.Location() != time.UTC || !c.Now().After(locks[0].Expires) {
		t.Errorf("lock expiry = %v", locks[0].Expires)
	}
}

func TestTryLock(t *testing.T) { bothDrivers(t, testTryLock) }
func TestExpiredLeaseLetsAnotherHolderIn(t *testing.T) {
	bothDrivers(t, testExpiredLeaseLetsAnotherHolderIn)
}
func TestRenewLockExtendsLease(t *testing.T) { bothDrivers(t, testRenewLockExtendsLease) }
func TestReleaseLock(t *testing.T)           { bothDrivers(t, testReleaseLock) }
func TestReleaseLockNotHeld(t *testing.T)    { bothDrivers(t, testReleaseLockNotHeld) }
func TestReleaseAllLocks(t *testing.T)       { bothDrivers(t, testReleaseAllLocks) }
func TestLocksListing(t *testing.T)          { bothDrivers(t, testLocksListing) }
