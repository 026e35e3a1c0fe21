package database

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gitops-runner/runner/apps/backend/internal/config"
)

// ErrCredentialsRejected is the database refusing this process's password: on RDS, the managed master
// secret was rotated (every 7 days by default) after ECS gave the task the old one.
var ErrCredentialsRejected = errors.New("the database rejects this task's credentials (the secret was rotated?)")

// rejected reports whether err is PostgreSQL refusing the password or the role.
func rejected(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000")
}

// WatchCredentials opens a fresh connection every interval (pooled ones outlive a password change, new
// ones do not) and returns ErrCredentialsRejected once the database refuses the credentials, or nil when
// ctx ends. Other failures (the database down, a failover) are not its business: the readiness check
// reports them. The caller stops the process, and ECS starts a task that reads the current secret.
func WatchCredentials(ctx context.Context, cfg config.DB, interval time.Duration) error {
	cc, err := pgx.ParseConfig(cfg.ConnString())
	if err != nil {
		return Scrub(cfg, parseError(err))
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
		conn, err := pgx.ConnectConfig(cctx, cc)
		cancel()
		if err == nil {
			_ = conn.Close(context.WithoutCancel(ctx))
			continue
		}
		if rejected(err) {
			return fmt.Errorf("%w: %v", ErrCredentialsRejected, Scrub(cfg, err))
		}
	}
}
