package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Heartbeat records that replica id is alive now (it works the queue of a shared database).
func (s *Store) Heartbeat(ctx context.Context, id string) error {
	now := s.now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO replicas (id, heartbeat_ns, started_at) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET heartbeat_ns = excluded.heartbeat_ns`, id, now.UnixNano(), now)
	if err != nil {
		return fmt.Errorf("heartbeat of replica %s: %w", id, err)
	}
	return nil
}

// ClaimDeadReplicas removes the replicas (other than self) whose last heartbeat is older than lease and
// calls takeOver for each in the same transaction (the queue gives back the dead one's jobs there). A dead
// replica is claimed by one caller (DELETE ... RETURNING): two living replicas never both take it over,
// and a caller that fails half-way leaves it to the next.
func (s *Store) ClaimDeadReplicas(ctx context.Context, self string, lease time.Duration,
	takeOver func(ctx context.Context, tx *sql.Tx, id string) error) ([]string, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claim dead replicas: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck
	rows, err := tx.QueryContext(ctx, `DELETE FROM replicas WHERE id <> ? AND heartbeat_ns < ? RETURNING id`,
		self, s.now().Add(-lease).UnixNano())
	if err != nil {
		return nil, fmt.Errorf("claim dead replicas: %w", err)
	}
	var dead []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim dead replicas: %w", err)
		}
		dead = append(dead, id)
	}
	rows.Close()
	for _, id := range dead {
		if err := takeOver(ctx, tx.Tx, id); err != nil {
			return nil, fmt.Errorf("take over from replica %s: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim dead replicas: %w", err)
	}
	return dead, nil
}

// Forget removes replica id (a clean stop: its jobs went back to the queue as it stopped).
func (s *Store) Forget(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM replicas WHERE id = ?`, id); err != nil {
		return fmt.Errorf("forget replica %s: %w", id, err)
	}
	return nil
}
