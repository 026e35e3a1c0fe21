package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Queued is what the store says of the runs not finished yet.
type Queued struct {
	Waiting int       // accepted, not started
	Oldest  time.Time // created_at of the oldest waiting run; zero when none waits
	Running int       // started, not finished (including runs waiting for a lock or an approval)
}

// QueueStats answers, at scrape time, how many runs wait and since when (the store).
type QueueStats interface {
	QueueStats(ctx context.Context) (Queued, error)
}

// queueCollector asks QueueStats on every scrape, within a timeout, so the numbers are never stale
// and a slow database cannot hang the scrape.
type queueCollector struct {
	q       QueueStats
	timeout time.Duration
	now     func() time.Time

	depth, oldest, running *prometheus.Desc
}

func newQueueCollector(q QueueStats, timeout time.Duration) *queueCollector {
	return &queueCollector{q: q, timeout: timeout, now: time.Now,
		depth:   prometheus.NewDesc("runner_queue_depth", "Runs accepted and waiting to start.", nil, nil),
		oldest:  prometheus.NewDesc("runner_queue_oldest_age_seconds", "Age of the oldest run waiting to start (0 when none waits).", nil, nil),
		running: prometheus.NewDesc("runner_runs_in_progress", "Runs started and not finished (including runs waiting for a lock or an approval).", nil, nil),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.oldest
	ch <- c.running
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	q, err := c.q.QueueStats(ctx)
	if err != nil {
		// The scrape goes on without these (promhttp.ContinueOnError) and logs why.
		ch <- prometheus.NewInvalidMetric(c.depth, fmt.Errorf("queue stats: %w", err))
		return
	}
	age := 0.0
	if q.Waiting > 0 && !q.Oldest.IsZero() {
		age = max(0, c.now().Sub(q.Oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(q.Waiting))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(q.Running))
}

// The queue's line in the runner's log (RUNNER_QUEUE_LOG_EVERY), for metrics read from logs where nothing
// scrapes /metrics: the runner's own module turns QueueLogAgeField of the lines whose msg is
// QueueLogMessage into a CloudWatch metric and alarms on it (deploy/terraform).
const (
	QueueLogMessage  = "queue"
	QueueLogAgeField = "oldest_queued_seconds"
)
