package queue_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/queue"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/postgres"
)

// executor is a fake Executor: it records every call and answers with fn (nil: success).
type executor struct {
	mu    sync.Mutex
	calls []int64
	fn    func(ctx context.Context, runID int64, attempt int) error
}

func (e *executor) Execute(ctx context.Context, runID int64) error {
	e.mu.Lock()
	e.calls = append(e.calls, runID)
	attempt := 0
	for _, id := range e.calls {
		if id == runID {
			attempt++
		}
	}
	fn := e.fn
	e.mu.Unlock()
	if fn == nil {
		return nil
	}
	return fn(ctx, runID, attempt)
}

func (e *executor) counts() map[int64]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[int64]int{}
	for _, id := range e.calls {
		out[id]++
	}
	return out
}

func (e *executor) total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.calls)
}

// A dead replica's run goes back to the queue in its old place: it is worked before the runs accepted
// after it started, not behind the whole backlog.
func TestPostgresTakenOverRunIsWorkedBeforeTheBacklog(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		if pg == nil {
			t.Skip("skipping: PostgreSQL is not installed (.ci/run installs it)")
		}
		ctx := context.Background()
		exec := &executor{}
		f := newFixtureOpts(t, exec, func(o *queue.Options) {
			o.ReplicaLease, o.ReplicaID, o.Workers = 300*time.Millisecond, "alive", 1
		})
		id := f.accept(t, "d-cut")
		f.queue.Dispatch(ctx)
		db := f.store.DB()
		if _, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(),
			attempted_by = ARRAY['dead-1'] WHERE (args->>'run_id')::bigint = $1`, id); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO replicas (id, heartbeat_ns, started_at) VALUES ('dead-1', $1, now())`,
			time.Now().Add(-time.Hour).UnixNano()); err != nil {
			t.Fatal(err)
		}
		const backlog = 20
		for i := range backlog {
			f.accept(t, fmt.Sprintf("d-%d", i))
		}
		f.queue.Dispatch(ctx)
		f.start(t)
		eventually(t, 20*time.Second, "every run worked", func() bool { return exec.total() == backlog+1 })
		exec.mu.Lock()
		order := slices.Index(exec.calls, id)
		exec.mu.Unlock()
		// Start takes over before its workers start: the cut run is the first one worked.
		if order != 0 {
			t.Fatalf("the taken-over run was worked %d-th of %d: behind the backlog", order+1, backlog+1)
		}
	})
}

type fixture struct {
	store *store.Store
	queue *queue.Queue
	exec  *executor
}

func newFixture(t *testing.T, exec *executor) *fixture {
	t.Helper()
	return newFixtureTries(t, exec, 3)
}

func newFixtureTries(t *testing.T, exec *executor, maxAttempts int) *fixture {
	t.Helper()
	return newFixtureOpts(t, exec, func(o *queue.Options) { o.MaxAttempts = maxAttempts })
}

func newFixtureOpts(t *testing.T, exec *executor, tune func(*queue.Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	st := openStore(t)
	opts := queue.Options{
		Workers:      4,
		PollInterval: 20 * time.Millisecond,
		MaxAttempts:  3,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	tune(&opts)
	q, err := queue.New(ctx, st, exec, opts)
	if err != nil {
		t.Fatalf("queue.New: %v", err)
	}
	return &fixture{store: st, queue: q, exec: exec}
}

func (f *fixture) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := f.queue.Start(ctx); err != nil {
		cancel()
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := f.queue.Stop(sctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		cancel()
	})
}

func (f *fixture) accept(t *testing.T, delivery string) int64 {
	t.Helper()
	rec, err := f.queue.Accept(context.Background(), event.Event{
		DeliveryID: delivery, Name: "push", Kind: event.KindDeploy, Repo: "acme/infra", SHA: "abc", Ref: "refs/heads/main",
	})
	id, dup := rec.Run, rec.Duplicate
	if err != nil || dup {
		t.Fatalf("Accept(%s) = %d, dup %v, %v", delivery, id, dup, err)
	}
	return id
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f *fixture) pending(t *testing.T) int {
	t.Helper()
	n, err := f.queue.Pending(context.Background())
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	return n
}

// jobState reads the River job of a run.
func (f *fixture) jobState(t *testing.T, runID int64) (state string, attempt int) {
	t.Helper()
	err := f.store.DB().QueryRow(f.sql(`SELECT state, attempt FROM river_job WHERE json_extract(args, '$.run_id') = ?`), runID).
		Scan(&state, &attempt)
	if err != nil {
		t.Fatalf("read job of run %d: %v", runID, err)
	}
	return state, attempt
}

func testAcceptedRunsAreExecutedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &executor{})
	var ids []int64
	for i := range 3 {
		ids = append(ids, f.accept(t, fmt.Sprintf("d-%d", i)))
	}
	if n := f.pending(t); n != 3 {
		t.Errorf("Pending before Start = %d, want 3", n)
	}
	f.start(t)
	for i := 3; i < 6; i++ {
		ids = append(ids, f.accept(t, fmt.Sprintf("d-%d", i)))
	}
	eventually(t, 10*time.Second, "every run executed and no job pending", func() bool {
		return f.exec.total() >= len(ids) && f.pending(t) == 0
	})
	counts := f.exec.counts()
	for _, id := range ids {
		if counts[id] != 1 {
			t.Errorf("run %d executed %d times, want 1", id, counts[id])
		}
	}
	if len(counts) != len(ids) {
		t.Errorf("executed runs = %v, want exactly %v", counts, ids)
	}
	for _, id := range ids {
		if state, attempt := f.jobState(t, id); state != "completed" || attempt != 1 {
			t.Errorf("job of run %d: state %s attempt %d, want completed after 1", id, state, attempt)
		}
	}
}

func testDuplicateDeliveryIsNotExecutedTwice(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &executor{})
	f.start(t)
	ev := event.Event{DeliveryID: "same", Name: "push", Kind: event.KindDeploy, Repo: "acme/infra"}
	rec, err := f.queue.Accept(context.Background(), ev)
	first, dup := rec.Run, rec.Duplicate
	if err != nil || dup {
		t.Fatalf("Accept = %d, %v, %v", first, dup, err)
	}
	eventually(t, 10*time.Second, "the run executed", func() bool { return f.exec.total() == 1 && f.pending(t) == 0 })
	rec, err = f.queue.Accept(context.Background(), ev)
	again, dup := rec.Run, rec.Duplicate
	if err != nil || !dup || again != first {
		t.Fatalf("redelivery = %d, dup %v, %v; want %d, dup", again, dup, err, first)
	}
	// The redelivery enqueued nothing: there is exactly one job and nothing pending.
	var jobs int
	if err := f.store.DB().QueryRow(f.sql(`SELECT COUNT(*) FROM river_job`)).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	if jobs != 1 || f.pending(t) != 0 {
		t.Errorf("jobs = %d, pending = %d; want 1 and 0", jobs, f.pending(t))
	}
	if c := f.exec.counts()[first]; c != 1 {
		t.Errorf("run executed %d times, want 1", c)
	}
}

func testExecutorErrorIsRetried(t *testing.T) {
	t.Parallel()
	exec := &executor{fn: func(_ context.Context, _ int64, attempt int) error {
		if attempt == 1 {
			return errors.New("store unavailable")
		}
		return nil
	}}
	f := newFixture(t, exec)
	f.start(t)
	id := f.accept(t, "d-1")
	// River's first retry comes about a second later.
	eventually(t, 20*time.Second, "a second attempt that succeeds", func() bool {
		if exec.counts()[id] != 2 { // the job exists once it ran
			return false
		}
		state, _ := f.jobState(t, id)
		return state == "completed"
	})
	if state, attempt := f.jobState(t, id); attempt != 2 {
		t.Errorf("job state %s attempt %d, want 2 attempts", state, attempt)
	}
	var errs string
	if err := f.store.DB().QueryRow(f.sql(`SELECT errors FROM river_job WHERE json_extract(args, '$.run_id') = ?`), id).Scan(&errs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errs, "store unavailable") {
		t.Errorf("job errors = %s, want the first attempt's error recorded", errs)
	}
}

func testStopAbandonsRunsInFlightAfterGrace(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	cancelled := make(chan error, 1)
	exec := &executor{fn: func(ctx context.Context, _ int64, _ int) error {
		close(started)
		<-ctx.Done()
		cancelled <- ctx.Err()
		return ctx.Err()
	}}
	f := newFixture(t, exec)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := f.queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !f.queue.Running() {
		t.Error("Running() = false after Start")
	}
	f.accept(t, "d-1")
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the run never started")
	}
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer stopCancel()
	stopped := make(chan error, 1)
	go func() { stopped <- f.queue.Stop(stopCtx) }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Stop = %v, want nil after abandoning the run", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Stop did not return")
	}
	select {
	case err := <-cancelled:
		if err == nil {
			t.Error("Execute's context was not cancelled")
		}
	default:
		t.Error("Execute did not return before Stop did")
	}
	if f.queue.Running() {
		t.Error("Running() = true after Stop")
	}
	if n := f.pending(t); n != 1 {
		t.Errorf("Pending after abandoning = %d, want 1 (the run resumes on the next start)", n)
	}
}

func testStopWaitsForRunsThatFinishWithinGrace(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{})
	exec := &executor{fn: func(ctx context.Context, _ int64, _ int) error {
		close(started)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	f := newFixture(t, exec)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := f.queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	id := f.accept(t, "d-1")
	<-started
	stopped := make(chan error, 1)
	go func() {
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		stopped <- f.queue.Stop(sctx)
	}()
	close(release)
	if err := <-stopped; err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if state, _ := f.jobState(t, id); state != "completed" {
		t.Errorf("job state = %s, want completed", state)
	}
}

func TestStartResumesJobsLeftRunningByADeadProcess(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &executor{})
	ids := []int64{f.accept(t, "d-1"), f.accept(t, "d-2")}
	// A process that died mid-run leaves its jobs "running", attempted once.
	if _, err := f.store.DB().Exec(f.sql(`UPDATE river_job SET state = 'running', attempt = 1, attempted_at = ?`), time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	if n := f.pending(t); n != 2 {
		t.Errorf("Pending with running jobs = %d, want 2", n)
	}
	f.start(t)
	eventually(t, 10*time.Second, "the orphaned runs executed", func() bool {
		return f.exec.total() >= 2 && f.pending(t) == 0
	})
	for _, id := range ids {
		if c := f.exec.counts()[id]; c != 1 {
			t.Errorf("run %d executed %d times, want 1", id, c)
		}
		if state, _ := f.jobState(t, id); state != "completed" {
			t.Errorf("job of run %d: %s, want completed", id, state)
		}
	}
}

func testRunningReflectsStartAndStop(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &executor{})
	if f.queue.Running() {
		t.Error("Running() = true before Start")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := f.queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !f.queue.Running() {
		t.Error("Running() = false after Start")
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := f.queue.Stop(sctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if f.queue.Running() {
		t.Error("Running() = true after Stop")
	}
}

func testPendingCountsUnfinishedJobs(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &executor{})
	if n := f.pending(t); n != 0 {
		t.Errorf("Pending on an empty queue = %d", n)
	}
	for i := range 4 {
		f.accept(t, fmt.Sprintf("d-%d", i))
	}
	if n := f.pending(t); n != 4 {
		t.Errorf("Pending with 4 runs waiting for their jobs = %d, want 4", n)
	}
	f.queue.Dispatch(context.Background())
	if _, err := f.store.DB().Exec(f.sql(`UPDATE river_job SET state = 'completed', finalized_at = ? WHERE id = 1`), time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.DB().Exec(f.sql(`UPDATE river_job SET state = 'discarded', finalized_at = ? WHERE id = 2`), time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.DB().Exec(f.sql(`UPDATE river_job SET state = 'retryable' WHERE id = 3`)); err != nil {
		t.Fatal(err)
	}
	if n := f.pending(t); n != 2 {
		t.Errorf("Pending = %d, want 2 (one retryable, one available)", n)
	}
}

// A run accepted while no dispatcher ran (the process died right after
// answering 202) gets its job, exactly one, when the queue starts.
func testRunsAcceptedBeforeStartAreDispatchedOnce(t *testing.T) {
	t.Parallel()
	exec := &executor{}
	f := newFixture(t, exec)
	id := f.accept(t, "d-before-start")
	f.queue.Dispatch(context.Background()) // a dispatch racing the start must not double it
	f.start(t)
	eventually(t, 10*time.Second, "the run executed", func() bool { return exec.counts()[id] == 1 })
	var jobs int
	if err := f.store.DB().QueryRow(f.sql(`SELECT COUNT(*) FROM river_job`)).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	if jobs != 1 {
		t.Fatalf("%d jobs for one run", jobs)
	}
}

// The pipeline answers a shutdown with its own error (ErrAbandoned), not
// context.Canceled. The run must come back as interrupted work, not as a failed
// attempt: otherwise each restart during a long run uses up an attempt, delays
// the retry by River's backoff, and the tenth discards the run for good.
func testAbandonedRunIsNotCountedAsAFailedAttempt(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	abandoned := errors.New("run abandoned by a stopping runner; it resumes on restart")
	exec := &executor{fn: func(ctx context.Context, _ int64, attempt int) error {
		if attempt == 1 {
			close(started)
			<-ctx.Done()
			return abandoned
		}
		return nil
	}}
	f := newFixture(t, exec)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := f.queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	id := f.accept(t, "d-1")
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the run never started")
	}
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer stopCancel()
	if err := f.queue.Stop(stopCtx); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	state, attempt := f.jobState(t, id)
	var errs string
	if err := f.store.DB().QueryRow(f.sql(`SELECT COALESCE(errors, '') FROM river_job WHERE json_extract(args, '$.run_id') = ?`), id).Scan(&errs); err != nil {
		t.Fatal(err)
	}
	if state != "available" || attempt != 0 || strings.Contains(errs, "abandoned") {
		t.Errorf("abandoned job: state %s, attempt %d, errors %s; want available, 0 attempts, no error", state, attempt, errs)
	}
}

// The server starts the queue with its signal context and cancels that context on
// SIGTERM before calling Stop with the shutdown grace: a run in flight must get the
// grace period, not be cancelled the moment the signal arrives.
func testCancelledStartContextStillGivesRunsTheirGrace(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{})
	exec := &executor{fn: func(ctx context.Context, _ int64, _ int) error {
		close(started)
		<-release
		return ctx.Err() // cancellation reaches a job's context synchronously
	}}
	f := newFixture(t, exec)
	ctx, cancel := context.WithCancel(context.Background())
	if err := f.queue.Start(ctx); err != nil {
		t.Fatal(err)
	}
	id := f.accept(t, "d-1")
	<-started
	cancel() // SIGTERM
	close(release)
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	if err := f.queue.Stop(sctx); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if state, _ := f.jobState(t, id); state != "completed" {
		t.Errorf("job state = %s, want completed: the run was cancelled without its grace period", state)
	}
}

// A run whose every attempt fails (the executor cannot even record an outcome,
// e.g. its store is unreachable) ends failed with the last error when River gives
// its job up, instead of staying unfinished for ever.
func testRunGivenUpEndsFailed(t *testing.T) {
	t.Parallel()
	exec := &executor{fn: func(context.Context, int64, int) error { return errors.New("store unavailable") }}
	f := newFixtureTries(t, exec, 1)
	f.start(t)
	id := f.accept(t, "d-1")
	var r store.Run
	eventually(t, 20*time.Second, "the run to finish", func() bool {
		var err error
		r, err = f.store.Run(context.Background(), id, 0)
		return err == nil && store.Finished(r.Status)
	})
	eventually(t, 5*time.Second, "the job to be discarded", func() bool {
		state, _ := f.jobState(t, id)
		return state == "discarded"
	})
	if r.Status != store.StatusFailed || !strings.Contains(r.Error, "gave up after 1 attempts: store unavailable") {
		t.Errorf("run %d: status %s, error %q; want failed with the last error", id, r.Status, r.Error)
	}
}

// After the grace period, Stop cancels the runs in flight and waits CancelWait
// for them to wind down (Terraform stopping on its interrupt and releasing its
// state lock) before it gives up on them.
func testStopWaitsCancelWaitForCancelledRuns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		cancelWait time.Duration
		wantErr    bool
	}{
		{"long enough for the run to stop", 5 * time.Second, false},
		{"too short", 50 * time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			started := make(chan struct{})
			exec := &executor{fn: func(ctx context.Context, _ int64, _ int) error {
				close(started)
				<-ctx.Done()
				time.Sleep(500 * time.Millisecond) // winding down after the interrupt
				return ctx.Err()
			}}
			f := newFixtureOpts(t, exec, func(o *queue.Options) { o.CancelWait = tc.cancelWait })
			if err := f.queue.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			f.accept(t, "d-1")
			<-started
			grace, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			err := f.queue.Stop(grace)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Stop = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

// snooze is an executor answer that asks for the run to come back after a while.
type snooze time.Duration

func (s snooze) Error() string            { return "waiting" }
func (s snooze) SnoozeFor() time.Duration { return time.Duration(s) }

func testWakeRunsASnoozedRunNow(t *testing.T) {
	exec := &executor{fn: func(ctx context.Context, runID int64, attempt int) error {
		if attempt == 1 {
			return snooze(time.Hour) // waits for a decision
		}
		return nil
	}}
	f := newFixture(t, exec)
	f.start(t)
	id := f.accept(t, "d-1")
	eventually(t, 5*time.Second, "first attempt", func() bool { return f.exec.counts()[id] == 1 })
	// Woken right away: while the first attempt may still be finishing, or after it snoozed.
	if err := f.queue.Wake(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "woken attempt", func() bool { return f.exec.counts()[id] == 2 })
	// Waking a run that has no job, or is done, is harmless.
	if err := f.queue.Wake(context.Background(), 9999); err != nil {
		t.Fatal(err)
	}
}

// People's commands have workers of their own: a comment is answered while every run worker is busy.
func testCommandsAreWorkedWhileRunWorkersAreBusy(t *testing.T) {
	release := make(chan struct{})
	exec := &executor{fn: func(ctx context.Context, runID int64, attempt int) error {
		if runID == 1 {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return nil
	}}
	f := newFixtureOpts(t, exec, func(o *queue.Options) { o.Workers = 1 })
	f.start(t)
	defer close(release)
	deploy := f.accept(t, "d-deploy")
	eventually(t, 5*time.Second, "the deploy runs", func() bool { return f.exec.counts()[deploy] == 1 })
	rec, err := f.queue.Accept(context.Background(), event.Event{DeliveryID: "d-comment", Name: "issue_comment", Kind: event.KindComment,
		Repo: "acme/infra", PR: 3, Comment: "/runner approve prod"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the comment is worked", func() bool { return f.exec.counts()[rec.Run] == 1 })
}

func TestAcceptedRunsAreExecutedOnce(t *testing.T) { bothDrivers(t, testAcceptedRunsAreExecutedOnce) }
func TestDuplicateDeliveryIsNotExecutedTwice(t *testing.T) {
	bothDrivers(t, testDuplicateDeliveryIsNotExecutedTwice)
}
func TestExecutorErrorIsRetried(t *testing.T) { bothDrivers(t, testExecutorErrorIsRetried) }
func TestStopAbandonsRunsInFlightAfterGrace(t *testing.T) {
	bothDrivers(t, testStopAbandonsRunsInFlightAfterGrace)
}
func TestStopWaitsForRunsThatFinishWithinGrace(t *testing.T) {
	bothDrivers(t, testStopWaitsForRunsThatFinishWithinGrace)
}
func TestRunningReflectsStartAndStop(t *testing.T) { bothDrivers(t, testRunningReflectsStartAndStop) }
func TestPendingCountsUnfinishedJobs(t *testing.T) { bothDrivers(t, testPendingCountsUnfinishedJobs) }
func TestRunsAcceptedBeforeStartAreDispatchedOnce(t *testing.T) {
	bothDrivers(t, testRunsAcceptedBeforeStartAreDispatchedOnce)
}
func TestAbandonedRunIsNotCountedAsAFailedAttempt(t *testing.T) {
	bothDrivers(t, testAbandonedRunIsNotCountedAsAFailedAttempt)
}
func TestCancelledStartContextStillGivesRunsTheirGrace(t *testing.T) {
	bothDrivers(t, testCancelledStartContextStillGivesRunsTheirGrace)
}
func TestRunGivenUpEndsFailed(t *testing.T) { bothDrivers(t, testRunGivenUpEndsFailed) }
func TestStopWaitsCancelWaitForCancelledRuns(t *testing.T) {
	bothDrivers(t, testStopWaitsCancelWaitForCancelledRuns)
}
func TestWakeRunsASnoozedRunNow(t *testing.T) { bothDrivers(t, testWakeRunsASnoozedRunNow) }
func TestCommandsAreWorkedWhileRunWorkersAreBusy(t *testing.T) {
	bothDrivers(t, testCommandsAreWorkedWhileRunWorkersAreBusy)
}

// pg is the PostgreSQL server of this test binary (nil when PostgreSQL is not installed).
var pg *postgres.Server

func TestMain(m *testing.M) {
	s, err := postgres.Start(context.Background())
	switch {
	case errors.Is(err, postgres.ErrUnavailable):
		fmt.Fprintf(os.Stderr, "queue tests: %v: the PostgreSQL halves are skipped\n", err)
	case err != nil:
		fmt.Fprintf(os.Stderr, "queue tests: start PostgreSQL: %v\n", err)
		os.Exit(1)
	default:
		pg = s
	}
	code := m.Run()
	if pg != nil {
		pg.Stop()
	}
	os.Exit(code)
}

// bothDrivers runs a test on SQLite and on PostgreSQL; openStore opens the one the subtest names.
func bothDrivers(t *testing.T, test func(t *testing.T)) {
	t.Run("sqlite", test)
	t.Run("postgres", func(t *testing.T) {
		if pg == nil {
			t.Skip("skipping: PostgreSQL is not installed (.ci/run installs it)")
		}
		test(t)
	})
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	var (
		st  *store.Store
		err error
	)
	if strings.Contains(t.Name(), "/postgres") {
		url, uerr := pg.NewDatabase(ctx)
		if uerr != nil {
			t.Fatal(uerr)
		}
		st, err = store.OpenPostgres(ctx, url, store.PostgresOptions{})
	} else {
		st, err = store.OpenSQLite(ctx, t.TempDir())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// sql translates a test's SQLite query on River's table for the store's dialect.
func (f *fixture) sql(q string) string {
	if f.store.Dialect() != "postgres" {
		return q
	}
	q = strings.ReplaceAll(q, "json_extract(args, '$.run_id')", "(args->>'run_id')::bigint")
	q = strings.ReplaceAll(q, "COALESCE(errors, '')", "COALESCE(array_to_string(errors, ','), '')")
	q = strings.ReplaceAll(q, "SELECT errors FROM", "SELECT array_to_string(errors, ',') FROM")
	return strings.ReplaceAll(q, "?", "$1")
}

// A replica that stopped answering (killed mid-run) has its running jobs taken back to the queue by another
// replica once its heartbeat is a lease old; the run is worked again, once, and the dead replica forgotten.
func TestPostgresDeadReplicasRunsAreTakenOver(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		if pg == nil {
			t.Skip("skipping: PostgreSQL is not installed (.ci/run installs it)")
		}
		ctx := context.Background()
		exec := &executor{}
		f := newFixtureOpts(t, exec, func(o *queue.Options) { o.ReplicaLease = 300 * time.Millisecond; o.ReplicaID = "alive" })
		id := f.accept(t, "d-1")
		f.queue.Dispatch(ctx)
		db := f.store.DB()
		// The job as the dead replica left it: running, attempted by it; its heartbeat an hour old.
		if _, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(),
			attempted_by = ARRAY['dead-1'] WHERE (args->>'run_id')::bigint = $1`, id); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO replicas (id, heartbeat_ns, started_at) VALUES ('dead-1', $1, now())`,
			time.Now().Add(-time.Hour).UnixNano()); err != nil {
			t.Fatal(err)
		}
		// A replica that is merely slow keeps its jobs: a fresh heartbeat.
		id2 := f.accept(t, "d-2")
		f.queue.Dispatch(ctx)
		if _, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(),
			attempted_by = ARRAY['slow-1'] WHERE (args->>'run_id')::bigint = $1`, id2); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO replicas (id, heartbeat_ns, started_at) VALUES ('slow-1', $1, now())`,
			time.Now().Add(time.Hour).UnixNano()); err != nil {
			t.Fatal(err)
		}
		f.start(t)
		eventually(t, 10*time.Second, "the dead replica's run worked", func() bool { return exec.counts()[id] == 1 })
		time.Sleep(400 * time.Millisecond)
		if c := exec.counts(); c[id] != 1 || c[id2] != 0 {
			t.Fatalf("executions %v: want the dead replica's run once and the slow one's not at all", c)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM replicas WHERE id = 'dead-1'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("dead replica still listed (%d, %v)", n, err)
		}
	})
}

// On PostgreSQL a job is found through LISTEN/NOTIFY, not by polling: with a poll interval of a minute,
// a run accepted and dispatched by one replica is worked by another at once, and so is a run woken from
// its snooze by the first.
func TestPostgresJobsArePickedUpByNotification(t *testing.T) {
	if pg == nil {
		t.Skip("skipping: PostgreSQL is not installed (.ci/run installs it)")
	}
	ctx := context.Background()
	url, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	open := func() *store.Store {
		st, err := store.OpenPostgres(ctx, url, store.PostgresOptions{MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The accepting replica only accepts and dispatches (its workers never start).
	front, err := queue.New(ctx, open(), &executor{}, queue.Options{PollInterval: time.Minute, Logger: quiet, ReplicaID: "front"})
	if err != nil {
		t.Fatal(err)
	}
	exec := &executor{fn: func(ctx context.Context, runID int64, attempt int) error {
		if attempt == 1 && runID == 2 {
			return snooze(time.Hour)
		}
		return nil
	}}
	worker, err := queue.New(ctx, open(), exec, queue.Options{PollInterval: time.Minute, Logger: quiet, ReplicaID: "worker"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: nil, queue: worker, exec: exec}
	f.start(t)
	time.Sleep(500 * time.Millisecond) // the worker's listener is up (its first fetch is done)

	accept := func(delivery string) int64 {
		rec, err := front.Accept(ctx, event.Event{DeliveryID: delivery, Name: "push", Kind: event.KindDeploy, Repo: "acme/infra",
			SHA: "abc", Ref: "refs/heads/main"})
		if err != nil {
			t.Fatal(err)
		}
		front.Dispatch(ctx)
		return rec.Run
	}
	start := time.Now()
	id := accept("d-1")
	eventually(t, 5*time.Second, "run worked by the other replica", func() bool { return exec.counts()[id] == 1 })
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("picked up after %s: polled, not notified", took)
	}
	snoozed := accept("d-2")
	eventually(t, 5*time.Second, "first attempt", func() bool { return exec.counts()[snoozed] == 1 })
	time.Sleep(200 * time.Millisecond) // the job is back in the table, snoozed for an hour
	start = time.Now()
	if err := front.Wake(ctx, snoozed); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "woken run worked by the other replica", func() bool { return exec.counts()[snoozed] == 2 })
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("woken run picked up after %s: polled, not notified", took)
	}
}
