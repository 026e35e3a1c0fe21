package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

func testAcceptStoresQueuedRun(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t)
	ev := testEvent("d-1", "acme/infra")
	ev.PR, ev.BaseRef, ev.Comment, ev.Action = 7, "main", "plan", "created"
	rec, err := s.Accept(ctx, ev, nil)
	id, dup := rec.Run, rec.Duplicate
	if err != nil || dup || id <= 0 {
		t.Fatalf("Accept = %d, dup %v, %v; want a new run", id, dup, err)
	}
	r, err := s.Run(ctx, id, 0)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !reflect.DeepEqual(r.Event, ev) {
		t.Errorf("event = %+v, want %+v", r.Event, ev)
	}
	if r.Status != StatusQueued || r.Attempts != 0 || !r.Created.Equal(c.Now()) || !r.Started.IsZero() || !r.Finished.IsZero() {
		t.Errorf("new run = status %q attempts %d created %v started %v finished %v", r.Status, r.Attempts, r.Created, r.Started, r.Finished)
	}
	for name, v := range map[string][]string{"changed": r.Changed, "environments": r.Environments, "apps": r.Apps} {
		if v == nil || len(v) != 0 {
			t.Errorf("%s = %#v, want an empty non-nil list", name, v)
		}
	}
	if len(r.Stages) != 0 || r.Stages == nil {
		t.Errorf("stages = %#v, want an empty non-nil list", r.Stages)
	}
}

func testAcceptDuplicateDeliveryReturnsFirstRun(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	rec, err := s.Accept(ctx, testEvent("d-1", "acme/infra"), nil)
	first, dup := rec.Run, rec.Duplicate
	if err != nil || dup {
		t.Fatalf("first Accept = %d, dup %v, %v", first, dup, err)
	}
	called := false
	again := testEvent("d-1", "acme/other")
	rec, err = s.Accept(ctx, again, func(context.Context, *sql.Tx, int64) error {
		called = true
		return nil
	})
	id, dup := rec.Run, rec.Duplicate
	if err != nil || !dup || id != first {
		t.Fatalf("repeated Accept = %d, dup %v, %v; want %d, dup true", id, dup, err, first)
	}
	if called {
		t.Error("enqueue was called for a duplicate delivery")
	}
	if n, _ := s.CountRuns(ctx); n != 1 {
		t.Errorf("CountRuns = %d, want 1", n)
	}
	r, _ := s.Run(ctx, first, 0)
	if r.Event.Repo != "acme/infra" {
		t.Errorf("duplicate overwrote the run: repo %q", r.Event.Repo)
	}
}

// jobsTable is a stand-in for the queue's table, written by enqueue inside Accept's transaction.
func jobsTable(t *testing.T, s *Store) {
	t.Helper()
	if _, err := s.DB().Exec(`CREATE TABLE test_jobs (run_id INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
}

func countJobs(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM test_jobs`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func testAcceptEnqueuesInsideTheTransaction(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	jobsTable(t, s)
	var sawStatus string
	var gotID int64
	rec, err := s.Accept(ctx, testEvent("d-1", "acme/infra"), func(ctx context.Context, tx *sql.Tx, runID int64) error {
		gotID = runID
		// The run is visible to the transaction before commit.
		if err := tx.QueryRowContext(ctx, s.db.d.rebind(`SELECT status FROM runs WHERE id = ?`), runID).Scan(&sawStatus); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.db.d.rebind(`INSERT INTO test_jobs (run_id) VALUES (?)`), runID)
		return err
	})
	id, dup := rec.Run, rec.Duplicate
	if err != nil || dup {
		t.Fatalf("Accept = %d, dup %v, %v", id, dup, err)
	}
	if gotID != id {
		t.Errorf("enqueue got run %d, Accept returned %d", gotID, id)
	}
	if sawStatus != StatusQueued {
		t.Errorf("enqueue saw status %q, want %q", sawStatus, StatusQueued)
	}
	if n := countJobs(t, s); n != 1 {
		t.Errorf("jobs = %d, want 1", n)
	}
}

func testAcceptEnqueueErrorRollsTheRunBack(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	jobsTable(t, s)
	boom := errors.New("queue full")
	rec, err := s.Accept(ctx, testEvent("d-1", "acme/infra"), func(ctx context.Context, tx *sql.Tx, runID int64) error {
		if _, err := tx.ExecContext(ctx, s.db.d.rebind(`INSERT INTO test_jobs (run_id) VALUES (?)`), runID); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Accept error = %v, want it to wrap %v", err, boom)
	}
	if n, _ := s.CountRuns(ctx); n != 0 {
		t.Errorf("CountRuns = %d after a failed enqueue, want 0", n)
	}
	if n := countJobs(t, s); n != 0 {
		t.Errorf("jobs = %d after a failed enqueue, want 0", n)
	}
	// Nothing was stored, so GitHub's redelivery is accepted as new.
	rec, err = s.Accept(ctx, testEvent("d-1", "acme/infra"), nil)
	id, dup := rec.Run, rec.Duplicate
	if err != nil || dup || id <= 0 {
		t.Fatalf("redelivery after rollback = %d, dup %v, %v; want a new run", id, dup, err)
	}
}

func testAcceptConcurrentDeliveries(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const goroutines, distinct = 8, 10
	type result struct {
		delivery string
		id       int64
		dup      bool
	}
	results := make(chan result, goroutines*distinct)
	errs := make(chan error, goroutines*distinct)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range distinct {
				d := fmt.Sprintf("d-%d", (g+i)%distinct) // every goroutine sends every id, in its own order
				rec, err := s.Accept(ctx, testEvent(d, "acme/infra"), nil)
				id, dup := rec.Run, rec.Duplicate
				if err != nil {
					errs <- err
					continue
				}
				results <- result{d, id, dup}
			}
		}()
	}
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		t.Errorf("Accept: %v", err)
	}
	ids := map[string]int64{}
	fresh := map[string]int{}
	for r := range results {
		if prev, ok := ids[r.delivery]; ok && prev != r.id {
			t.Errorf("delivery %s got runs %d and %d", r.delivery, prev, r.id)
		}
		ids[r.delivery] = r.id
		if !r.dup {
			fresh[r.delivery]++
		}
	}
	for i := range distinct {
		d := fmt.Sprintf("d-%d", i)
		if fresh[d] != 1 {
			t.Errorf("delivery %s accepted as new %d times, want 1", d, fresh[d])
		}
	}
	if n, err := s.CountRuns(ctx); err != nil || n != distinct {
		t.Errorf("CountRuns = %d, %v; want %d", n, err, distinct)
	}
}

func testRunLifecycle(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t)
	id := accept(t, s, "d-1", "acme/infra")

	c.Advance(time.Second)
	started := c.Now()
	r, err := s.StartRun(ctx, id)
	if err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	if r.Status != StatusRunning || r.Attempts != 1 || !r.Started.Equal(started) {
		t.Fatalf("after StartRun: status %q attempts %d started %v", r.Status, r.Attempts, r.Started)
	}

	// A second attempt (a restart) counts, and keeps the first start time.
	c.Advance(time.Minute)
	if r, err = s.StartRun(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r.Attempts != 2 || !r.Started.Equal(started) {
		t.Errorf("after second StartRun: attempts %d started %v, want 2 and %v", r.Attempts, r.Started, started)
	}

	if err := s.SetRunScope(ctx, id, []string{"environments/dev/main.tf"}, []string{"dev", "prod"}, nil); err != nil {
		t.Fatalf("SetRunScope: %v", err)
	}

	c.Advance(time.Minute)
	finished := c.Now()
	if err := s.FinishRun(ctx, id, StatusFailed, "apply dev: boom"); err != nil {
		t.Fatalf("FinishRun: %v", err)
	}
	c.Advance(time.Minute)
	if err := s.FinishRun(ctx, id, StatusSucceeded, ""); err != nil {
		t.Fatalf("second FinishRun: %v", err)
	}
	// A finished run is not started again.
	if r, err = s.StartRun(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusFailed || r.Error != "apply dev: boom" || !r.Finished.Equal(finished) || r.Attempts != 2 {
		t.Errorf("finished run = status %q error %q finished %v attempts %d; want the first outcome kept",
			r.Status, r.Error, r.Finished, r.Attempts)
	}
	if !reflect.DeepEqual(r.Changed, []string{"environments/dev/main.tf"}) ||
		!reflect.DeepEqual(r.Environments, []string{"dev", "prod"}) || !reflect.DeepEqual(r.Apps, []string{}) {
		t.Errorf("scope = %v %v %#v", r.Changed, r.Environments, r.Apps)
	}
	if !Finished(r.Status) {
		t.Errorf("Finished(%q) = false", r.Status)
	}
}

func testFinished(t *testing.T) {
	for status, want := range map[string]bool{
		StatusQueued: false, StatusRunning: false,
		StatusSucceeded: true, StatusFailed: true, StatusCancelled: true, StatusNothing: true,
	} {
		if got := Finished(status); got != want {
			t.Errorf("Finished(%q) = %v, want %v", status, got, want)
		}
	}
}

func testRunNotFound(t *testing.T) {
	s, _ := newStore(t)
	if _, err := s.Run(context.Background(), 42, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Run(42) error = %v, want ErrNotFound", err)
	}
}

func testListRuns(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	// ids 1..6: infra runs 1,3,5; platform runs 2,4,6. Runs 3 and 4 succeed.
	var ids []int64
	for i := range 6 {
		repo := "acme/infra"
		if i%2 == 1 {
			repo = "acme/platform"
		}
		ids = append(ids, accept(t, s, fmt.Sprintf("d-%d", i), repo))
	}
	for _, id := range ids[2:4] {
		if err := s.FinishRun(ctx, id, StatusSucceeded, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.EnsureStages(ctx, ids[0], []StageKey{{"", "clone"}, {"dev", "plan"}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		f    ListFilter
		want []int64
	}{
		{"all newest first", ListFilter{}, []int64{6, 5, 4, 3, 2, 1}},
		{"by repo", ListFilter{Repo: "acme/infra"}, []int64{5, 3, 1}},
		{"by status", ListFilter{Status: StatusSucceeded}, []int64{4, 3}},
		{"by repo and status", ListFilter{Repo: "acme/platform", Status: StatusQueued}, []int64{6, 2}},
		{"limit", ListFilter{Limit: 2}, []int64{6, 5}},
		{"before", ListFilter{Before: 4}, []int64{3, 2, 1}},
		{"before and limit: second page", ListFilter{Before: 5, Limit: 2}, []int64{4, 3}},
		{"before the first", ListFilter{Before: 1}, nil},
		{"limit over 200 is capped at 200", ListFilter{Limit: 201}, []int64{6, 5, 4, 3, 2, 1}},
		{"by environment (a stage of it)", ListFilter{Env: "dev"}, []int64{1}},
		{"by an environment no run has", ListFilter{Env: "prod"}, nil},
		{"by kind", ListFilter{Kind: "deploy"}, []int64{6, 5, 4, 3, 2, 1}},
		{"by another kind", ListFilter{Kind: "plan"}, nil},
		{"unknown repo", ListFilter{Repo: "acme/none"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs, err := s.ListRuns(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, r := range runs {
				got = append(got, r.ID)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ids = %v, want %v", got, tc.want)
			}
		})
	}
	runs, err := s.ListRuns(ctx, ListFilter{Before: 2})
	if err != nil || len(runs) != 1 {
		t.Fatalf("ListRuns = %v, %v", runs, err)
	}
	if len(runs[0].Stages) != 2 || runs[0].Stages[1].Env != "dev" || runs[0].Stages[1].LogTail != nil {
		t.Errorf("listed run's stages = %+v, want clone and dev/plan without log tails", runs[0].Stages)
	}
}

func testRunWithStagesAndLogTails(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	id := accept(t, s, "d-1", "acme/infra")
	stages, err := s.EnsureStages(ctx, id, []StageKey{{"", "clone"}, {"dev", "plan"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLog(ctx, stages[0].ID, []string{"1", "2", "3", "4", "5"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tail      int
		wantClone []string
	}{
		{0, nil},
		{3, []string{"3", "4", "5"}},
		{10, []string{"1", "2", "3", "4", "5"}},
	} {
		t.Run(fmt.Sprintf("tail=%d", tc.tail), func(t *testing.T) {
			r, err := s.Run(ctx, id, tc.tail)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Stages) != 2 {
				t.Fatalf("stages = %+v", r.Stages)
			}
			if !reflect.DeepEqual(r.Stages[0].LogTail, tc.wantClone) {
				t.Errorf("clone tail = %q, want %q", r.Stages[0].LogTail, tc.wantClone)
			}
			if len(r.Stages[1].LogTail) != 0 {
				t.Errorf("plan tail = %q, want none", r.Stages[1].LogTail)
			}
		})
	}
}

func TestAcceptStoresQueuedRun(t *testing.T) { bothDrivers(t, testAcceptStoresQueuedRun) }
func TestAcceptDuplicateDeliveryReturnsFirstRun(t *testing.T) {
	bothDrivers(t, testAcceptDuplicateDeliveryReturnsFirstRun)
}
func TestAcceptEnqueuesInsideTheTransaction(t *testing.T) {
	bothDrivers(t, testAcceptEnqueuesInsideTheTransaction)
}
func TestAcceptEnqueueErrorRollsTheRunBack(t *testing.T) {
	bothDrivers(t, testAcceptEnqueueErrorRollsTheRunBack)
}
func TestAcceptConcurrentDeliveries(t *testing.T) { bothDrivers(t, testAcceptConcurrentDeliveries) }
func TestRunLifecycle(t *testing.T)               { bothDrivers(t, testRunLifecycle) }
func TestFinished(t *testing.T)                   { bothDrivers(t, testFinished) }
func TestRunNotFound(t *testing.T)                { bothDrivers(t, testRunNotFound) }
func TestListRuns(t *testing.T)                   { bothDrivers(t, testListRuns) }
func TestRunWithStagesAndLogTails(t *testing.T)   { bothDrivers(t, testRunWithStagesAndLogTails) }
