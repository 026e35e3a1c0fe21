package postgres

import (
	"context"
	"database/sql"
	"errors"
	"testing"
)

func TestStartAndNewDatabase(t *testing.T) {
	ctx := context.Background()
	s, err := Start(ctx)
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	a, err := s.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.NewDatabase(ctx)
	if a == b {
		t.Fatal("the same database twice")
	}
	db, err := sql.Open("pgx", a)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, "SELECT current_database()").Scan(&v); err != nil || v == "" {
		t.Fatalf("query: %q, %v", v, err)
	}
}
