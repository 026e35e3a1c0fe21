package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Locks under contention on PostgreSQL: 50 workers over 3 connections take, hold and give back one
// environment's lock; at every moment at most one of them believes it holds it, and every one gets it.
func TestPostgresLocksUnderContention(t *testing.T) {
	if pg == nil {
		t.Skip("skipping: PostgreSQL is not installed (.ci/run installs it)")
	}
	ctx := context.Background()
	url, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenPostgres(ctx, url, PostgresOptions{MaxConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const workers, rounds = 50, 4
	var (
		inside, most atomic.Int32
		held         atomic.Int64
		wg           sync.WaitGroup
	)
	deadline := time.Now().Add(60 * time.Second)
	for w := range workers {
		wg.Go(func() {
			holder := fmt.Sprintf("replica-%d", w)
			for r := 0; r < rounds && time.Now().Before(deadline); {
				ok, _, err := s.TryLock(ctx, "acme/infra", "prod", holder, int64(w), time.Minute)
				if err != nil {
					t.Errorf("%s: %v", holder, err)
					return
				}
				if !ok {
					time.Sleep(time.Millisecond)
					continue
				}
				n := inside.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(200 * time.Microsecond)
				inside.Add(-1)
				if _, err := s.ReleaseLock(ctx, "acme/infra", "prod", holder, "done"); err != nil {
					t.Errorf("%s: release: %v", holder, err)
					return
				}
				held.Add(1)
				r++
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 || held.Load() != workers*rounds {
		t.Fatalf("at most %d holders at once (want 1); %d holdings of %d", most.Load(), held.Load(), workers*rounds)
	}
	spans, err := s.LockHistory(ctx, "acme/infra")
	if err != nil || len(spans) != workers*rounds {
		t.Fatalf("history has %d spans, %v", len(spans), err)
	}
}

// An expired lease goes to exactly one new holder, even when many replicas see it expired at once.
func TestPostgresExpiredLeaseGoesToOne(t *testing.T) {
	if pg == nil {
		t.Skip("skipping: PostgreSQL is not installed (.ci/run installs it)")
	}
	ctx := context.Background()
	url, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenPostgres(ctx, url, PostgresOptions{MaxConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for round := range 20 {
		env := fmt.Sprintf("e%d", round)
		if ok, _, err := s.TryLock(ctx, "acme/infra", env, "dead", 1, time.Millisecond); !ok || err != nil {
			t.Fatal(ok, err)
		}
		time.Sleep(5 * time.Millisecond)
		var got atomic.Int32
		var wg sync.WaitGroup
		for w := range 10 {
			wg.Go(func() {
				ok, _, err := s.TryLock(ctx, "acme/infra", env, fmt.Sprintf("r%d", w), 2, time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					got.Add(1)
				}
			})
		}
		wg.Wait()
		if got.Load() != 1 {
			t.Fatalf("round %d: %d replicas got the expired lock", round, got.Load())
		}
	}
}

// Dispatchers of several replicas give each accepted run exactly one job.
func TestPostgresDispatchersEnqueueEachRunOnce(t *testing.T) {
	if pg == nil {
		t.Skip("skipping: PostgreSQL is not installed (.ci/run installs it)")
	}
	ctx := context.Background()
	url, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenPostgres(ctx, url, PostgresOptions{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const runs = 40
	for i := range runs {
		if _, err := s.Accept(ctx, testEvent(fmt.Sprintf("d-%d", i), "acme/infra"), nil); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	jobs := map[int64]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				n, err := s.DispatchRuns(ctx, 5, func(ctx context.Context, tx *sql.Tx, runID int64, kind string) error {
					time.Sleep(time.Millisecond) // widen the window between the read and the commit
					mu.Lock()
					jobs[runID]++
					mu.Unlock()
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					if left, _ := s.Undispatched(ctx); left == 0 {
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if len(jobs) != runs {
		t.Fatalf("%d runs got jobs, want %d", len(jobs), runs)
	}
	for id, n := range jobs {
		if n != 1 {
			t.Errorf("run %d got %d jobs", id, n)
		}
	}
}
