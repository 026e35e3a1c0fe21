package store

import (
	"context"
	"fmt"
)

// SavedPlan is one saved plan file of a run's environment, sealed by its keeper (the store never sees a
// plan in the clear: plans hold variable values and state).
type SavedPlan struct {
	Name   string
	Sealed []byte
}

// KeepPlans replaces the saved plans of a run's environment, in one transaction.
func (s *Store) KeepPlans(ctx context.Context, runID int64, env string, plans []SavedPlan) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("keep the plans of run %d/%s: %w", runID, env, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	if _, err := tx.ExecContext(ctx, `DELETE FROM saved_plans WHERE run_id = ? AND env = ?`, runID, env); err != nil {
		return fmt.Errorf("keep the plans of run %d/%s: %w", runID, env, err)
	}
	for _, p := range plans {
		if _, err := tx.ExecContext(ctx, `INSERT INTO saved_plans (run_id, env, name, sealed) VALUES (?, ?, ?, ?)`,
			runID, env, p.Name, p.Sealed); err != nil {
			return fmt.Errorf("keep the plan %s of run %d/%s: %w", p.Name, runID, env, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("keep the plans of run %d/%s: %w", runID, env, err)
	}
	return nil
}

// KeptPlans returns the saved plans of a run's environment, by name; none is not an error.
func (s *Store) KeptPlans(ctx context.Context, runID int64, env string) ([]SavedPlan, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, sealed FROM saved_plans WHERE run_id = ? AND env = ? ORDER BY name`, runID, env)
	if err != nil {
		return nil, fmt.Errorf("read the plans of run %d/%s: %w", runID, env, err)
	}
	defer rows.Close()
	var out []SavedPlan
	for rows.Next() {
		var p SavedPlan
		if err := rows.Scan(&p.Name, &p.Sealed); err != nil {
			return nil, fmt.Errorf("read the plans of run %d/%s: %w", runID, env, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the plans of run %d/%s: %w", runID, env, err)
	}
	return out, nil
}
