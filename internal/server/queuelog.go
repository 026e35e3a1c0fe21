package server

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/gitops-runner/runner/internal/metrics"
	"github.com/gitops-runner/runner/internal/store"
)

// queueStatter is the store's view of the queue.
type queueStatter interface {
	QueueStats(ctx context.Context) (store.QueueStats, error)
}

// logQueue writes one queue line: runs waiting, running, and how long the oldest waiting one has waited
// (0 when none waits, so that an alarm sees the queue drain).
func logQueue(ctx context.Context, st queueStatter, log *slog.Logger, now time.Time) {
	q, err := st.QueueStats(ctx)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("queue stats", "err", err)
		}
		return
	}
	age := 0.0
	if !q.Oldest.IsZero() {
		age = math.Round(max(now.Sub(q.Oldest).Seconds(), 0))
	}
	log.Info(metrics.QueueLogMessage, "waiting", q.Waiting, "running", q.Running, metrics.QueueLogAgeField, age)
}

// logQueueEvery writes the queue line every interval until ctx ends.
func logQueueEvery(ctx context.Context, st queueStatter, log *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			logQueue(ctx, st, log, now)
		}
	}
}
