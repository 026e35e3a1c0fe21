package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Stage is one step of a run, for one environment or for the whole run (Env "").
type Stage struct {
	ID         int64             `json:"id"`
	RunID      int64             `json:"run_id"`
	Seq        int               `json:"seq"`
	Env        string            `json:"env,omitempty"`
	Name       string            `json:"name"`
	Status     string            `json:"status"`
	Detail     string            `json:"detail,omitempty"`
	WaitingFor string            `json:"waiting_for,omitempty"`
	Output     map[string]string `json:"output,omitempty"`
	Attempts   int               `json:"attempts"`
	Started    time.Time         `json:"started_at,omitzero"`
	Finished   time.Time         `json:"finished_at,omitzero"`
	LogTail    []string          `json:"log_tail,omitempty"`
}

// StageKey names a stage within its run.
type StageKey struct {
	Env  string
	Name string
}

// EnsureStages creates the run's stages that do not exist yet, in order, as pending,
// and returns all of the run's stages. Calling it again (a re-run after a crash) keeps
// the stages and their outcomes.
func (s *Store) EnsureStages(ctx context.Context, runID int64, keys []StageKey) ([]Stage, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("create stages of run %d: %w", runID, err)
	}
	defer tx.Rollback() //nolint:errcheck
	for i, k := range keys {
		_, err := tx.ExecContext(ctx, `INSERT INTO stages (run_id, seq, env, name, status) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (run_id, env, name) DO NOTHING`, runID, i, k.Env, k.Name, StagePending)
		if err != nil {
			return nil, fmt.Errorf("create stage %s/%s of run %d: %w", k.Env, k.Name, runID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("create stages of run %d: %w", runID, err)
	}
	return s.Stages(ctx, runID, 0)
}

// Stages returns a run's stages in order with the last tail log lines of each.
func (s *Store) Stages(ctx context.Context, runID int64, tail int) ([]Stage, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, run_id, seq, env, name, status, detail, waiting_for, output,
		attempts, started_at, finished_at FROM stages WHERE run_id = ? ORDER BY seq, id`, runID)
	if err != nil {
		return nil, fmt.Errorf("read stages of run %d: %w", runID, err)
	}
	var out []Stage
	for rows.Next() {
		var (
			st                Stage
			output            string
			started, finished sql.NullTime
		)
		if err := rows.Scan(&st.ID, &st.RunID, &st.Seq, &st.Env, &st.Name, &st.Status, &st.Detail, &st.WaitingFor,
			&output, &st.Attempts, &started, &finished); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read stages of run %d: %w", runID, err)
		}
		st.Started, st.Finished = timeOf(started), timeOf(finished)
		if err := json.Unmarshal([]byte(output), &st.Output); err != nil {
			rows.Close()
			return nil, fmt.Errorf("decode output of stage %d: %w", st.ID, err)
		}
		if len(st.Output) == 0 {
			st.Output = nil
		}
		out = append(out, st)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stages of run %d: %w", runID, err)
	}
	if out == nil {
		out = []Stage{}
	}
	if tail > 0 {
		for i := range out {
			if out[i].LogTail, err = s.LogTail(ctx, out[i].ID, tail); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Stage returns one stage by id.
func (s *Store) Stage(ctx context.Context, id int64) (Stage, error) {
	var runID int64
	err := s.db.QueryRowContext(ctx, `SELECT run_id FROM stages WHERE id = ?`, id).Scan(&runID)
	if errors.Is(err, sql.ErrNoRows) {
		return Stage{}, fmt.Errorf("stage %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Stage{}, fmt.Errorf("read stage %d: %w", id, err)
	}
	all, err := s.Stages(ctx, runID, 0)
	if err != nil {
		return Stage{}, err
	}
	for _, st := range all {
		if st.ID == id {
			return st, nil
		}
	}
	return Stage{}, fmt.Errorf("stage %d: %w", id, ErrNotFound)
}

// StartStage marks a stage running and counts the attempt.
func (s *Store) StartStage(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE stages SET status = ?, waiting_for = '', detail = '', attempts = attempts + 1,
		started_at = ?, finished_at = NULL WHERE id = ?`, StageRunning, s.now(), id)
	if err != nil {
		return fmt.Errorf("start stage %d: %w", id, err)
	}
	return nil
}

// WaitStage marks a stage as waiting, saying for what (e.g. the lock holder).
func (s *Store) WaitStage(ctx context.Context, id int64, waitingFor string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE stages SET status = ?, waiting_for = ? WHERE id = ?`, StageWaiting, waitingFor, id)
	if err != nil {
		return fmt.Errorf("mark stage %d waiting: %w", id, err)
	}
	return nil
}

// FinishStage records a stage's outcome, a one-line detail and its outputs.
func (s *Store) FinishStage(ctx context.Context, id int64, status, detail string, output map[string]string) error {
	if output == nil {
		output = map[string]string{}
	}
	b, err := json.Marshal(output)
	if err != nil {
		return fmt.Errorf("encode output of stage %d: %w", id, err)
	}
	_, err = s.db.ExecContext(ctx, `UPDATE stages SET status = ?, detail = ?, output = ?, waiting_for = '', finished_at = ?
		WHERE id = ?`, status, detail, string(b), s.now(), id)
	if err != nil {
		return fmt.Errorf("finish stage %d: %w", id, err)
	}
	return nil
}

// logRowsPerInsert is how many log lines one INSERT adds: 600 parameters, under every SQLite's limit (999).
const logRowsPerInsert = 200

// AppendLog adds lines to a stage's log, in order.
func (s *Store) AppendLog(ctx context.Context, stageID int64, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("append log of stage %d: %w", stageID, err)
	}
	defer tx.Rollback() //nolint:errcheck
	now := s.now()
	// Many rows per statement: a plan's output is thousands of lines, and a statement each cost more than
	// Terraform's own time outside the plan (a 500-resource plan: 1,500 lines).
	for len(lines) > 0 {
		chunk := lines[:min(len(lines), logRowsPerInsert)]
		lines = lines[len(chunk):]
		var q strings.Builder
		q.WriteString(`INSERT INTO stage_logs (stage_id, at, line) VALUES `)
		args := make([]any, 0, 3*len(chunk))
		for i, l := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?)")
			args = append(args, stageID, now, l)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("append log of stage %d: %w", stageID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("append log of stage %d: %w", stageID, err)
	}
	return nil
}

// LogLine is one stored log line with its position, for followers.
type LogLine struct {
	ID   int64     `json:"id"`
	At   time.Time `json:"at"`
	Line string    `json:"line"`
}

// Log returns a stage's log lines after the given line id (0 = from the start), at most limit.
func (s *Store) Log(ctx context.Context, stageID, after int64, limit int) ([]LogLine, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, at, line FROM stage_logs WHERE stage_id = ? AND id > ? ORDER BY id LIMIT ?`,
		stageID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read log of stage %d: %w", stageID, err)
	}
	defer rows.Close()
	var out []LogLine
	for rows.Next() {
		var l LogLine
		if err := rows.Scan(&l.ID, &l.At, &l.Line); err != nil {
			return nil, fmt.Errorf("read log of stage %d: %w", stageID, err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// LogTail returns the last n lines of a stage's log, oldest first.
func (s *Store) LogTail(ctx context.Context, stageID int64, n int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT line FROM (SELECT id, line FROM stage_logs WHERE stage_id = ?
		ORDER BY id DESC LIMIT ?) AS tail ORDER BY id`, stageID, n)
	if err != nil {
		return nil, fmt.Errorf("read log tail of stage %d: %w", stageID, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, fmt.Errorf("read log tail of stage %d: %w", stageID, err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}
