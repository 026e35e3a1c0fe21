package store

import (
	"bytes"
	"context"
	"testing"
)

// A run's saved plans are kept per environment, replaced as a set, read back byte for byte (binary
// included), and forgotten when the run finishes.
func testKeptPlans(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	run := accept(t, s, "d-1", "acme/infra")
	other := accept(t, s, "d-2", "acme/infra")
	binary := []byte{0, 1, 2, 0xff, 0xfe, 0, 'P', 'K'}
	if err := s.KeepPlans(ctx, run, "prod", []SavedPlan{{"prod.tfplan", []byte("old")}, {"net.tfplan", binary}}); err != nil {
		t.Fatal(err)
	}
	// A new plan replaces the whole set: a project no longer planned leaves none behind.
	if err := s.KeepPlans(ctx, run, "prod", []SavedPlan{{"app.tfplan", binary}}); err != nil {
		t.Fatal(err)
	}
	if err := s.KeepPlans(ctx, other, "prod", []SavedPlan{{"prod.tfplan", []byte("another run's")}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.KeptPlans(ctx, run, "prod")
	if err != nil || len(got) != 1 || got[0].Name != "app.tfplan" || !bytes.Equal(got[0].Sealed, binary) {
		t.Fatalf("kept plans = %+v, %v; want app.tfplan with the binary contents", got, err)
	}
	if none, err := s.KeptPlans(ctx, run, "dev"); err != nil || len(none) != 0 {
		t.Fatalf("plans of an environment never planned = %+v, %v", none, err)
	}
	if err := s.FinishRun(ctx, run, StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	if gone, err := s.KeptPlans(ctx, run, "prod"); err != nil || len(gone) != 0 {
		t.Fatalf("plans of a finished run = %+v, %v; want none", gone, err)
	}
	if kept, err := s.KeptPlans(ctx, other, "prod"); err != nil || len(kept) != 1 {
		t.Fatalf("another run's plans = %+v, %v; want them kept", kept, err)
	}
}

func TestKeptPlans(t *testing.T) { bothDrivers(t, testKeptPlans) }
