package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
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

// A SQLite store's history moves to PostgreSQL whole: runs, stages, logs, deployments, approvals, lock
// history and overrides, with their ids; unfinished runs are dispatched again there; new rows come after.
func TestPostgresCopyFromSQLite(t *testing.T) {
	if pg == nil {
		t.Skip("skipping: PostgreSQL is not installed (.ci/run installs it)")
	}
	ctx := context.Background()
	src, err := OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	done, _ := src.Accept(ctx, testEvent("d-1", "acme/infra"), nil)
	open, _ := src.Accept(ctx, keyed("d-2", "content-2"), nil)
	if _, err := src.DispatchRuns(ctx, 10, func(context.Context, *sql.Tx, int64, string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := src.StartRun(ctx, done.Run); err != nil {
		t.Fatal(err)
	}
	sts, err := src.EnsureStages(ctx, done.Run, []StageKey{{Env: "prod", Name: "plan"}})
	if err != nil {
		t.Fatal(err)
	}
	_ = src.StartStage(ctx, sts[0].ID)
	_ = src.AppendLog(ctx, sts[0].ID, []string{"line one", "line two"})
	_ = src.FinishStage(ctx, sts[0].ID, StageSucceeded, "1 to add", map[string]string{"summary": "1 to add"})
	if err := src.FinishRun(ctx, done.Run, StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	if err := src.RecordDeployment(ctx, Deployment{Repo: "acme/infra", Env: "prod", SHA: "abc", RunID: done.Run, Outcome: "succeeded", At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.TryLock(ctx, "acme/infra", "prod", "old-process", done.Run, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := src.ReleaseLock(ctx, "acme/infra", "prod", "old-process", "done"); err != nil {
		t.Fatal(err)
	}
	if _, err := src.RecordOverride(ctx, Override{Repo: "acme/infra", PR: 7, Env: "prod", SHA: "abc", Failures: []string{"x"}, By: "maint"}); err != nil {
		t.Fatal(err)
	}

	url, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := OpenPostgres(ctx, url, PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	rep, err := dst.CopyFrom(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Resumed != 1 || rep.Rows[0] != 2 {
		t.Errorf("report %+v", rep)
	}
	run, err := dst.Run(ctx, done.Run, 10)
	if err != nil || run.Status != StatusSucceeded || len(run.Stages) != 1 || run.Stages[0].Output["summary"] != "1 to add" {
		t.Fatalf("copied run %+v, %v", run, err)
	}
	if tail, _ := dst.LogTail(ctx, sts[0].ID, 5); len(tail) != 2 || tail[1] != "line two" {
		t.Errorf("log tail %q", tail)
	}
	if n, _ := dst.Undispatched(ctx); n != 1 {
		t.Errorf("%d runs to dispatch, want the unfinished one (%d)", n, open.Run)
	}
	if deps, _ := dst.Deployments(ctx, "acme/infra", 5); len(deps) != 1 {
		t.Errorf("deployments %+v", deps)
	}
	if spans, _ := dst.LockHistory(ctx, "acme/infra"); len(spans) != 1 {
		t.Errorf("lock history %+v", spans)
	}
	if os, _ := dst.Overrides(ctx, "acme/infra", 7, "prod"); len(os) != 1 || os[0].Failures[0] != "x" {
		t.Errorf("overrides %+v", os)
	}
	// A replay of a copied delivery's content is still a replay; a new delivery gets the next id.
	if rec, _ := dst.Accept(ctx, keyed("d-3", "content-2"), nil); !rec.Replay {
		t.Errorf("replay after copy = %+v", rec)
	}
	if rec, err := dst.Accept(ctx, testEvent("d-4", "acme/infra"), nil); err != nil || rec.Run <= open.Run {
		t.Errorf("new run %+v, %v", rec, err)
	}
	if _, err := dst.CopyFrom(ctx, src); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("second copy: %v", err)
	}
}

// The statement timeout is a setting: a statement that runs longer is cancelled by PostgreSQL, none is when
// it is turned off, and a statement_timeout in the URL's own options wins over the setting.
func TestPostgresStatementTimeout(t *testing.T) {
	if pg == nil {
		t.Skip("skipping: PostgreSQL is not installed (.ci/run installs it)")
	}
	ctx := context.Background()
	url, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		url     string
		timeout time.Duration
		want    string // SHOW statement_timeout
		cut     bool   // pg_sleep(0.5) is cancelled
	}{
		{"default", url, 0, "30s", false},
		{"short", url, 100 * time.Millisecond, "100ms", true},
		{"off", url, -1, "0", false},
		{"the URL's options win", url + "&options=-c%20statement_timeout%3D150", 5 * time.Second, "150ms", true},
		{"the URL's parameter wins", url + "&statement_timeout=120", 5 * time.Second, "120ms", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenPostgres(ctx, tc.url, PostgresOptions{MaxConns: 2, StatementTimeout: tc.timeout})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var got string
			if err := s.DB().QueryRowContext(ctx, `SHOW statement_timeout`).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("statement_timeout = %q, want %q", got, tc.want)
			}
			_, err = s.DB().ExecContext(ctx, `SELECT pg_sleep(0.5)`)
			if cut := err != nil && strings.Contains(err.Error(), "statement timeout"); cut != tc.cut {
				t.Errorf("pg_sleep(0.5) with %s: %v, want cancelled = %v", got, err, tc.cut)
			}
		})
	}
}
