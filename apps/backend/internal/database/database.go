// Package database opens the backend's PostgreSQL connections from
// config.DB: the server's pgx pool and the database/sql handle migrations use.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/gitops-runner/runner/apps/backend/internal/config"
)

// OpenPool returns a pool for cfg. It connects lazily: a database that is
// down does not stop the server from starting (its readiness check says
// so instead). tracer, when not nil, traces every query.
func OpenPool(ctx context.Context, cfg config.DB, tracer pgx.QueryTracer) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.ConnString())
	if err != nil {
		return nil, Scrub(cfg, parseError(err))
	}
	pc.MaxConns = cfg.MaxConns
	// Connections are replaced now and then, so that after an RDS failover
	// the pool reconnects to the new primary by DNS name.
	pc.MaxConnIdleTime = 5 * time.Minute
	pc.MaxConnLifetime = 30 * time.Minute
	pc.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, Scrub(cfg, err)
	}
	return pool, nil
}

// OpenSQL returns a database/sql handle for cfg, for goose.
func OpenSQL(cfg config.DB) (*sql.DB, error) {
	cc, err := pgx.ParseConfig(cfg.ConnString())
	if err != nil {
		return nil, Scrub(cfg, parseError(err))
	}
	db := stdlib.OpenDB(*cc)
	db.SetMaxOpenConns(4)
	return db, nil
}

// parseError drops the connection string from pgx's parse errors (pgx
// redacts passwords there on a best-effort basis only) and keeps the cause.
func parseError(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		if cause := pe.Unwrap(); cause != nil {
			return fmt.Errorf("database settings do not parse: %w", cause)
		}
		return errors.New("database settings do not parse (the connection string is not shown: it holds the password)")
	}
	return err
}

// Scrub returns err with every occurrence of cfg's password, plain or
// URL-escaped, replaced, for errors that are about to be logged or printed.
// It keeps nothing of err's chain when it has to replace something.
func Scrub(cfg config.DB, err error) error {
	pw := cfg.Password.Reveal()
	if err == nil || pw == "" {
		return err
	}
	msg := err.Error()
	clean := msg
	for _, form := range []string{pw, url.QueryEscape(pw), url.PathEscape(pw)} {
		clean = strings.ReplaceAll(clean, form, "[redacted]")
	}
	if clean == msg {
		return err
	}
	return errors.New(clean)
}
