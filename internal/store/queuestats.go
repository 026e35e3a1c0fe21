package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// QueueStats is what the runs table says of the work not finished yet.
type QueueStats struct {
	Waiting int       // queued: accepted, not started
	Oldest  time.Time // created_at of the oldest queued run; zero when none is queued
	Running int       // started, not finished
}

// QueueStats counts queued and running runs and finds the oldest queued one (for metrics).
func (s *Store) QueueStats(ctx context.Context) (QueueStats, error) {
	var q QueueStats
	err := s.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0)
		FROM runs WHERE status IN (?, ?)`, StatusQueued, StatusRunning, StatusQueued, StatusRunning).Scan(&q.Waiting, &q.Running)
	if err != nil {
		return QueueStats{}, fmt.Errorf("count queued runs: %w", err)
	}
	if q.Waiting == 0 {
		return q, nil
	}
	// Ids grow with created_at: the lowest queued id is the oldest.
	var oldest time.Time
	err = s.db.QueryRowContext(ctx, `SELECT created_at FROM runs WHERE status = ? ORDER BY id LIMIT 1`, StatusQueued).Scan(&oldest)
	switch {
	case errors.Is(err, sql.ErrNoRows): // started since the count
	case err != nil:
		return QueueStats{}, fmt.Errorf("find the oldest queued run: %w", err)
	default:
		q.Oldest = oldest.UTC()
	}
	return q, nil
}
