package queue

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// Ticker is work done on a fixed interval by one replica at a time (River's leader runs periodic jobs):
// starting the drift checks that are due, for example.
type Ticker interface {
	Tick(ctx context.Context) error
}

// TickArgs is the periodic job that calls the Ticker.
type TickArgs struct{}

// Kind names the job in River's table.
func (TickArgs) Kind() string { return "tick" }

type tickWorker struct {
	river.WorkerDefaults[TickArgs]
	t Ticker
}

func (w *tickWorker) Work(ctx context.Context, job *river.Job[TickArgs]) error { return w.t.Tick(ctx) }

// Timeout keeps a slow tick from holding a command worker long.
func (w *tickWorker) Timeout(*river.Job[TickArgs]) time.Duration { return time.Minute }

// periodic is the ticker's periodic job: every interval, on the command workers, never two at once.
func periodic(every time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return TickArgs{}, &river.InsertOpts{Queue: QueueCommands, MaxAttempts: 1,
			UniqueOpts: river.UniqueOpts{ByPeriod: every}}
	}, &river.PeriodicJobOpts{RunOnStart: false})
}
