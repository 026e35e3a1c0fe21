package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrLockLost is returned when renewing or releasing a lock the caller no longer holds.
var ErrLockLost = errors.New("environment lock no longer held")

// Lock is the holder of one (repository, environment) lock. The holder renews the
// lease while it works; a lease that ran out belongs to nobody.
type Lock struct {
	Repo     string    `json:"repo"`
	Env      string    `json:"env"`
	Holder   string    `json:"holder"`
	RunID    int64     `json:"run_id"`
	Acquired time.Time `json:"acquired_at"`
	Expires  time.Time `json:"expires_at"`
}

// TryLock takes the lock for holder when it is free, expired or already holder's.
// When someone else holds it, acquired is false and current says who.
//
// It never reads and then writes: an expired lease is claimed by a DELETE ... RETURNING (one writer gets
// it, to record in the history), and the lock by one INSERT ... ON CONFLICT DO UPDATE that only updates
// holder's own row. So two replicas on PostgreSQL under READ COMMITTED never both get it.
func (s *Store) TryLock(ctx context.Context, repo, env, holder string, runID int64, lease time.Duration) (acquired bool, current Lock, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, Lock{}, fmt.Errorf("lock %s/%s: %w", repo, env, err)
	}
	defer tx.Rollback() //nolint:errcheck
	now := s.now()
	var old Lock
	err = tx.QueryRowContext(ctx, `DELETE FROM env_locks WHERE repo = ? AND env = ? AND holder <> ? AND expires_ns < ?
		RETURNING repo, env, holder, run_id, acquired_at, expires_at`, repo, env, holder, now.UnixNano()).
		Scan(&old.Repo, &old.Env, &old.Holder, &old.RunID, &old.Acquired, &old.Expires)
	switch {
	case err == nil:
		if err := recordHistory(ctx, tx, old, now, "lease expired"); err != nil {
			return false, Lock{}, err
		}
	case !errors.Is(err, sql.ErrNoRows):
		return false, Lock{}, fmt.Errorf("lock %s/%s: expired lease: %w", repo, env, err)
	}
	l := Lock{Repo: repo, Env: env, Holder: holder, RunID: runID, Acquired: now, Expires: now.Add(lease)}
	err = tx.QueryRowContext(ctx, `INSERT INTO env_locks (repo, env, holder, run_id, acquired_at, expires_at, expires_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (repo, env) DO UPDATE SET run_id = excluded.run_id, expires_at = excluded.expires_at,
		expires_ns = excluded.expires_ns WHERE env_locks.holder = excluded.holder
		RETURNING acquired_at`, repo, env, holder, runID, l.Acquired, l.Expires, l.Expires.UnixNano()).Scan(&l.Acquired)
	if errors.Is(err, sql.ErrNoRows) {
		cur, err := readLock(ctx, tx, repo, env)
		if err != nil {
			return false, Lock{}, err
		}
		return false, cur, tx.Commit()
	}
	if err != nil {
		return false, Lock{}, fmt.Errorf("lock %s/%s: %w", repo, env, err)
	}
	if err := tx.Commit(); err != nil {
		return false, Lock{}, fmt.Errorf("lock %s/%s: %w", repo, env, err)
	}
	l.Acquired = l.Acquired.UTC()
	return true, l, nil
}

// RenewLock extends holder's lease. ErrLockLost when the lock expired and went to another.
func (s *Store) RenewLock(ctx context.Context, repo, env, holder string, lease time.Duration) error {
	until := s.now().Add(lease)
	res, err := s.db.ExecContext(ctx, `UPDATE env_locks SET expires_at = ?, expires_ns = ? WHERE repo = ? AND env = ? AND holder = ?`,
		until, until.UnixNano(), repo, env, holder)
	if err != nil {
		return fmt.Errorf("renew lock %s/%s: %w", repo, env, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("renew lock %s/%s: %w", repo, env, ErrLockLost)
	}
	return nil
}

// ReleaseLock gives the lock up if holder still has it. holder "" releases whoever holds it
// (an operator's `runner unlock`); reason is kept in the lock history.
func (s *Store) ReleaseLock(ctx context.Context, repo, env, holder, reason string) (Lock, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Lock{}, fmt.Errorf("release lock %s/%s: %w", repo, env, err)
	}
	defer tx.Rollback() //nolint:errcheck
	var l Lock
	err = tx.QueryRowContext(ctx, `DELETE FROM env_locks WHERE repo = ? AND env = ? AND (holder = ? OR ? = '')
		RETURNING repo, env, holder, run_id, acquired_at, expires_at`, repo, env, holder, holder).
		Scan(&l.Repo, &l.Env, &l.Holder, &l.RunID, &l.Acquired, &l.Expires)
	if errors.Is(err, sql.ErrNoRows) {
		cur, rerr := readLock(ctx, tx, repo, env)
		if rerr != nil {
			return Lock{}, fmt.Errorf("release lock %s/%s: %w", repo, env, rerr)
		}
		return cur, fmt.Errorf("release lock %s/%s: %w", repo, env, ErrLockLost)
	}
	if err != nil {
		return Lock{}, fmt.Errorf("release lock %s/%s: %w", repo, env, err)
	}
	l.Acquired, l.Expires = l.Acquired.UTC(), l.Expires.UTC()
	if err := recordHistory(ctx, tx, l, s.now(), reason); err != nil {
		return Lock{}, err
	}
	return l, tx.Commit()
}

// ReleaseAllLocks drops every lock (used at start-up by a process that owns the
// database exclusively: any lock then belongs to a previous, dead process).
func (s *Store) ReleaseAllLocks(ctx context.Context, reason string) ([]Lock, error) {
	locks, err := s.Locks(ctx)
	if err != nil {
		return nil, err
	}
	for _, l := range locks {
		if _, err := s.ReleaseLock(ctx, l.Repo, l.Env, l.Holder, reason); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrLockLost) {
			return nil, err
		}
	}
	return locks, nil
}

// Locks lists the locks currently held (expired leases included, marked by Expires).
func (s *Store) Locks(ctx context.Context) ([]Lock, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT repo, env, holder, run_id, acquired_at, expires_at FROM env_locks ORDER BY repo, env`)
	if err != nil {
		return nil, fmt.Errorf("list locks: %w", err)
	}
	defer rows.Close()
	out := []Lock{}
	for rows.Next() {
		var l Lock
		if err := rows.Scan(&l.Repo, &l.Env, &l.Holder, &l.RunID, &l.Acquired, &l.Expires); err != nil {
			return nil, fmt.Errorf("list locks: %w", err)
		}
		l.Acquired, l.Expires = l.Acquired.UTC(), l.Expires.UTC()
		out = append(out, l)
	}
	return out, rows.Err()
}

// LockSpan is one past holding of a lock, for audits and tests of serialisation.
type LockSpan struct {
	Env      string    `json:"env"`
	RunID    int64     `json:"run_id"`
	Acquired time.Time `json:"acquired_at"`
	Released time.Time `json:"released_at"`
	Reason   string    `json:"reason"`
}

// LockHistory returns past holdings of a repository's locks, oldest first.
func (s *Store) LockHistory(ctx context.Context, repo string) ([]LockSpan, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT env, run_id, acquired_at, released_at, reason FROM lock_history
		WHERE repo = ? ORDER BY id`, repo)
	if err != nil {
		return nil, fmt.Errorf("read lock history: %w", err)
	}
	defer rows.Close()
	var out []LockSpan
	for rows.Next() {
		var l LockSpan
		if err := rows.Scan(&l.Env, &l.RunID, &l.Acquired, &l.Released, &l.Reason); err != nil {
			return nil, fmt.Errorf("read lock history: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func readLock(ctx context.Context, tx txn, repo, env string) (Lock, error) {
	var l Lock
	err := tx.QueryRowContext(ctx, `SELECT repo, env, holder, run_id, acquired_at, expires_at FROM env_locks
		WHERE repo = ? AND env = ?`, repo, env).Scan(&l.Repo, &l.Env, &l.Holder, &l.RunID, &l.Acquired, &l.Expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Lock{}, fmt.Errorf("lock %s/%s: %w", repo, env, ErrNotFound)
	}
	if err != nil {
		return Lock{}, fmt.Errorf("read lock %s/%s: %w", repo, env, err)
	}
	l.Acquired, l.Expires = l.Acquired.UTC(), l.Expires.UTC()
	return l, nil
}

func recordHistory(ctx context.Context, tx txn, l Lock, now time.Time, reason string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO lock_history (repo, env, run_id, holder, acquired_at, released_at, reason)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, l.Repo, l.Env, l.RunID, l.Holder, l.Acquired, now, reason)
	if err != nil {
		return fmt.Errorf("record lock history %s/%s: %w", l.Repo, l.Env, err)
	}
	return nil
}
