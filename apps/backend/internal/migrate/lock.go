package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// LockID is the key of the session-level advisory lock that `backend migrate`
// holds while it migrates ("backend" in ASCII). Anything else that must not
// run during a migration can take it too.
const LockID int64 = 0x6261636b656e64

// advisoryLock is goose's SessionLocker: pg_advisory_lock on the
// connection goose migrates with, waiting at most timeout (lock_timeout
// applies to advisory locks), so a second migrator waits for the first one
// and then finds nothing left to do, or gives up with ErrLocked.
type advisoryLock struct {
	id      int64
	timeout time.Duration
}

// lockNotAvailable is SQLSTATE 55P03, raised when lock_timeout expires.
const lockNotAvailable = "55P03"

func (l advisoryLock) SessionLock(ctx context.Context, conn *sql.Conn) error {
	ms := max(l.timeout.Milliseconds(), 1)
	if _, err := conn.ExecContext(ctx, "SELECT set_config('lock_timeout', $1, false)", fmt.Sprintf("%dms", ms)); err != nil {
		return fmt.Errorf("set lock_timeout: %w", err)
	}
	_, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", l.id)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == lockNotAvailable {
		return fmt.Errorf("%w: gave up after %s", ErrLocked, l.timeout)
	}
	if err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	// The migrations set their own lock_timeout where they need one.
	if _, err := conn.ExecContext(ctx, "RESET lock_timeout"); err != nil {
		return fmt.Errorf("reset lock_timeout: %w", err)
	}
	return nil
}

func (l advisoryLock) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	var released bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", l.id).Scan(&released); err != nil {
		return fmt.Errorf("release migration lock: %w", err)
	}
	if !released {
		return errors.New("release migration lock: it was not held")
	}
	return nil
}
