package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrCredentialsRejected is PostgreSQL refusing this process's password or role: on RDS, the managed
// master secret was rotated (every 7 days by default) after ECS gave the task the old one.
var ErrCredentialsRejected = errors.New("the database rejects this process's credentials (was the secret rotated?)")

// credentialsRejected reports whether err is PostgreSQL refusing the password (28P01) or the role (28000).
func credentialsRejected(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000")
}

// WatchCredentials opens a fresh connection every interval (the pools' open connections outlive a
// password change, new ones do not) and returns ErrCredentialsRejected once PostgreSQL refuses the
// credentials, or nil when ctx ends. Other failures (the database down, a failover) are not its business:
// /readyz reports them, and the pools reconnect. The caller stops the process, so that a new one reads
// the current secret. On SQLite there is nothing to watch: it waits for ctx.
func (s *Store) WatchCredentials(ctx context.Context, interval time.Duration) error {
	if s.pgcfg == nil || interval <= 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := pgx.ConnectConfig(cctx, s.pgcfg.Copy())
		cancel()
		if err == nil {
			_ = c.Close(context.WithoutCancel(ctx))
			continue
		}
		if credentialsRejected(err) {
			// pgx's errors name the user and host, never the password.
			return fmt.Errorf("%w: %v", ErrCredentialsRejected, err)
		}
	}
}
