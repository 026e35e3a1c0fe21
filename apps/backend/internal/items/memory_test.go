package items

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

func TestMemoryListPagesInCreationOrder(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	var ids []string
	for i := range 7 {
		it, err := m.Create(ctx, Input{Name: fmt.Sprintf("item %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, it.ID)
	}

	first, err := m.List(ctx, ListOptions{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	assertNames(t, first, "item 0", "item 1", "item 2")
	if first.Next == "" {
		t.Fatal("first page has no next cursor")
	}

	// Deleting the last item of a page and the first of the next must neither
	// repeat nor skip the items that remain.
	for _, id := range []string{ids[2], ids[3]} {
		if err := m.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	second, err := m.List(ctx, ListOptions{Limit: 3, Cursor: first.Next})
	if err != nil {
		t.Fatal(err)
	}
	assertNames(t, second, "item 4", "item 5", "item 6")
	if second.Next != "" {
		t.Fatalf("last page has next cursor %q", second.Next)
	}

	all, err := m.List(ctx, ListOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	assertNames(t, all, "item 0", "item 1", "item 4", "item 5", "item 6")
}

func TestMemoryListEmptyReturnsEmptySlice(t *testing.T) {
	page, err := NewMemory().List(context.Background(), ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if page.Items == nil || len(page.Items) != 0 || page.Next != "" {
		t.Fatalf("List() = %#v, want an empty non-nil page", page)
	}
}

func TestMemoryListRefusesBadInput(t *testing.T) {
	m := NewMemory()
	for _, cursor := range []string{"!!", "eA", encodeCursor(1)[:2], "czEyYQ"} {
		if _, err := m.List(context.Background(), ListOptions{Limit: 1, Cursor: cursor}); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("List(cursor %q) = %v, want ErrInvalidCursor", cursor, err)
		}
	}
	if _, err := m.List(context.Background(), ListOptions{Limit: 0}); err == nil {
		t.Error("List(limit 0) succeeded")
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

func TestMemoryHonoursCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := NewMemory()
	if _, err := m.Create(ctx, Input{Name: "x"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Create() = %v, want context.Canceled", err)
	}
	if _, err := m.List(ctx, ListOptions{Limit: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("List() = %v, want context.Canceled", err)
	}
}

// Run with -race: concurrent writers and readers must neither race nor lose
// or duplicate items.
func TestMemoryConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	m := NewMemory()
	const writers, perWriter = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				it, err := m.Create(ctx, Input{Name: fmt.Sprintf("w%d-%d", w, i)})
				if err != nil {
					errs <- err
					return
				}
				if _, err := m.Update(ctx, it.ID, Input{Name: it.Name + "!"}); err != nil {
					errs <- err
					return
				}
				if i%2 == 0 {
					if err := m.Delete(ctx, it.ID); err != nil {
						errs <- err
						return
					}
				}
				if _, err := m.List(ctx, ListOptions{Limit: 10}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	seen := map[string]bool{}
	cursor := ""
	for {
		page, err := m.List(ctx, ListOptions{Limit: 7, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			if seen[it.ID] {
				t.Fatalf("item %s listed twice", it.ID)
			}
			seen[it.ID] = true
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if want := writers * perWriter / 2; len(seen) != want {
		t.Fatalf("listed %d items, want %d", len(seen), want)
	}
}

func assertNames(t *testing.T, page Page, want ...string) {
	t.Helper()
	if len(page.Items) != len(want) {
		t.Fatalf("got %d items, want %d (%v)", len(page.Items), len(want), want)
	}
	for i, it := range page.Items {
		if it.Name != want[i] {
			t.Errorf("item %d = %q, want %q", i, it.Name, want[i])
		}
	}
}
