package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/postgres"
)

func TestMigrateCopiesSQLiteIntoPostgres(t *testing.T) {
	ctx := context.Background()
	pg, err := postgres.Start(ctx)
	if errors.Is(err, postgres.ErrUnavailable) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	url, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Accept(ctx, event.Event{DeliveryID: "d-1", Name: "push", Kind: event.KindDeploy, Repo: "acme/infra", SHA: "abc"}, nil); err != nil {
		t.Fatal(err)
	}
	src.Close()

	code, stdout, stderr := runCmd(t, "migrate", "--database-url", url, "--from", "sqlite:"+dir)
	if code != 0 || !strings.Contains(stdout, "migrated the postgres store") || !strings.Contains(stdout, "copied runs             1 rows") ||
		!strings.Contains(stdout, "1 unfinished run(s) will be resumed") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	dst, err := store.OpenPostgres(ctx, url, store.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if n, _ := dst.CountRuns(ctx); n != 1 {
		t.Errorf("%d runs in PostgreSQL", n)
	}
	// A second copy is refused: the database is no longer empty.
	if code, _, stderr := runCmd(t, "migrate", "--database-url", url, "--from", "sqlite:"+dir); code != 1 || !strings.Contains(stderr, "already holds runs") {
		t.Errorf("second copy: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCmd(t, "migrate", "--data-dir", dir, "--from", "sqlite:"+dir); code != 1 || !strings.Contains(stderr, "give --database-url") {
		t.Errorf("copy without a destination: exit %d, %s", code, stderr)
	}
	if code, stdout, _ := runCmd(t, "migrate", "--data-dir", dir); code != 0 || !strings.Contains(stdout, "migrated the sqlite store") {
		t.Errorf("sqlite migrate: exit %d, %s", code, stdout)
	}
}
