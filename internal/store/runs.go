package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gitops-runner/runner/internal/event"
)

// Run is one accepted delivery and the work done for it.
type Run struct {
	ID           int64       `json:"id"`
	Event        event.Event `json:"event"`
	Status       string      `json:"status"`
	Error        string      `json:"error,omitempty"`
	Changed      []string    `json:"changed_files"`
	Environments []string    `json:"environments"`
	Apps         []string    `json:"apps"`
	Attempts     int         `json:"attempts"`
	Redactions   int         `json:"redactions"` // credentials redacted out of what the run showed
	Created      time.Time   `json:"created_at"`
	Started      time.Time   `json:"started_at,omitzero"`
	Finished     time.Time   `json:"finished_at,omitzero"`
	Stages       []Stage     `json:"stages"`
}

// Finished reports whether a run status is terminal.
func Finished(status string) bool {
	switch status {
	case StatusSucceeded, StatusFailed, StatusCancelled, StatusNothing:
		return true
	}
	return false
}

// Accept records a delivery as a queued run. With an enqueue function it is
// called in the same transaction, so that the job exists exactly when the run
// does; without one the run waits for DispatchRuns (a transactional outbox, which
// keeps the job insert off the webhook's answer).
//
// A delivery id seen before, or a content key (ev.ContentKey) first accepted
// within the replay window, returns the earlier run as a duplicate (a replay for
// the content key) and stores and enqueues nothing. Both checks are atomic with
// the insert: the key is claimed by a conditional upsert in the same transaction,
// so two concurrent copies of one delivery make one run.
func (s *Store) Accept(ctx context.Context, ev event.Event, enqueue func(ctx context.Context, tx *sql.Tx, runID int64) error) (event.Receipt, error) {
	rec, err := s.accept(ctx, ev, enqueue)
	if errors.Is(err, errKeyTaken) {
		// Only where writers are not serialised (not SQLite's one connection): another
		// transaction claimed the key between our look-up and our insert. Ours is rolled
		// back; the key's run is now visible.
		rec, err = s.accept(ctx, ev, enqueue)
	}
	return rec, err
}

// errKeyTaken: another transaction took the delivery id or the content key between our look-up and
// our insert; Accept tries once more, and then sees that one's run.
var errKeyTaken = errors.New("delivery or content key taken concurrently")

func (s *Store) accept(ctx context.Context, ev event.Event, enqueue func(ctx context.Context, tx *sql.Tx, runID int64) error) (event.Receipt, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return event.Receipt{}, fmt.Errorf("accept delivery %s: begin: %w", ev.DeliveryID, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit

	var runID int64
	err = tx.QueryRowContext(ctx, `SELECT id FROM runs WHERE delivery_id = ?`, ev.DeliveryID).Scan(&runID)
	switch {
	case err == nil:
		return event.Receipt{Run: runID, Duplicate: true}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return event.Receipt{}, fmt.Errorf("accept delivery %s: lookup: %w", ev.DeliveryID, err)
	}
	now := s.now()
	// A key accepted at or before this instant has expired.
	expired := now.Add(-s.replayWindow).UnixNano()
	if ev.ContentKey != "" {
		var (
			at    int64
			keyOf string // the delivery whose run holds the key
		)
		err = tx.QueryRowContext(ctx, `SELECT k.run_id, k.accepted_ns, COALESCE(r.delivery_id, '') FROM run_keys k LEFT JOIN runs r ON r.id = k.run_id
			WHERE k.content_key = ?`, ev.ContentKey).Scan(&runID, &at, &keyOf)
		switch {
		case err == nil && keyOf == ev.DeliveryID:
			// This very delivery, committed by another replica between the look-up by id above and this one
			// (each statement reads its own snapshot on PostgreSQL): a redelivery, not a replay.
			return event.Receipt{Run: runID, Duplicate: true}, nil
		case err == nil && at > expired:
			return event.Receipt{Run: runID, Duplicate: true, Replay: true}, nil
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return event.Receipt{}, fmt.Errorf("accept delivery %s: content key lookup: %w", ev.DeliveryID, err)
		}
	}
	enqueued := 0
	if enqueue != nil {
		enqueued = 1
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO runs
		(delivery_id, event, action, kind, repo, clone_url, sha, base_sha, ref, base_ref, pr, sender, comment,
		 author, fork, draft, comment_id, content_key, head_repo, default_branch, requested_by, request_envs,
		 status, enqueued, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (delivery_id) DO NOTHING RETURNING id`,
		ev.DeliveryID, ev.Name, ev.Action, ev.Kind, ev.Repo, ev.CloneURL, ev.SHA, ev.BaseSHA, ev.Ref, ev.BaseRef,
		ev.PR, ev.Sender, ev.Comment, ev.Author, boolInt(ev.Fork), boolInt(ev.Draft), ev.CommentID, ev.ContentKey, ev.HeadRepo, ev.DefaultBranch,
		ev.RequestedBy, jsonList(ev.Envs), StatusQueued, enqueued, now).Scan(&runID)
	if errors.Is(err, sql.ErrNoRows) {
		// Another writer (another replica) inserted this delivery after our look-up: it is a duplicate.
		return event.Receipt{}, errKeyTaken
	}
	if err != nil {
		return event.Receipt{}, fmt.Errorf("accept delivery %s: insert run: %w", ev.DeliveryID, err)
	}
	if ev.ContentKey != "" {
		// Claims the key when it is new or expired; touches nothing (0 rows) when a live
		// claim exists, which the look-up above rules out unless another writer got there
		// in between.
		res, err := tx.ExecContext(ctx, `INSERT INTO run_keys (content_key, run_id, accepted_ns) VALUES (?, ?, ?)
			ON CONFLICT (content_key) DO UPDATE SET run_id = excluded.run_id, accepted_ns = excluded.accepted_ns
			WHERE run_keys.accepted_ns <= ?`, ev.ContentKey, runID, now.UnixNano(), expired)
		if err != nil {
			return event.Receipt{}, fmt.Errorf("accept delivery %s: claim content key: %w", ev.DeliveryID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return event.Receipt{}, fmt.Errorf("accept delivery %s: claim content key: %w", ev.DeliveryID, err)
		} else if n == 0 {
			return event.Receipt{}, errKeyTaken
		}
	}
	if enqueue != nil {
		if err := enqueue(ctx, tx.Tx, runID); err != nil {
			return event.Receipt{}, fmt.Errorf("accept delivery %s: enqueue: %w", ev.DeliveryID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return event.Receipt{}, fmt.Errorf("accept delivery %s: commit: %w", ev.DeliveryID, err)
	}
	return event.Receipt{Run: runID}, nil
}

// DispatchRuns enqueues up to limit accepted runs that have no job yet, oldest
// first: each run's job is inserted and the run marked in one transaction, so a
// run gets exactly one job whatever crashes. It returns how many it enqueued.
func (s *Store) DispatchRuns(ctx context.Context, limit int, enqueue func(ctx context.Context, tx *sql.Tx, runID int64, kind string) error) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("dispatch runs: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck
	rows, err := tx.QueryContext(ctx, `SELECT id, kind FROM runs WHERE enqueued = 0 ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return 0, fmt.Errorf("dispatch runs: %w", err)
	}
	var ids []int64
	kinds := map[int64]string{}
	for rows.Next() {
		var (
			id   int64
			kind string
		)
		if err := rows.Scan(&id, &kind); err != nil {
			rows.Close()
			return 0, fmt.Errorf("dispatch runs: %w", err)
		}
		ids = append(ids, id)
		kinds[id] = kind
	}
	rows.Close()
	n := 0
	for _, id := range ids {
		// Claimed by a conditional write before its job is inserted: another replica's dispatcher that
		// read the same run waits here for this transaction and then finds it taken.
		res, err := tx.ExecContext(ctx, `UPDATE runs SET enqueued = 1 WHERE id = ? AND enqueued = 0`, id)
		if err != nil {
			return 0, fmt.Errorf("dispatch run %d: %w", id, err)
		}
		if claimed, err := res.RowsAffected(); err != nil {
			return 0, fmt.Errorf("dispatch run %d: %w", id, err)
		} else if claimed == 0 {
			continue
		}
		if err := enqueue(ctx, tx.Tx, id, kinds[id]); err != nil {
			return 0, fmt.Errorf("dispatch run %d: %w", id, err)
		}
		n++
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("dispatch runs: %w", err)
	}
	return n, nil
}

// Undispatched counts accepted runs still waiting for their job.
func (s *Store) Undispatched(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs WHERE enqueued = 0`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count undispatched runs: %w", err)
	}
	return n, nil
}

const runColumns = `id, delivery_id, event, action, kind, repo, clone_url, sha, base_sha, ref, base_ref, pr, sender, comment,
	author, fork, draft, comment_id, content_key, head_repo, default_branch, requested_by, request_envs,
	status, error, changed, environments, apps, attempts, redactions, created_at, started_at, finished_at`

func scanRun(sc interface{ Scan(...any) error }) (Run, error) {
	var (
		r                   Run
		changed, envs, apps string
		requestEnvs         string
		created             time.Time
		started, finished   sql.NullTime
		fork, draft         int64
	)
	err := sc.Scan(&r.ID, &r.Event.DeliveryID, &r.Event.Name, &r.Event.Action, &r.Event.Kind, &r.Event.Repo,
		&r.Event.CloneURL, &r.Event.SHA, &r.Event.BaseSHA, &r.Event.Ref, &r.Event.BaseRef, &r.Event.PR,
		&r.Event.Sender, &r.Event.Comment, &r.Event.Author, &fork, &draft, &r.Event.CommentID,
		&r.Event.ContentKey, &r.Event.HeadRepo, &r.Event.DefaultBranch, &r.Event.RequestedBy, &requestEnvs, &r.Status, &r.Error, &changed, &envs, &apps, &r.Attempts, &r.Redactions,
		&created, &started, &finished)
	if err != nil {
		return Run{}, err
	}
	r.Created, r.Started, r.Finished = created.UTC(), timeOf(started), timeOf(finished)
	r.Event.Fork, r.Event.Draft = fork != 0, draft != 0
	if err := json.Unmarshal([]byte(requestEnvs), &r.Event.Envs); err != nil {
		return Run{}, fmt.Errorf("decode run %d: %w", r.ID, err)
	}
	if len(r.Event.Envs) == 0 {
		r.Event.Envs = nil
	}
	for _, f := range []struct {
		src string
		dst *[]string
	}{{changed, &r.Changed}, {envs, &r.Environments}, {apps, &r.Apps}} {
		if err := json.Unmarshal([]byte(f.src), f.dst); err != nil {
			return Run{}, fmt.Errorf("decode run %d: %w", r.ID, err)
		}
		if *f.dst == nil {
			*f.dst = []string{}
		}
	}
	return r, nil
}

// Run returns one run with its stages (and each stage's last tailLines log lines).
func (s *Store) Run(ctx context.Context, id int64, tailLines int) (Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("read run %d: %w", id, err)
	}
	if r.Stages, err = s.Stages(ctx, id, tailLines); err != nil {
		return Run{}, err
	}
	return r, nil
}

// ListFilter narrows ListRuns.
type ListFilter struct {
	Repo   string
	PR     int // runs of one pull request (0: any)
	Status string
	Env    string // runs with a stage of this environment
	Kind   string // event kind: deploy, plan, comment, ...
	Limit  int
	Before int64 // runs with id < Before (pagination); 0 = newest
}

// ListRuns returns runs newest first, with their stages (no log tails).
func (s *Store) ListRuns(ctx context.Context, f ListFilter) ([]Run, error) {
	switch {
	case f.Limit <= 0:
		f.Limit = 50
	case f.Limit > 200:
		f.Limit = 200
	}
	q := `SELECT ` + runColumns + ` FROM runs WHERE 1=1`
	var args []any
	if f.Repo != "" {
		q += ` AND repo = ?`
		args = append(args, f.Repo)
	}
	if f.PR != 0 {
		q += ` AND pr = ?`
		args = append(args, f.PR)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	if f.Env != "" {
		q += ` AND EXISTS (SELECT 1 FROM stages WHERE stages.run_id = runs.id AND stages.env = ?)`
		args = append(args, f.Env)
	}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, f.Kind)
	}
	if f.Before > 0 {
		q += ` AND id < ?`
		args = append(args, f.Before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var runs []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list runs: %w", err)
		}
		runs = append(runs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	for i := range runs {
		if runs[i].Stages, err = s.Stages(ctx, runs[i].ID, 0); err != nil {
			return nil, err
		}
	}
	return runs, nil
}

// StartRun marks a run running and counts the attempt. It returns the run as stored.
func (s *Store) StartRun(ctx context.Context, id int64) (Run, error) {
	_, err := s.db.ExecContext(ctx, `UPDATE runs SET status = ?, attempts = attempts + 1,
		started_at = COALESCE(started_at, ?) WHERE id = ? AND status IN (?, ?)`,
		StatusRunning, s.now(), id, StatusQueued, StatusRunning)
	if err != nil {
		return Run{}, fmt.Errorf("start run %d: %w", id, err)
	}
	return s.Run(ctx, id, 0)
}

// SetRunScope records what the run found to do: changed files, environments, apps.
func (s *Store) SetRunScope(ctx context.Context, id int64, changed, envs, apps []string) error {
	enc := func(v []string) string {
		if v == nil {
			v = []string{}
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	_, err := s.db.ExecContext(ctx, `UPDATE runs SET changed = ?, environments = ?, apps = ? WHERE id = ?`,
		enc(changed), enc(envs), enc(apps), id)
	if err != nil {
		return fmt.Errorf("record scope of run %d: %w", id, err)
	}
	return nil
}

// FinishRun records a run's final status. A run already finished keeps its first outcome.
func (s *Store) FinishRun(ctx context.Context, id int64, status, errText string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE runs SET status = ?, error = ?, finished_at = ?
		WHERE id = ? AND finished_at IS NULL`, status, errText, s.now(), id)
	if err != nil {
		return fmt.Errorf("finish run %d: %w", id, err)
	}
	// A finished run applies nothing more: its saved plans go (a rollback plans afresh).
	if _, err := s.db.ExecContext(ctx, `DELETE FROM saved_plans WHERE run_id = ?`, id); err != nil {
		return fmt.Errorf("finish run %d: forget its saved plans: %w", id, err)
	}
	return nil
}

// AddRedactions adds to a run's count of redacted credentials (each attempt adds its own).
func (s *Store) AddRedactions(ctx context.Context, id int64, n int) error {
	if n == 0 {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE runs SET redactions = redactions + ? WHERE id = ?`, n, id); err != nil {
		return fmt.Errorf("count redactions of run %d: %w", id, err)
	}
	return nil
}

// CountRuns returns how many runs exist (all statuses), for tests and metrics.
func (s *Store) CountRuns(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count runs: %w", err)
	}
	return n, nil
}

// jsonList encodes a list for a JSON column ("[]" for none).
func jsonList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, err := json.Marshal(l)
	if err != nil { // strings: cannot happen
		return "[]"
	}
	return string(b)
}

// RunStory is what the run's story saved (JSON), "" when nothing.
func (s *Store) RunStory(ctx context.Context, id int64) (string, error) {
	var story string
	err := s.db.QueryRowContext(ctx, `SELECT story FROM runs WHERE id = ?`, id).Scan(&story)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("read the story of run %d: %w", id, err)
	}
	return story, nil
}

// SetRunStory saves what the run's story posted.
func (s *Store) SetRunStory(ctx context.Context, id int64, story string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE runs SET story = ? WHERE id = ?`, story, id); err != nil {
		return fmt.Errorf("save the story of run %d: %w", id, err)
	}
	return nil
}

// boolInt stores a flag in an INTEGER column, as both dialects read it.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
