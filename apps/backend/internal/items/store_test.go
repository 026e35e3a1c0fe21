package items_test

// The contract both stores keep, each test run against each store. Run with
// -race.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/apps/backend/internal/items"
	"github.com/gitops-runner/runner/apps/backend/internal/items/itemstest"
	"github.com/gitops-runner/runner/apps/backend/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// forEachStore runs test once per store kind, each with an empty store.
func forEachStore(t *testing.T, test func(t *testing.T, s itemstest.Store)) {
	for _, kind := range itemstest.Kinds() {
		t.Run(kind.Name, func(t *testing.T) { test(t, kind.New(t)) })
	}
}

func TestStoreCRUD(t *testing.T) {
	forEachStore(t, func(t *testing.T, s itemstest.Store) {
		ctx := t.Context()
		created, err := s.Create(ctx, items.Input{Name: "a", Description: "first"})
		if err != nil {
			t.Fatal(err)
		}
		if len(created.ID) != 32 || created.Name != "a" || created.Description != "first" ||
			created.CreatedAt.IsZero() || !created.UpdatedAt.Equal(created.CreatedAt) || created.CreatedAt.Location() != time.UTC {
			t.Fatalf("Create() = %+v", created)
		}
		got, err := s.Get(ctx, created.ID)
		if err != nil || !sameItem(got, created) {
			t.Fatalf("Get() = %+v, %v; want %+v", got, err, created)
		}

		updated, err := s.Update(ctx, created.ID, items.Input{Name: "b"})
		if err != nil {
			t.Fatal(err)
		}
		if updated.ID != created.ID || updated.Name != "b" || updated.Description != "" ||
			!updated.CreatedAt.Equal(created.CreatedAt) || updated.UpdatedAt.Before(created.CreatedAt) {
			t.Fatalf("Update() = %+v", updated)
		}
		if got, err := s.Get(ctx, created.ID); err != nil || !sameItem(got, updated) {
			t.Fatalf("Get() after Update = %+v, %v; want %+v", got, err, updated)
		}

		if err := s.Delete(ctx, created.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, created.ID); !errors.Is(err, items.ErrNotFound) {
			t.Fatalf("Get() after Delete = %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, created.ID); !errors.Is(err, items.ErrNotFound) {
			t.Fatalf("second Delete = %v, want ErrNotFound", err)
		}
		if _, err := s.Update(ctx, created.ID, items.Input{Name: "c"}); !errors.Is(err, items.ErrNotFound) {
			t.Fatalf("Update() after Delete = %v, want ErrNotFound", err)
		}
	})
}

func sameItem(a, b items.Item) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Description == b.Description &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func TestStoreFindsNothingUnderStrangeIDs(t *testing.T) {
	forEachStore(t, func(t *testing.T, s itemstest.Store) {
		ctx := t.Context()
		real, err := s.Create(ctx, items.Input{Name: "real"})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"", "nope", strings.ToUpper(real.ID), real.ID + "0", "\x00", "a\xffb", strings.Repeat("z", 32)} {
			if _, err := s.Get(ctx, id); !errors.Is(err, items.ErrNotFound) {
				t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
			}
			if _, err := s.Update(ctx, id, items.Input{Name: "x"}); !errors.Is(err, items.ErrNotFound) {
				t.Errorf("Update(%q) = %v, want ErrNotFound", id, err)
			}
			if err := s.Delete(ctx, id); !errors.Is(err, items.ErrNotFound) {
				t.Errorf("Delete(%q) = %v, want ErrNotFound", id, err)
			}
		}
	})
}

func TestStoreListPagesInCreationOrder(t *testing.T) {
	forEachStore(t, func(t *testing.T, s itemstest.Store) {
		ctx := t.Context()
		var ids []string
		for i := range 7 {
			it, err := s.Create(ctx, items.Input{Name: fmt.Sprintf("item %d", i)})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, it.ID)
		}

		first, err := s.List(ctx, items.ListOptions{Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		assertNames(t, first, "item 0", "item 1", "item 2")
		if first.Next == "" {
			t.Fatal("first page has no next cursor")
		}

		// Deleting the last item of a page and the first of the next must
		// neither repeat nor skip the items that remain.
		for _, id := range []string{ids[2], ids[3]} {
			if err := s.Delete(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		second, err := s.List(ctx, items.ListOptions{Limit: 3, Cursor: first.Next})
		if err != nil {
			t.Fatal(err)
		}
		assertNames(t, second, "item 4", "item 5", "item 6")
		if second.Next != "" {
			t.Fatalf("last page has next cursor %q", second.Next)
		}

		all, err := s.List(ctx, items.ListOptions{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		assertNames(t, all, "item 0", "item 1", "item 4", "item 5", "item 6")
	})
}

func TestStoreListEmptyReturnsEmptySlice(t *testing.T) {
	forEachStore(t, func(t *testing.T, s itemstest.Store) {
		page, err := s.List(t.Context(), items.ListOptions{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if page.Items == nil || len(page.Items) != 0 || page.Next != "" {
			t.Fatalf("List() = %#v, want an empty non-nil page", page)
		}
	})
}

func TestStoreListRefusesBadInput(t *testing.T) {
	forEachStore(t, func(t *testing.T, s itemstest.Store) {
		ctx := t.Context()
		for _, cursor := range []string{"!!", "eA", "cw", "czEyYQ", "cy0x"} {
			if _, err := s.List(ctx, items.ListOptions{Limit: 1, Cursor: cursor}); !errors.Is(err, items.ErrInvalidCursor) {
				t.Errorf("List(cursor %q) = %v, want ErrInvalidCursor", cursor, err)
			}
		}
		if _, err := s.List(ctx, items.ListOptions{Limit: 0}); err == nil {
			t.Error("List(limit 0) succeeded")
		}
	})
}

func TestStoreHonoursCancelledContext(t *testing.T) {
	forEachStore(t, func(t *testing.T, s itemstest.Store) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := s.Create(ctx, items.Input{Name: "x"}); !errors.Is(err, context.Canceled) {
			t.Errorf("Create() = %v, want context.Canceled", err)
		}
		if _, err := s.List(ctx, items.ListOptions{Limit: 1}); !errors.Is(err, context.Canceled) {
			t.Errorf("List() = %v, want context.Canceled", err)
		}
	})
}

// Writers creating, replacing, deleting and listing at once must neither
// lose nor duplicate items, nor lose a replace.
func TestStoreConcurrentWriters(t *testing.T) {
	forEachStore(t, func(t *testing.T, s itemstest.Store) {
		ctx := t.Context()
		const writers, perWriter = 8, 24
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				for i := range perWriter {
					if err := createReplaceMaybeDelete(ctx, s, fmt.Sprintf("w%d-%d", w, i), i%2 == 0); err != nil {
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

		seen := listAll(t, s, 7)
		if want := writers * perWriter / 2; len(seen) != want {
			t.Fatalf("listed %d items, want %d", len(seen), want)
		}
		for _, it := range seen {
			if !strings.HasSuffix(it.Name, "!") || it.Description != it.Name {
				t.Fatalf("item %+v missed its replace", it)
			}
		}
	})
}

func createReplaceMaybeDelete(ctx context.Context, s itemstest.Store, name string, del bool) error {
	it, err := s.Create(ctx, items.Input{Name: name})
	if err != nil {
		return err
	}
	if _, err := s.Update(ctx, it.ID, items.Input{Name: name + "!", Description: name + "!"}); err != nil {
		return err
	}
	if del {
		if err := s.Delete(ctx, it.ID); err != nil {
			return err
		}
	}
	_, err = s.List(ctx, items.ListOptions{Limit: 10})
	return err
}

// Replaces of one item at once each win whole: the item ends as one of
// them, never with the name of one and the description of another, and
// each caller gets back exactly what it wrote.
func TestStoreConcurrentReplacesOfOneItem(t *testing.T) {
	forEachStore(t, func(t *testing.T, s itemstest.Store) {
		ctx := t.Context()
		it, err := s.Create(ctx, items.Input{Name: "start"})
		if err != nil {
			t.Fatal(err)
		}
		const writers, perWriter = 8, 20
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				for i := range perWriter {
					tag := fmt.Sprintf("w%d-%d", w, i)
					got, err := s.Update(ctx, it.ID, items.Input{Name: tag, Description: "by " + tag})
					if err == nil && (got.Name != tag || got.Description != "by "+tag) {
						err = fmt.Errorf("Update(%s) returned %+v", tag, got)
					}
					if err != nil {
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
		final, err := s.Get(ctx, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		if final.Description != "by "+final.Name || final.Name == "start" {
			t.Fatalf("final item %+v is not one whole replace", final)
		}
	})
}

// A replace that loses the race against a delete answers ErrNotFound and
// does not bring the item back.
func TestStoreReplaceRacingDeleteNeverResurrects(t *testing.T) {
	forEachStore(t, func(t *testing.T, s itemstest.Store) {
		ctx := t.Context()
		it, err := s.Create(ctx, items.Input{Name: "doomed"})
		if err != nil {
			t.Fatal(err)
		}
		const writers, perWriter = 8, 20
		started := make(chan struct{}, writers)
		var wg sync.WaitGroup
		errs := make(chan error, writers+1)
		for w := range writers {
			wg.Go(func() {
				gone := false
				for i := range perWriter {
					_, err := s.Update(ctx, it.ID, items.Input{Name: fmt.Sprintf("w%d-%d", w, i)})
					if i == 0 {
						started <- struct{}{}
					}
					switch {
					case errors.Is(err, items.ErrNotFound):
						gone = true
					case err != nil:
						errs <- err
						return
					case gone:
						errs <- fmt.Errorf("writer %d: Update succeeded after it had answered ErrNotFound", w)
						return
					}
				}
			})
		}
		wg.Go(func() {
			for range writers {
				<-started
			}
			if err := s.Delete(ctx, it.ID); err != nil {
				errs <- err
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, it.ID); !errors.Is(err, items.ErrNotFound) {
			t.Fatalf("Get() after the race = %v, want ErrNotFound", err)
		}
		if n := len(listAll(t, s, 10)); n != 0 {
			t.Fatalf("%d items listed after the delete", n)
		}
	})
}

// Paging while other clients insert: every item that existed before the
// first page is seen exactly once, in creation order, and no item twice.
func TestStorePagingWhileInserting(t *testing.T) {
	forEachStore(t, func(t *testing.T, s itemstest.Store) {
		ctx := t.Context()
		const existing = 60
		var want []string
		for i := range existing {
			it, err := s.Create(ctx, items.Input{Name: fmt.Sprintf("old %d", i)})
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, it.ID)
		}

		stop := make(chan struct{})
		inserterErr := make(chan error, 1)
		go func() {
			defer close(inserterErr)
			for i := range 200 { // bounded, whether or not paging is done
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Create(ctx, items.Input{Name: fmt.Sprintf("new %d", i)}); err != nil {
					inserterErr <- err
					return
				}
			}
		}()

		seen := map[string]int{}
		var oldOrder []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatal("paging did not end")
			}
			page, err := s.List(ctx, items.ListOptions{Limit: 7, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Items {
				seen[it.ID]++
				if strings.HasPrefix(it.Name, "old ") {
					oldOrder = append(oldOrder, it.ID)
				}
			}
			// And one more insert between every two pages, from here.
			if _, err := s.Create(ctx, items.Input{Name: fmt.Sprintf("between %d", pages)}); err != nil {
				t.Fatal(err)
			}
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		close(stop)
		if err := <-inserterErr; err != nil {
			t.Fatal(err)
		}

		for id, n := range seen {
			if n != 1 {
				t.Errorf("item %s seen %d times", id, n)
			}
		}
		if strings.Join(oldOrder, ",") != strings.Join(want, ",") {
			t.Fatalf("items that existed before paging: saw %d in %v, want all %d in creation order", len(oldOrder), oldOrder, existing)
		}
	})
}

func listAll(t *testing.T, s itemstest.Store, limit int) []items.Item {
	t.Helper()
	var all []items.Item
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging did not end")
		}
		page, err := s.List(t.Context(), items.ListOptions{Limit: limit, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			if seen[it.ID] {
				t.Fatalf("item %s listed twice", it.ID)
			}
			seen[it.ID] = true
			all = append(all, it)
		}
		if page.Next == "" {
			return all
		}
		cursor = page.Next
	}
}

func assertNames(t *testing.T, page items.Page, want ...string) {
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
