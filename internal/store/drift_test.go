package store

import (
	"context"
	"errors"
	"testing"
)

func TestDriftChecks(t *testing.T) {
	bothDrivers(t, func(t *testing.T) {
		s, _ := newStore(t)
		ctx := context.Background()
		if _, err := s.LastDriftCheck(ctx, "acme/infra", "dev"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("no check yet: err %v, want ErrNotFound", err)
		}
		first := DriftCheck{Repo: "acme/infra", Env: "dev", SHA: "a1", RunID: 1, Drifted: true, Fingerprint: "f1", Report: `{"drift":[]}`}
		if _, found, err := s.RecordDriftCheck(ctx, first); err != nil || found {
			t.Fatalf("first check: found %v, err %v", found, err)
		}
		prev, found, err := s.RecordDriftCheck(ctx, DriftCheck{Repo: "acme/infra", Env: "dev", SHA: "a2", RunID: 2})
		if err != nil || !found || prev.Fingerprint != "f1" || !prev.Drifted || prev.SHA != "a1" || prev.Report != `{"drift":[]}` {
			t.Fatalf("second check: prev %+v found %v err %v", prev, found, err)
		}
		last, err := s.LastDriftCheck(ctx, "acme/infra", "dev")
		if err != nil || last.Drifted || last.SHA != "a2" || last.At.IsZero() {
			t.Fatalf("last %+v, %v", last, err)
		}
		if _, err := s.LastDriftCheck(ctx, "acme/infra", "prod"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("other environment: err %v", err)
		}
	})
}
