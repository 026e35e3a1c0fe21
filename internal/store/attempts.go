package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Attempt is one attempt of a stage, recorded before the stage's commands start (internal/pipeline
// says what it is for: finding what a dead attempt left behind).
type Attempt struct {
	StageID int64  `json:"stage_id"`
	RunID   int64  `json:"run_id"`
	Attempt int    `json:"attempt"`
	Env     string `json:"env,omitempty"`   // the stage's, read back with the attempt
	Stage   string `json:"stage,omitempty"` // the stage's name, read back with the attempt
	// Identity is the host name its sandboxed commands run under: the host part of the holder ("Who")
	// of the state locks its Terraform takes in namespaces mode.
	Identity string `json:"identity"`
	Mode     string `json:"mode,omitempty"` // the sandbox mode its commands ran in
	Replica  string `json:"replica,omitempty"`
	Host     string `json:"host,omitempty"`    // the host name the runner had
	BootID   string `json:"boot_id,omitempty"` // the kernel's boot id there
	// Records is the directory where its commands' launchers recorded their process groups.
	Records  string    `json:"records,omitempty"`
	Started  time.Time `json:"started_at"`
	Ended    time.Time `json:"ended_at,omitzero"`
	Released []string  `json:"released_locks,omitempty"` // state lock ids released for it after it died
}

// StartAttempt records the start of a stage attempt.
func (s *Store) StartAttempt(ctx context.Context, a Attempt) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO stage_attempts (stage_id, run_id, attempt, identity, mode, replica, host,
		boot_id, records, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.StageID, a.RunID, a.Attempt, a.Identity, a.Mode,
		a.Replica, a.Host, a.BootID, a.Records, a.Started.UTC())
	if err != nil {
		return fmt.Errorf("record attempt %d of stage %d: %w", a.Attempt, a.StageID, err)
	}
	return nil
}

// EndAttempt records that an attempt ended (in any way: its runner saw it end).
func (s *Store) EndAttempt(ctx context.Context, stageID int64, attempt int) error {
	_, err := s.db.ExecContext(ctx, `UPDATE stage_attempts SET ended_at = ? WHERE stage_id = ? AND attempt = ? AND ended_at IS NULL`,
		s.now(), stageID, attempt)
	if err != nil {
		return fmt.Errorf("end attempt %d of stage %d: %w", attempt, stageID, err)
	}
	return nil
}

// OpenAttempts returns the attempts of a run's stages that never ended, oldest first. Read before the
// run's execution starts any stage, these are attempts cut short by a runner that died.
func (s *Store) OpenAttempts(ctx context.Context, runID int64) ([]Attempt, error) {
	return s.attempts(ctx, `a.run_id = ? AND a.ended_at IS NULL`, runID)
}

// Attempts returns every attempt of a stage, oldest first.
func (s *Store) Attempts(ctx context.Context, stageID int64) ([]Attempt, error) {
	return s.attempts(ctx, `a.stage_id = ?`, stageID)
}

func (s *Store) attempts(ctx context.Context, where string, arg any) ([]Attempt, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT a.stage_id, a.run_id, a.attempt, st.env, st.name, a.identity, a.mode, a.replica,
		a.host, a.boot_id, a.records, a.started_at, a.ended_at, a.released_locks
		FROM stage_attempts a JOIN stages st ON st.id = a.stage_id WHERE `+where+` ORDER BY a.id`, arg)
	if err != nil {
		return nil, fmt.Errorf("read stage attempts: %w", err)
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		var (
			a        Attempt
			started  time.Time
			ended    sql.NullTime
			released string
		)
		if err := rows.Scan(&a.StageID, &a.RunID, &a.Attempt, &a.Env, &a.Stage, &a.Identity, &a.Mode, &a.Replica, &a.Host,
			&a.BootID, &a.Records, &started, &ended, &released); err != nil {
			return nil, fmt.Errorf("read stage attempts: %w", err)
		}
		a.Started, a.Ended = started.UTC(), timeOf(ended)
		if released != "" {
			a.Released = strings.Split(released, ",")
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// LockReleased records that a state lock a dead attempt left was released (force-unlocked) for it.
func (s *Store) LockReleased(ctx context.Context, stageID int64, attempt int, lockID string) error {
	if strings.Contains(lockID, ",") {
		return fmt.Errorf("record released lock of stage %d: lock id %q holds a comma", stageID, lockID)
	}
	_, err := s.db.ExecContext(ctx, `UPDATE stage_attempts SET released_locks = CASE WHEN released_locks = '' THEN ?
		ELSE released_locks || ',' || ? END WHERE stage_id = ? AND attempt = ?`, lockID, lockID, stageID, attempt)
	if err != nil {
		return fmt.Errorf("record released lock of stage %d: %w", stageID, err)
	}
	return nil
}
