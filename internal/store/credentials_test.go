package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// RDS rotates the store's password behind the runner's back: the pools' open connections go on working,
// but a fresh connection is refused, and WatchCredentials says so within its interval.
func TestWatchCredentialsNoticesARotatedPassword(t *testing.T) {
	if pg == nil {
		t.Skip("skipping: PostgreSQL is not installed (.ci/run installs it)")
	}
	ctx := context.Background()
	const first = "first-password"
	role, url, err := pg.NewPasswordRole(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenPostgres(ctx, url, PostgresOptions{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done := make(chan error, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { done <- s.WatchCredentials(wctx, 20*time.Millisecond) }()
	select {
	case err := <-done:
		t.Fatalf("the watch ended while the credentials were valid: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := pg.Exec(ctx, "ALTER ROLE "+role+" PASSWORD 'rotated-password'"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrCredentialsRejected) {
			t.Fatalf("err %v, want ErrCredentialsRejected", err)
		}
		if strings.Contains(err.Error(), first) {
			t.Errorf("the error shows the password: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the rotated password was not noticed")
	}
}

// Without a rotation, or on SQLite, the watch returns nil when its context ends.
func TestWatchCredentialsEndsWithItsContext(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		s, _ := newStore(t)
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		if err := s.WatchCredentials(ctx, 20*time.Millisecond); err != nil {
			t.Fatalf("WatchCredentials: %v", err)
		}
	})
}
