package items

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestMemoryCRUD(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := NewMemory(WithClock(func() time.Time { return clock }))

	created, err := m.Create(ctx, Input{Name: "a", Description: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if len(created.ID) != 32 || created.Name != "a" || !created.CreatedAt.Equal(clock) {
		t.Fatalf("Create() = %+v", created)
	}
	got, err := m.Get(ctx, created.ID)
	if err != nil || got != created {
		t.Fatalf("Get() = %+v, %v; want %+v", got, err, created)
	}

	clock = clock.Add(time.Minute)
	updated, err := m.Update(ctx, created.ID, Input{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Name != "b" || updated.Description != "" || !updated.CreatedAt.Equal(created.CreatedAt) || !updated.UpdatedAt.Equal(clock) {
		t.Fatalf("Update() = %+v", updated)
	}

	if err := m.Delete(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(ctx, created.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get() after Delete = %v, want ErrNotFound", err)
	}
	if err := m.Delete(ctx, created.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete = %v, want ErrNotFound", err)
	}
	if _, err := m.Update(ctx, created.ID, Input{Name: "c"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Update() after Delete = %v, want ErrNotFound", err)
	}
}

func TestMemoryRefusesWhenFull(t *testing.T) {
	m := NewMemory(WithMaxItems(2))
	ctx := context.Background()
	for range 2 {
		if _, err := m.Create(ctx, Input{Name: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Create(ctx, Input{Name: "x"}); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("Create() on a full store = %v, want ErrStoreFull", err)
	}
}
