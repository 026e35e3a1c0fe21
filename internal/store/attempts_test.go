package store

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func testAttemptsLifecycle(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	id := accept(t, s, "d-1", "acme/infra")
	stages, err := s.EnsureStages(ctx, id, []StageKey{{"dev", "plan"}, {"dev", "apply"}})
	if err != nil {
		t.Fatal(err)
	}
	plan, apply := stages[0].ID, stages[1].ID
	start := time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)
	a := Attempt{StageID: apply, RunID: id, Attempt: 1, Identity: "rs2a1-0a0b0c0d", Mode: "namespaces", Replica: "host-a/12",
		Host: "host-a", BootID: "b-1", Records: "/data/work/.procs/rs2a1-0a0b0c0d", Started: start}
	for _, at := range []Attempt{{StageID: plan, RunID: id, Attempt: 1, Identity: "rs1a1-1", Started: start}, a} {
		if err := s.StartAttempt(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.StartAttempt(ctx, a); err == nil {
		t.Fatal("the same attempt recorded twice")
	}
	if err := s.EndAttempt(ctx, plan, 1); err != nil {
		t.Fatal(err)
	}
	open, err := s.OpenAttempts(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := a
	want.Env, want.Stage = "dev", "apply"
	if len(open) != 1 || !reflect.DeepEqual(open[0], want) {
		t.Fatalf("open attempts = %+v, want only %+v", open, want)
	}
	for _, lock := range []string{"lock-1", "lock-2"} {
		if err := s.LockReleased(ctx, apply, 1, lock); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.LockReleased(ctx, apply, 1, "a,b"); err == nil {
		t.Fatal("a lock id with a comma accepted")
	}
	if err := s.EndAttempt(ctx, apply, 1); err != nil {
		t.Fatal(err)
	}
	all, err := s.Attempts(ctx, apply)
	if err != nil || len(all) != 1 || !reflect.DeepEqual(all[0].Released, []string{"lock-1", "lock-2"}) || all[0].Ended.IsZero() {
		t.Fatalf("attempts = %+v, %v; want one ended, two locks released", all, err)
	}
	if open, _ := s.OpenAttempts(ctx, id); len(open) != 0 {
		t.Fatalf("open attempts after both ended: %+v", open)
	}
}

func TestAttemptsLifecycle(t *testing.T) { bothDrivers(t, testAttemptsLifecycle) }
