package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/metrics"
	"github.com/gitops-runner/runner/internal/store"
)

type fakeQueue struct {
	stats store.QueueStats
	err   error
}

func (f fakeQueue) QueueStats(context.Context) (store.QueueStats, error) { return f.stats, f.err }

// The queue's log line is what the runner module's metric filter reads (RUNNER_LOG_JSON): msg "queue" and
// the oldest waiting run's age in whole seconds, 0 when nothing waits.
func TestLogQueue(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name             string
		q                fakeQueue
		wantLine         bool
		waiting, running float64
		age              float64
	}{
		{"waiting", fakeQueue{stats: store.QueueStats{Waiting: 2, Running: 1, Oldest: now.Add(-90*time.Second - 400*time.Millisecond)}}, true, 2, 1, 90},
		{"empty", fakeQueue{stats: store.QueueStats{Running: 3}}, true, 0, 3, 0},
		{"clock behind the database", fakeQueue{stats: store.QueueStats{Waiting: 1, Oldest: now.Add(time.Second)}}, true, 1, 0, 0},
		{"store down", fakeQueue{err: errors.New("database is locked")}, false, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			logQueue(context.Background(), tc.q, slog.New(slog.NewJSONHandler(&buf, nil)), now)
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("not one JSON line: %q", buf.String())
			}
			if !tc.wantLine {
				if line["msg"] == metrics.QueueLogMessage {
					t.Fatalf("a queue line without stats: %v", line)
				}
				return
			}
			if line["msg"] != metrics.QueueLogMessage || line["waiting"] != tc.waiting || line["running"] != tc.running || line[metrics.QueueLogAgeField] != tc.age {
				t.Errorf("line %v; want msg %q, waiting %v, running %v, %s %v", line, metrics.QueueLogMessage, tc.waiting, tc.running, metrics.QueueLogAgeField, tc.age)
			}
		})
	}
}
