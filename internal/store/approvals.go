package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Approval states. Waiting is the only one that changes.
const (
	ApprovalWaiting    = "waiting"
	ApprovalApproved   = "approved"
	ApprovalRejected   = "rejected"
	ApprovalExpired    = "expired"
	ApprovalSuperseded = "superseded" // a newer deploy of the branch came
	ApprovalStale      = "stale"      // the environment changed after the plan: it was planned again
)

// Approval is one deploy of one environment waiting for a person's decision, and the decision.
type Approval struct {
	ID      int64  `json:"id"`
	RunID   int64  `json:"run_id"`
	Repo    string `json:"repo"`
	Env     string `json:"env"`
	PR      int    `json:"pr,omitempty"` // the merged pull request the deploy comes from, if known
	SHA     string `json:"sha"`
	Ref     string `json:"ref"`
	Author  string `json:"author,omitempty"` // who made the change (the pull request's author, or the pusher)
	State   string `json:"state"`
	Why     string `json:"why"`     // why approval is needed
	Summary string `json:"summary"` // the plan's one-line summary
	// PlanSHA256 is the checksum of the saved plan shown: only that exact file is applied.
	PlanSHA256 string `json:"plan_sha256"`
	// BaseDeployment is the environment's newest deployment record, of any outcome, when the plan was made
	// (0: none); another one since means the environment changed and the plan must be made again.
	BaseDeployment int64     `json:"base_deployment"`
	Requested      time.Time `json:"requested_at"`
	Expires        time.Time `json:"expires_at"`
	DecidedBy      string    `json:"decided_by,omitempty"`
	Channel        string    `json:"channel,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	Decided        time.Time `json:"decided_at,omitzero"`
}

// ErrDecided is returned when a decision comes for an approval that is no longer waiting.
var ErrDecided = errors.New("already decided")

const approvalColumns = `id, run_id, repo, env, pr, sha, ref, author, state, why, summary, plan_sha256, base_deployment,
	requested_at, expires_at, decided_by, channel, reason, decided_at`

func scanApproval(sc interface{ Scan(...any) error }) (Approval, error) {
	var (
		a       Approval
		decided sql.NullTime
	)
	err := sc.Scan(&a.ID, &a.RunID, &a.Repo, &a.Env, &a.PR, &a.SHA, &a.Ref, &a.Author, &a.State, &a.Why, &a.Summary,
		&a.PlanSHA256, &a.BaseDeployment, &a.Requested, &a.Expires, &a.DecidedBy, &a.Channel, &a.Reason, &decided)
	a.Requested, a.Expires, a.Decided = a.Requested.UTC(), a.Expires.UTC(), timeOf(decided)
	return a, err
}

// RequestApproval records that a run's deploy of an environment waits for approval. A waiting request of
// the same run and environment for the same saved plan is returned as it is; one for another plan is marked
// stale first.
func (s *Store) RequestApproval(ctx context.Context, a Approval) (Approval, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Approval{}, fmt.Errorf("request approval of %s: %w", a.Env, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	cur, err := scanApproval(tx.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM approvals
		WHERE run_id = ? AND env = ? AND state = ? ORDER BY id DESC LIMIT 1`, a.RunID, a.Env, ApprovalWaiting))
	switch {
	case err == nil && cur.PlanSHA256 == a.PlanSHA256:
		return cur, nil
	case err == nil:
		if _, err := tx.ExecContext(ctx, `UPDATE approvals SET state = ?, decided_at = ?, reason = ? WHERE id = ?`,
			ApprovalStale, s.now(), "planned again", cur.ID); err != nil {
			return Approval{}, fmt.Errorf("request approval of %s: %w", a.Env, err)
		}
	case !errors.Is(err, sql.ErrNoRows):
		return Approval{}, fmt.Errorf("request approval of %s: %w", a.Env, err)
	}
	a.State, a.Requested = ApprovalWaiting, s.now()
	err = tx.QueryRowContext(ctx, `INSERT INTO approvals (run_id, repo, env, pr, sha, ref, author, state, why, summary,
		plan_sha256, base_deployment, requested_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		a.RunID, a.Repo, a.Env, a.PR, a.SHA, a.Ref, a.Author, a.State, a.Why, a.Summary, a.PlanSHA256, a.BaseDeployment,
		a.Requested, a.Expires.UTC()).Scan(&a.ID)
	if err != nil {
		return Approval{}, fmt.Errorf("request approval of %s: %w", a.Env, err)
	}
	if err := tx.Commit(); err != nil {
		return Approval{}, fmt.Errorf("request approval of %s: %w", a.Env, err)
	}
	return a, nil
}

// CurrentApproval is the newest approval of a run's environment, or ErrNotFound.
func (s *Store) CurrentApproval(ctx context.Context, runID int64, env string) (Approval, error) {
	a, err := scanApproval(s.db.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM approvals
		WHERE run_id = ? AND env = ? ORDER BY id DESC LIMIT 1`, runID, env))
	if errors.Is(err, sql.ErrNoRows) {
		return Approval{}, fmt.Errorf("approval of run %d %s: %w", runID, env, ErrNotFound)
	}
	if err != nil {
		return Approval{}, fmt.Errorf("approval of run %d %s: %w", runID, env, err)
	}
	return a, nil
}

// DecideApproval ends a waiting approval with a state (approved, rejected, expired, superseded), by whom,
// through which channel and why. It returns the approval as decided, or ErrDecided (with the approval as it
// stands) when it was no longer waiting: two decisions never both count.
func (s *Store) DecideApproval(ctx context.Context, id int64, state, by, channel, reason string) (Approval, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE approvals SET state = ?, decided_by = ?, channel = ?, reason = ?, decided_at = ?
		WHERE id = ? AND state = ?`, state, by, channel, reason, s.now(), id, ApprovalWaiting)
	if err != nil {
		return Approval{}, fmt.Errorf("decide approval %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Approval{}, fmt.Errorf("decide approval %d: %w", id, err)
	}
	a, gerr := scanApproval(s.db.QueryRowContext(ctx, `SELECT `+approvalColumns+` FROM approvals WHERE id = ?`, id))
	if errors.Is(gerr, sql.ErrNoRows) {
		return Approval{}, fmt.Errorf("approval %d: %w", id, ErrNotFound)
	}
	if gerr != nil {
		return Approval{}, fmt.Errorf("decide approval %d: %w", id, gerr)
	}
	if n == 0 {
		return a, fmt.Errorf("approval %d is %s: %w", id, a.State, ErrDecided)
	}
	return a, nil
}

// ApprovalFilter narrows Approvals.
type ApprovalFilter struct {
	RunID int64 // 0: any
	Repo  string
	PR    int    // 0: any
	Env   string // "": any
	State string // "": any
	Limit int    // default 50
}

// Approvals lists approvals newest first.
func (s *Store) Approvals(ctx context.Context, f ApprovalFilter) ([]Approval, error) {
	q := `SELECT ` + approvalColumns + ` FROM approvals WHERE 1=1`
	var args []any
	for _, c := range []struct {
		col string
		v   any
		set bool
	}{{"run_id", f.RunID, f.RunID != 0}, {"repo", f.Repo, f.Repo != ""}, {"pr", f.PR, f.PR != 0}, {"env", f.Env, f.Env != ""}, {"state", f.State, f.State != ""}} {
		if c.set {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 50
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	defer rows.Close()
	var out []Approval
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, fmt.Errorf("list approvals: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// MergedPR returns the pull request whose merge recorded commit sha (a merged run), or 0.
func (s *Store) MergedPR(ctx context.Context, repo, sha string) (int, error) {
	var pr int
	err := s.db.QueryRowContext(ctx, `SELECT pr FROM runs WHERE repo = ? AND kind = 'merged' AND sha = ? ORDER BY id DESC LIMIT 1`,
		repo, sha).Scan(&pr)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("merged pull request of %s: %w", sha, err)
	}
	return pr, nil
}

// ReviewedPlan is the newest successful plan of one environment on a pull request: the stage outputs of
// what reviewers saw, and the commit it planned. ok is false when there is none.
func (s *Store) ReviewedPlan(ctx context.Context, repo string, pr int, env string) (sha string, output map[string]string, ok bool, err error) {
	var stageID int64
	err = s.db.QueryRowContext(ctx, `SELECT s.id, r.sha FROM stages s JOIN runs r ON r.id = s.run_id
		WHERE r.repo = ? AND r.pr = ? AND r.kind = 'plan' AND s.env = ? AND s.name = 'plan' AND s.status = ?
		ORDER BY s.finished_at DESC, s.id DESC LIMIT 1`, repo, pr, env, StageSucceeded).Scan(&stageID, &sha)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("reviewed plan of %s#%d %s: %w", repo, pr, env, err)
	}
	st, err := s.Stage(ctx, stageID)
	if err != nil {
		return "", nil, false, err
	}
	return sha, st.Output, true, nil
}
