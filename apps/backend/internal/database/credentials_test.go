package database

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/gitops-runner/runner/apps/backend/internal/config"
	"github.com/gitops-runner/runner/apps/backend/internal/pgtest"
)

// A rotated password is noticed by a fresh connection within the interval, though the pool's open
// connections go on working.
func TestWatchCredentialsNoticesARotatedPassword(t *testing.T) {
	admin := pgtest.NewDatabase(t)
	pool := pgtest.NewPool(t, admin)
	ctx := context.Background()
	for _, q := range []string{
		`DO $$ BEGIN CREATE ROLE ` + pgtest.PasswordGroup + ` NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
		`CREATE ROLE app LOGIN PASSWORD 'first-password' IN ROLE ` + pgtest.PasswordGroup,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DROP ROLE IF EXISTS app`) })
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("app", "first-password")
	cfg := config.DB{URL: config.Secret(u.String()), Password: config.Secret("first-password")}

	done := make(chan error, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { done <- WatchCredentials(wctx, cfg, 20*time.Millisecond) }()
	select {
	case err := <-done:
		t.Fatalf("the watch ended with valid credentials: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := pool.Exec(ctx, `ALTER ROLE app PASSWORD 'rotated-password'`); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrCredentialsRejected) {
			t.Fatalf("err %v, want ErrCredentialsRejected", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the rotated password was not noticed")
	}
}
