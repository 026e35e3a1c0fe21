package store

import (
	"context"
	"testing"
	"time"
)

func testQueueStatsCountsQueuedAndRunning(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t)
	q, err := s.QueueStats(ctx)
	if err != nil || q != (QueueStats{}) {
		t.Fatalf("empty store: QueueStats = %+v, %v; want zeros", q, err)
	}
	first := c.Now()
	a := accept(t, s, "d-1", "acme/infra")
	c.Advance(time.Minute)
	accept(t, s, "d-2", "acme/infra")
	accept(t, s, "d-3", "acme/infra")
	done := accept(t, s, "d-4", "acme/infra")
	if _, err := s.StartRun(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartRun(ctx, done); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, done, StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	q, err = s.QueueStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := QueueStats{Waiting: 2, Running: 1, Oldest: first.Add(time.Minute)}
	if q.Waiting != want.Waiting || q.Running != want.Running || !q.Oldest.Equal(want.Oldest) {
		t.Errorf("QueueStats = %+v, want %+v", q, want)
	}
}

func TestQueueStatsCountsQueuedAndRunning(t *testing.T) {
	bothDrivers(t, testQueueStatsCountsQueuedAndRunning)
}
