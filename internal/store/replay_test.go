package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/event"
)

func keyed(delivery, key string) event.Event {
	ev := testEvent(delivery, "acme/infra")
	ev.ContentKey = key
	return ev
}

// A content key accepted within the window makes a later delivery of it a replay of the first run.
func testAcceptReplayWindow(t *testing.T) {
	tests := []struct {
		name       string
		later      time.Duration // after the first delivery
		key        string        // of the second delivery
		wantReplay bool
	}{
		{"at once", 0, "k", true},
		{"just inside the window", DefaultReplayWindow - time.Nanosecond, "k", true},
		{"when the window ends", DefaultReplayWindow, "k", false},
		{"long after", 30 * DefaultReplayWindow, "k", false},
		{"another key", 0, "other", false},
		{"no key", 0, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, c := newStore(t)
			first, err := s.Accept(ctx, keyed("d-1", "k"), nil)
			if err != nil || first.Duplicate {
				t.Fatalf("first = %+v, %v", first, err)
			}
			c.Advance(tc.later)
			second, err := s.Accept(ctx, keyed("d-2", tc.key), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantReplay {
				if second != (event.Receipt{Run: first.Run, Duplicate: true, Replay: true}) {
					t.Fatalf("second = %+v, want a replay of run %d", second, first.Run)
				}
				return
			}
			if second.Duplicate || second.Run == first.Run {
				t.Fatalf("second = %+v, want a new run", second)
			}
			// A key claimed again after its window names the new run from then on.
			c.Advance(time.Second)
			third, err := s.Accept(ctx, keyed("d-3", tc.key), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.key != "" && third != (event.Receipt{Run: second.Run, Duplicate: true, Replay: true}) {
				t.Fatalf("third = %+v, want a replay of run %d", third, second.Run)
			}
		})
	}
}

// A replay of the content of an earlier delivery enqueues nothing.
func testAcceptReplayEnqueuesNothing(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if _, err := s.Accept(ctx, keyed("d-1", "k"), nil); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Accept(ctx, keyed("d-2", "k"), func(context.Context, *sql.Tx, int64) error {
		t.Error("enqueue called for a replay")
		return nil
	})
	if err != nil || !rec.Replay {
		t.Fatalf("replay = %+v, %v", rec, err)
	}
}

// Concurrent deliveries of one content under twenty delivery ids make exactly one run.
func testAcceptConcurrentReplays(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const copies = 20
	recs := make(chan event.Receipt, copies)
	var wg sync.WaitGroup
	for i := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, err := s.Accept(ctx, keyed(fmt.Sprintf("d-%d", i), "k"), nil)
			if err != nil {
				t.Error(err)
				return
			}
			recs <- rec
		}()
	}
	wg.Wait()
	close(recs)
	fresh, runs := 0, map[int64]bool{}
	for rec := range recs {
		if !rec.Duplicate {
			fresh++
		} else if !rec.Replay {
			t.Errorf("duplicate not marked a replay: %+v", rec)
		}
		runs[rec.Run] = true
	}
	if fresh != 1 || len(runs) != 1 {
		t.Fatalf("new runs = %d, runs named = %v; want one", fresh, runs)
	}
	if n, err := s.CountRuns(ctx); err != nil || n != 1 {
		t.Fatalf("CountRuns = %d, %v; want 1", n, err)
	}
}

// The fields a trigger policy reads survive the store.
func testAcceptKeepsPolicyFields(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	ev := keyed("d-1", `["pull_request","opened"]`)
	ev.Name, ev.Action, ev.Kind, ev.PR = "pull_request", "opened", event.KindPlan, 7
	ev.Author, ev.Fork, ev.Draft, ev.CommentID = "outsider", true, true, 99
	ev.HeadRepo, ev.DefaultBranch = "outsider/platform", "trunk"
	rec, err := s.Accept(ctx, ev, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Run(ctx, rec.Run, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Event, ev) {
		t.Fatalf("stored %+v, want %+v", r.Event, ev)
	}
}

// A database made by the previous version (no policy columns, no content keys) is migrated on open,
// keeps its runs, and takes keyed deliveries.
func TestOpenMigratesAnOlderDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "runner.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range schema { // the previous version's whole schema
		if _, err := old.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := old.Exec(`INSERT INTO runs (delivery_id, event, kind, repo, sender, status, created_at)
		VALUES ('old-1', 'push', 'deploy', 'acme/infra', 'octocat', 'succeeded', ?)`, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	old.Close()

	for range 2 { // and a second open finds nothing left to do
		s, err := OpenSQLite(ctx, dir)
		if err != nil {
			t.Fatalf("open the older database: %v", err)
		}
		runs, err := s.ListRuns(ctx, ListFilter{})
		if err != nil || len(runs) == 0 || runs[len(runs)-1].Event.DeliveryID != "old-1" || runs[len(runs)-1].Event.Author != "" {
			t.Fatalf("runs after migration = %+v, %v", runs, err)
		}
		if _, err := s.Accept(ctx, keyed(fmt.Sprintf("new-%d", len(runs)), "k"), nil); err != nil {
			t.Fatalf("accept after migration: %v", err)
		}
		s.Close()
	}
}

// One delivery sent to two replicas at once is a duplicate of itself, never a replay: on PostgreSQL the
// other copy can commit between the look-up by delivery id and the look-up by content key (each statement
// reads its own snapshot), and the second look-up must still see that it is the same delivery. The race is
// narrow: many pairs are sent so that it is hit (about 3% of pairs without the fix).
func testAcceptConcurrentCopiesAreDuplicatesNotReplays(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const pairs = 500
	for i := range pairs {
		ev := keyed(fmt.Sprintf("d-%d", i), fmt.Sprintf("k-%d", i))
		var recs [2]event.Receipt
		var wg sync.WaitGroup
		for c := range recs {
			wg.Go(func() {
				var err error
				if recs[c], err = s.Accept(ctx, ev, nil); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if recs[0].Run != recs[1].Run || recs[0].Duplicate == recs[1].Duplicate {
			t.Fatalf("delivery %s sent twice at once: %+v and %+v, want one run, one new and one duplicate", ev.DeliveryID, recs[0], recs[1])
		}
		if recs[0].Replay || recs[1].Replay {
			t.Fatalf("delivery %s sent twice at once: %+v and %+v, want no replay (it is one delivery)", ev.DeliveryID, recs[0], recs[1])
		}
	}
	if n, err := s.CountRuns(ctx); err != nil || n != pairs {
		t.Fatalf("runs = %d, %v; want %d", n, err, pairs)
	}
}

func TestAcceptReplayWindow(t *testing.T)          { bothDrivers(t, testAcceptReplayWindow) }
func TestAcceptReplayEnqueuesNothing(t *testing.T) { bothDrivers(t, testAcceptReplayEnqueuesNothing) }
func TestAcceptConcurrentReplays(t *testing.T)     { bothDrivers(t, testAcceptConcurrentReplays) }
func TestAcceptKeepsPolicyFields(t *testing.T)     { bothDrivers(t, testAcceptKeepsPolicyFields) }
func TestAcceptConcurrentCopiesAreDuplicatesNotReplays(t *testing.T) {
	bothDrivers(t, testAcceptConcurrentCopiesAreDuplicatesNotReplays)
}
