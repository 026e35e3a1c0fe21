// Package queue turns accepted deliveries into durable jobs (River on the
// store's database) and works them by handing each run to an Executor.
package queue

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
)

// RunArgs is the job: execute one run.
type RunArgs struct {
	RunID int64 `json:"run_id"`
}

// Kind names the job kind in River's table.
func (RunArgs) Kind() string { return "run" }

// Executor carries a run to its end. It returns nil when the run reached a final
// status (success or failure alike) and an error only when the run must be tried
// again (the process is shutting down, the store failed). An error with a
// SnoozeFor() time.Duration method puts the run back for that long without
// counting a failed attempt.
type Executor interface {
	Execute(ctx context.Context, runID int64) error
}

// fetchCooldown is the least time between two fetches of jobs by one queue's workers.
const fetchCooldown = 20 * time.Millisecond

// Options tune the queue.
type Options struct {
	Workers    int           // concurrent runs; default 4
	JobTimeout time.Duration // longest a run may take; default 2h
	// PollInterval is how often workers look for new jobs, a safety net (default 2s): they hear of a job as
	// soon as it is inserted or made available through LISTEN/NOTIFY on PostgreSQL (every replica's
	// workers), and through River's emulation of it on SQLite, woken by this process's commits.
	PollInterval time.Duration
	MaxAttempts  int // tries of a run that keeps failing for infrastructure reasons; default 10
	// CancelWait is how long Stop waits, after the grace period, for cancelled runs to wind down (e.g.
	// Terraform stopping on its interrupt and releasing its state lock); default 30s.
	CancelWait time.Duration
	Logger     *slog.Logger
	// ReplicaID names this process among the replicas of a shared (PostgreSQL) database: River's client id.
	// Default: random.
	ReplicaID string
	// ReplicaLease is how long a replica may go without a heartbeat before another takes its running jobs
	// back to the queue (PostgreSQL); default 2m. Environment locks keep the same lease, and a holder that
	// cannot renew its lock stops before it ends, so a replica cut off from the database stops applying
	// before its work is taken over.
	ReplicaLease time.Duration
	// Ticker, when set, is called every TickEvery (default 1m) by one replica (the leader).
	Ticker    Ticker
	TickEvery time.Duration
}

// Queue accepts deliveries and works their runs.
type Queue struct {
	store      *store.Store
	driver     riverdriver.Driver[*sql.Tx]
	kick       func() // wakes this process's listener after a commit that notified (SQLite; see kickDriver)
	client     *river.Client[*sql.Tx]
	log        *slog.Logger
	running    atomic.Bool
	maxTry     int
	cancelWait time.Duration

	wake     chan struct{} // an accepted run waits for its job
	wakers   sync.WaitGroup
	wakeCtx  context.Context // ends when the queue stops: no more wake-ups
	stopWake context.CancelFunc
	stopDisp context.CancelFunc
	dispDone chan struct{}

	id       string
	lease    time.Duration
	stopBeat context.CancelFunc
	beatDone chan struct{}
}

// QueueCommands is the queue of comment commands and check run buttons, apart from the runs that plan
// and deploy.
const QueueCommands = "commands"

// commandWorkers work the commands queue.
const commandWorkers = 2

// dispatchBatch bounds how many jobs one dispatch transaction inserts, so the
// store is never held long while webhooks wait to be answered.
const dispatchBatch = 16

// New migrates River's tables into the store's database and builds the client.
func New(ctx context.Context, st *store.Store, exec Executor, opts Options) (*Queue, error) {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.JobTimeout <= 0 {
		opts.JobTimeout = 2 * time.Hour
	}
	pg := st.Dialect() == "postgres"
	if opts.PollInterval <= 0 {
		// A safety net on both databases: workers hear of jobs through notifications (on SQLite River's
		// emulation, which this process's own dispatches wake at once: see kickDriver). A short poll would
		// hurt: River fetches at most once per FetchCooldown, so a poll every 100 ms kept a job that arrived
		// just after one waiting for the cooldown's end, 50 ms on average.
		opts.PollInterval = 2 * time.Second
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 10
	}
	if opts.CancelWait <= 0 {
		opts.CancelWait = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ReplicaID == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		opts.ReplicaID = "runner-" + hex.EncodeToString(b)
	}
	if opts.ReplicaLease <= 0 {
		opts.ReplicaLease = 2 * time.Minute
	}
	driver := driverFor(st)
	kick := func() {}
	if pg && st.ListenPool() != nil {
		// The store's transactions stay on database/sql (a run's job is inserted in the transaction that
		// marks it dispatched); River listens through riverpgxv5 on a connection of the store's pgx pool.
		driver = riverdatabasesql.NewWithPgxListener(st.DB(), st.ListenPool())
	}
	if !pg {
		kd := newKickDriver(driver)
		driver, kick = kd, kd.kick
	}
	if err := migrate(ctx, driver, opts.Logger); err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &runWorker{exec: exec, store: st, log: opts.Logger}); err != nil {
		return nil, fmt.Errorf("register run worker: %w", err)
	}
	var periodicJobs []*river.PeriodicJob
	if opts.Ticker != nil {
		if opts.TickEvery <= 0 {
			opts.TickEvery = time.Minute
		}
		if err := river.AddWorkerSafely(workers, &tickWorker{t: opts.Ticker}); err != nil {
			return nil, fmt.Errorf("register tick worker: %w", err)
		}
		periodicJobs = append(periodicJobs, periodic(opts.TickEvery))
	}
	client, err := river.NewClient(driver, &river.Config{
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: opts.Workers},
			QueueCommands:      {MaxWorkers: commandWorkers},
		},
		ID:                   opts.ReplicaID,
		Workers:              workers,
		JobTimeout:           opts.JobTimeout,
		RescueStuckJobsAfter: opts.JobTimeout + time.Hour,
		FetchPollInterval:    opts.PollInterval,
		// River fetches at most once per cooldown, and a dispatch makes two notifications (River's and
		// announce's): with River's default 100 ms, the second one's fetch at the end of the cooldown
		// started another, and a job arriving in it waited up to 100 ms. 20 ms bounds that wait and
		// still batches fetches under load (at most 50 a second per queue, none while every worker is busy).
		FetchCooldown: min(opts.PollInterval, fetchCooldown),
		PollOnly:      !driver.SupportsListener(),
		MaxAttempts:   opts.MaxAttempts,
		PeriodicJobs:  periodicJobs,
		Logger:        quiet(opts.Logger),
	})
	if err != nil {
		return nil, fmt.Errorf("queue client: %w", err)
	}
	wakeCtx, stopWake := context.WithCancel(context.Background())
	return &Queue{wakeCtx: wakeCtx, stopWake: stopWake, store: st, driver: driver, kick: kick, client: client, log: opts.Logger, maxTry: opts.MaxAttempts,
		cancelWait: opts.CancelWait, wake: make(chan struct{}, 1), id: opts.ReplicaID, lease: opts.ReplicaLease}, nil
}

// quiet keeps River's own info chatter out of the runner's log.
func quiet(l *slog.Logger) *slog.Logger {
	return slog.New(levelFloor{l.Handler(), slog.LevelWarn})
}

type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

// Accept stores the delivery as a run: once Accept returns, the run survives any
// crash. Its job is inserted right after by the dispatcher (a transactional
// outbox), which keeps River's insert off the webhook's answer. A repeated
// delivery id, or a replay of a delivery's content, stores and enqueues nothing.
func (q *Queue) Accept(ctx context.Context, ev event.Event) (event.Receipt, error) {
	rec, err := q.store.Accept(ctx, ev, nil)
	if err == nil && !rec.Duplicate {
		select {
		case q.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	return rec, err
}

// Dispatch gives every accepted run without a job its job now, in small
// batches. A started queue does this by itself as runs are accepted.
func (q *Queue) Dispatch(ctx context.Context) { q.dispatch(ctx) }

func (q *Queue) dispatch(ctx context.Context) {
	insert := func(ctx context.Context, tx *sql.Tx, runID int64, kind string) error {
		var opts *river.InsertOpts
		if kind == event.KindComment || kind == event.KindAction {
			// People's requests are quick (they authorise, decide and start runs): their own workers answer
			// them at once even while every run worker plans or deploys.
			opts = &river.InsertOpts{Queue: QueueCommands}
		}
		res, err := q.client.InsertTx(ctx, tx, RunArgs{RunID: runID}, opts)
		if err != nil {
			return err
		}
		// River leaves out the notification of an insert that follows another within its fetch cooldown
		// (it counts on the workers polling soon); the other replicas' workers would then find the job only at
		// their next poll. Announce every dispatch: PostgreSQL delivers one notification per transaction and
		// queue however many jobs it inserted.
		q.announce(ctx, q.driver.UnwrapExecutor(tx), res.Job.Queue)
		return nil
	}
	for ctx.Err() == nil {
		n, err := q.store.DispatchRuns(ctx, dispatchBatch, insert)
		if err != nil {
			if ctx.Err() == nil {
				q.log.Error("dispatch accepted runs", "err", err)
			}
			return
		}
		if n > 0 {
			q.kick() // committed: this process's workers hear of the jobs now
		}
		if n < dispatchBatch {
			return
		}
	}
}

func (q *Queue) dispatcher(ctx context.Context) {
	defer close(q.dispDone)
	t := time.NewTicker(time.Second) // also retries a dispatch that failed
	defer t.Stop()
	for {
		q.dispatch(ctx)
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-t.C:
		}
	}
}

// Start recovers jobs orphaned by a dead process, then starts working.
// The SQLite store is owned by one process (see the data dir lock), so a job left
// "running" at start-up belongs to a process that is gone.
//
// On PostgreSQL other replicas may be working jobs: none is taken from them here; River's rescuer gives
// back a job whose worker stopped renewing.
func (q *Queue) Start(ctx context.Context) error {
	if q.store.Dialect() != "postgres" {
		res, err := q.store.DB().ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = ?
			WHERE state = 'running'`, time.Now().UTC())
		if err != nil {
			return fmt.Errorf("recover orphaned jobs: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			q.log.Warn("recovered runs interrupted by a previous process", "jobs", n)
		}
	}
	// River cancels every job in flight when its start context ends; the queue's
	// lifetime is Stop's to end, so that a cancelled caller context (SIGTERM) still
	// leaves the runs in flight their grace period.
	if q.store.Dialect() == "postgres" {
		// Announce this replica, and give back the runs of dead ones before the workers start: a run cut in
		// the middle of a deploy is then the first one worked, not raced by the backlog.
		if err := q.store.Heartbeat(ctx, q.id); err != nil {
			return err
		}
		q.claimDead(ctx)
	}
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start queue: %w", err)
	}
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	q.stopDisp, q.dispDone = cancel, make(chan struct{})
	go q.dispatcher(dctx)
	if q.store.Dialect() == "postgres" {
		bctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		q.stopBeat, q.beatDone = stop, make(chan struct{})
		go q.heartbeats(bctx)
	}
	q.running.Store(true)
	return nil
}

// Wake makes a run that waits (its job snoozed, e.g. for an approval) due now, so that a decision is acted
// on at once. A run that is running or finished is left alone; a run without a job yet gets it from the
// dispatcher as usual.
func (q *Queue) Wake(ctx context.Context, runID int64) error {
	var jobID int64
	query := `SELECT id FROM river_job WHERE kind = ? AND json_extract(args, '$.run_id') = ? ORDER BY id DESC LIMIT 1`
	if q.store.Dialect() == "postgres" {
		query = `SELECT id FROM river_job WHERE kind = $1 AND (args->>'run_id')::bigint = $2 ORDER BY id DESC LIMIT 1`
	}
	err := q.store.DB().QueryRowContext(ctx, query, RunArgs{}.Kind(), runID).Scan(&jobID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find the job of run %d: %w", runID, err)
	}
	job, err := q.client.JobRetry(ctx, jobID)
	if err != nil {
		return fmt.Errorf("wake run %d: %w", runID, err)
	}
	if job.State == rivertype.JobStateAvailable {
		q.announce(ctx, q.driver.GetExecutor(), job.Queue)
		q.kick()
	}
	if job.State == rivertype.JobStateRunning {
		// River leaves a running job alone: the run may be about to snooze for its whole wait. Retry once it
		// has stopped running.
		q.wakers.Add(1)
		go func() {
			defer q.wakers.Done()
			q.wakeAfterRun(jobID)
		}()
	}
	return nil
}

// wakeAfterRun retries a job once it is no longer running, giving up after a minute.
func (q *Queue) wakeAfterRun(jobID int64) {
	ctx, cancel := context.WithTimeout(q.wakeCtx, time.Minute)
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
		job, err := q.client.JobGet(ctx, jobID)
		if err != nil {
			return
		}
		switch job.State {
		case rivertype.JobStateRunning:
			continue
		case rivertype.JobStateScheduled, rivertype.JobStateRetryable:
			if _, err := q.client.JobRetry(ctx, jobID); err != nil {
				q.log.Warn("wake a waiting run", "job", jobID, "err", err)
				return
			}
			q.announce(ctx, q.driver.GetExecutor(), job.Queue)
			q.kick()
		}
		return
	}
}

// Running reports whether workers are running.
func (q *Queue) Running() bool { return q.running.Load() }

// Stop stops fetching new runs and waits for the runs in flight until ctx is done;
// then it cancels them. A cancelled run is abandoned safely: its stage in flight
// is left to be re-run when the job is picked up again.
func (q *Queue) Stop(ctx context.Context) error {
	defer q.running.Store(false)
	if q.stopDisp != nil {
		// Runs accepted but not yet dispatched keep their place: the next start dispatches them.
		q.stopDisp()
		<-q.dispDone
	}
	q.stopWake()
	q.wakers.Wait()
	if q.stopBeat != nil {
		q.stopBeat()
		<-q.beatDone
		defer func() {
			// Stopped cleanly: what it abandoned went back to River as retryable.
			_ = q.store.Forget(context.WithoutCancel(ctx), q.id)
		}()
	}
	err := q.client.Stop(ctx)
	if err == nil {
		return nil
	}
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("stop queue: %w", err)
	}
	q.log.Warn("shutdown grace period over: abandoning runs in flight; they resume on restart")
	cctx, cancel := context.WithTimeout(context.Background(), q.cancelWait)
	defer cancel()
	if err := q.client.StopAndCancel(cctx); err != nil {
		return fmt.Errorf("cancel runs in flight: %w", err)
	}
	return nil
}

// Pending counts runs not yet finished by the queue: accepted runs waiting for
// their job, and jobs available, scheduled, retryable or running.
func (q *Queue) Pending(ctx context.Context) (int, error) {
	var n int
	err := q.store.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE state IN
		('available','scheduled','retryable','running','pending')`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count pending jobs: %w", err)
	}
	waiting, err := q.store.Undispatched(ctx)
	if err != nil {
		return 0, err
	}
	return n + waiting, nil
}

type runWorker struct {
	river.WorkerDefaults[RunArgs]
	exec  Executor
	store *store.Store
	log   *slog.Logger
}

func (w *runWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	err := w.exec.Execute(ctx, job.Args.RunID)
	var wait snoozer
	if errors.As(err, &wait) {
		// The run waits (e.g. for an environment lock or an approval): free the worker and come
		// back later; a snooze does not use up an attempt. Queue.Wake brings it back sooner.
		return river.JobSnooze(wait.SnoozeFor())
	}
	if err != nil && errors.Is(ctx.Err(), context.Canceled) && !errors.Is(err, context.Canceled) {
		// The executor gave up because its context was cancelled (e.g. ErrAbandoned on
		// shutdown). Say so: River then puts the job back without using up an attempt,
		// instead of counting it as a failure, backing off and eventually discarding it.
		err = fmt.Errorf("%w: %w", err, context.Canceled)
	}
	if err != nil && !errors.Is(err, context.Canceled) && job.Attempt >= job.MaxAttempts {
		// River discards the job after this attempt: the run must not stay
		// "running" for ever, so it ends failed with the last error.
		msg := fmt.Sprintf("gave up after %d attempts: %v", job.Attempt, err)
		if ferr := w.store.FinishRun(context.WithoutCancel(ctx), job.Args.RunID, store.StatusFailed, msg); ferr != nil {
			w.log.Error("record a run given up", "run", job.Args.RunID, "err", ferr)
		}
	}
	return err
}

// snoozer is an Executor error that asks for the run to be tried again later.
type snoozer interface {
	error
	SnoozeFor() time.Duration
}

// heartbeats tells the other replicas this one is alive, every third of the lease, and gives back to the
// queue the running jobs of replicas that went silent for a whole lease (killed, or cut off): their runs
// are picked up by whichever replica is free, and resume (stages that succeeded are kept).
func (q *Queue) heartbeats(ctx context.Context) {
	defer close(q.beatDone)
	t := time.NewTicker(q.lease / 3)
	defer t.Stop()
	for {
		// Start did the first beat and take-over.
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := q.store.Heartbeat(ctx, q.id); err != nil && ctx.Err() == nil {
			q.log.Warn("replica heartbeat", "replica", q.id, "err", err)
		}
		q.claimDead(ctx)
	}
}

// claimDead gives back to the queue the running jobs of the replicas that went silent for a whole lease.
func (q *Queue) claimDead(ctx context.Context) {
	dead, err := q.store.ClaimDeadReplicas(ctx, q.id, q.lease, q.takeOver)
	switch {
	case err != nil && ctx.Err() == nil:
		q.log.Warn("take over from dead replicas", "err", err)
	case len(dead) > 0:
		q.log.Warn("replicas stopped answering: their runs go back to the queue", "replicas", dead)
	}
}

// takeOver makes the jobs a dead replica was running available again (PostgreSQL). Each keeps its
// scheduled time, so it is worked before the jobs queued after it started (River takes the oldest first): a
// run cut in the middle of a deploy resumes at once, not behind the whole backlog.
func (q *Queue) takeOver(ctx context.Context, tx *sql.Tx, replica string) error {
	res, err := tx.ExecContext(ctx, `UPDATE river_job SET state = 'available'
		WHERE state = 'running' AND attempted_by[array_upper(attempted_by, 1)] = $1`, replica)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		q.log.Warn("runs of a dead replica go back to the queue", "replica", replica, "jobs", n)
		for _, queue := range []string{river.QueueDefault, QueueCommands} {
			q.announce(ctx, q.driver.UnwrapExecutor(tx), queue)
		}
	}
	return nil
}

// insertTopic is River's notification topic for jobs made available (River's notifier.NotificationTopicInsert).
const insertTopic = "river_insert"

// announce tells every replica's workers (LISTEN/NOTIFY) that a job of queue became available outside River's
// own insert path (JobRetry, a take-over), which River announces only to its own process. Without a listener
// (SQLite) the workers' polling finds it.
func (q *Queue) announce(ctx context.Context, exec riverdriver.Executor, queue string) {
	if !q.driver.SupportsListener() {
		return
	}
	err := exec.NotifyMany(ctx, &riverdriver.NotifyManyParams{Topic: insertTopic, Payload: []string{fmt.Sprintf(`{"queue": %q}`, queue)}})
	if err != nil && ctx.Err() == nil {
		q.log.Warn("announce an available job", "queue", queue, "err", err)
	}
}

// ReplicaID is this queue's name among the replicas.
func (q *Queue) ReplicaID() string { return q.id }

// driverFor is River's driver for the store's database.
func driverFor(st *store.Store) riverdriver.Driver[*sql.Tx] {
	if st.Dialect() == "postgres" {
		return riverdatabasesql.New(st.DB())
	}
	return riversqlite.New(st.DB())
}

// Migrate brings River's tables in the store's database up to date (New does it too); `runner migrate`
// runs it alone.
func Migrate(ctx context.Context, st *store.Store, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	return migrate(ctx, driverFor(st), log)
}

func migrate(ctx context.Context, driver riverdriver.Driver[*sql.Tx], log *slog.Logger) error {
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: quiet(log)})
	if err != nil {
		return fmt.Errorf("queue migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate queue tables: %w", err)
	}
	return nil
}
