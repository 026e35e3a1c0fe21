// Package store keeps runs, stages, stage logs, environment locks and deployed
// versions in one SQL database, the same one the durable queue uses.
//
// SQLite (pure Go, modernc.org/sqlite) is the default; PostgreSQL (pgx) serves several replicas. The SQL
// is kept to what both share; a dialect rewrites placeholders and column types (dialect.go).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// ErrNotFound is returned when a run, stage or lock does not exist.
var ErrNotFound = errors.New("not found")

// Run statuses.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	StatusNothing   = "nothing_to_do"
)

// Stage statuses.
const (
	StagePending   = "pending"
	StageWaiting   = "waiting"
	StageRunning   = "running"
	StageSucceeded = "succeeded"
	StageFailed    = "failed"
	StageSkipped   = "skipped"
	StageCancelled = "cancelled"
)

// Store is the SQL-backed store. Its methods are safe for concurrent use.
type Store struct {
	db           conn
	listen       *pgxpool.Pool   // PostgreSQL: the queue's LISTEN connection
	pgcfg        *pgx.ConnConfig // PostgreSQL: how a fresh connection is made (WatchCredentials)
	now          func() time.Time
	replayWindow time.Duration
}

// DefaultReplayWindow is how long a delivery's content key keeps a second delivery of the same
// content from starting a run. The key carries GitHub's own timestamp of the event
// (repository.pushed_at, pull_request.updated_at) or a unique id (the comment's), so two
// legitimate events practically never share one: the window does not trade missed events
// against replays, it only bounds how long a captured signed body stays harmless, at the cost
// of one small row per run. A week outlasts GitHub's 3-day redelivery horizon comfortably.
const DefaultReplayWindow = 7 * 24 * time.Hour

// Option tunes a store at open.
type Option func(*Store)

// WithReplayWindow sets how long a content key is remembered (DefaultReplayWindow when d <= 0).
func WithReplayWindow(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.replayWindow = d
		}
	}
}

// OpenSQLite opens (creating when needed) the database file runner.db in dir.
// SQLite allows one writer at a time; the pool is limited to one connection,
// as River's SQLite driver recommends, so nothing ever sees SQLITE_BUSY.
func OpenSQLite(ctx context.Context, dir string, opts ...Option) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dir, "runner.db")
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	s := &Store{db: conn{db: db, d: dialectSQLite}, now: func() time.Time { return time.Now().UTC() }, replayWindow: DefaultReplayWindow}
	for _, o := range opts {
		o(s)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// PostgresOptions tune the PostgreSQL pool.
type PostgresOptions struct {
	MaxConns int // open connections at most; default 10
	// StatementTimeout bounds every statement of the pool's sessions (PostgreSQL's statement_timeout), so that
	// a stuck query cannot hold a worker, a lock row or a webhook's answer for ever. 0 means
	// DefaultStatementTimeout; negative means none. A statement_timeout given in the URL's options wins.
	// Migrations lift it for their own transaction (they may wait for another replica's).
	StatementTimeout time.Duration
}

// DefaultStatementTimeout is PostgresOptions.StatementTimeout's default.
const DefaultStatementTimeout = 30 * time.Second

// OpenPostgres opens a PostgreSQL database (a postgres:// URL) through pgx, and migrates it under an
// advisory lock, so that replicas starting at once migrate one after another. Besides the database/sql pool
// of the store (and of the queue's transactions), it keeps a small pgx pool from which the queue takes its
// LISTEN connection (ListenPool).
func OpenPostgres(ctx context.Context, url string, po PostgresOptions, opts ...Option) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL: %w", err) // pgx leaves the password out of its errors
	}
	if po.MaxConns <= 0 {
		po.MaxConns = 10
	}
	if po.StatementTimeout == 0 {
		po.StatementTimeout = DefaultStatementTimeout
	}
	_, set := cfg.RuntimeParams["statement_timeout"]                                 // ?statement_timeout=...
	set = set || strings.Contains(cfg.RuntimeParams["options"], "statement_timeout") // ?options=-c statement_timeout=...
	if !set && po.StatementTimeout > 0 {
		cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(po.StatementTimeout.Milliseconds(), 10)
	}
	listenCfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	listenCfg.ConnConfig = cfg.Copy()
	// River hijacks its listener connection from this pool: one is enough, and none is opened until then.
	listenCfg.MaxConns, listenCfg.MinConns = 1, 0
	listen, err := pgxpool.NewWithConfig(ctx, listenCfg)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(po.MaxConns)
	db.SetMaxIdleConns(po.MaxConns)
	s := &Store{db: conn{db: db, d: dialectPostgres}, listen: listen, pgcfg: cfg.Copy(), now: func() time.Time { return time.Now().UTC() },
		replayWindow: DefaultReplayWindow}
	for _, o := range opts {
		o(s)
	}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// ListenPool is the pgx pool the queue takes its LISTEN connection from (nil on SQLite).
func (s *Store) ListenPool() *pgxpool.Pool { return s.listen }

// Dialect names the database the store speaks: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.db.d.String() }

// DB returns the underlying pool, for the queue driver that shares it.
func (s *Store) DB() *sql.DB { return s.db.db }

// Close closes the database.
func (s *Store) Close() error {
	if s.listen != nil {
		s.listen.Close()
	}
	return s.db.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

var schema = []string{
	`CREATE TABLE IF NOT EXISTS runs (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		delivery_id TEXT NOT NULL UNIQUE,
		event TEXT NOT NULL,
		action TEXT NOT NULL DEFAULT '',
		kind TEXT NOT NULL,
		repo TEXT NOT NULL,
		clone_url TEXT NOT NULL DEFAULT '',
		sha TEXT NOT NULL DEFAULT '',
		base_sha TEXT NOT NULL DEFAULT '',
		ref TEXT NOT NULL DEFAULT '',
		base_ref TEXT NOT NULL DEFAULT '',
		pr INTEGER NOT NULL DEFAULT 0,
		sender TEXT NOT NULL DEFAULT '',
		comment TEXT NOT NULL DEFAULT '',
		status TEXT NOT NULL,
		error TEXT NOT NULL DEFAULT '',
		changed TEXT NOT NULL DEFAULT '[]',
		environments TEXT NOT NULL DEFAULT '[]',
		apps TEXT NOT NULL DEFAULT '[]',
		attempts INTEGER NOT NULL DEFAULT 0,
		enqueued INTEGER NOT NULL DEFAULT 0,
		created_at TIMESTAMP NOT NULL,
		started_at TIMESTAMP,
		finished_at TIMESTAMP
	)`,
	`CREATE INDEX IF NOT EXISTS runs_repo_created ON runs (repo, created_at)`,
	`CREATE INDEX IF NOT EXISTS runs_to_enqueue ON runs (enqueued) WHERE enqueued = 0`,
	`CREATE TABLE IF NOT EXISTS stages (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		run_id INTEGER NOT NULL REFERENCES runs(id),
		seq INTEGER NOT NULL,
		env TEXT NOT NULL DEFAULT '',
		name TEXT NOT NULL,
		status TEXT NOT NULL,
		detail TEXT NOT NULL DEFAULT '',
		waiting_for TEXT NOT NULL DEFAULT '',
		output TEXT NOT NULL DEFAULT '{}',
		attempts INTEGER NOT NULL DEFAULT 0,
		started_at TIMESTAMP,
		finished_at TIMESTAMP,
		UNIQUE (run_id, env, name)
	)`,
	`CREATE TABLE IF NOT EXISTS stage_logs (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		stage_id INTEGER NOT NULL REFERENCES stages(id),
		at TIMESTAMP NOT NULL,
		line TEXT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS stage_logs_stage ON stage_logs (stage_id, id)`,
	`CREATE TABLE IF NOT EXISTS env_locks (
		repo TEXT NOT NULL,
		env TEXT NOT NULL,
		holder TEXT NOT NULL,
		run_id INTEGER NOT NULL,
		acquired_at TIMESTAMP NOT NULL,
		expires_at TIMESTAMP NOT NULL,
		PRIMARY KEY (repo, env)
	)`,
	`CREATE TABLE IF NOT EXISTS lock_history (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		repo TEXT NOT NULL,
		env TEXT NOT NULL,
		run_id INTEGER NOT NULL,
		holder TEXT NOT NULL,
		acquired_at TIMESTAMP NOT NULL,
		released_at TIMESTAMP NOT NULL,
		reason TEXT NOT NULL DEFAULT ''
	)`,
	`CREATE TABLE IF NOT EXISTS deployments (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		repo TEXT NOT NULL,
		env TEXT NOT NULL,
		sha TEXT NOT NULL,
		run_id INTEGER NOT NULL,
		outcome TEXT NOT NULL,
		summary TEXT NOT NULL DEFAULT '',
		backend_image TEXT NOT NULL DEFAULT '',
		frontend_version TEXT NOT NULL DEFAULT '',
		at TIMESTAMP NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS deployments_env ON deployments (repo, env, id)`,
}

// migrations change what schema created, for databases of every earlier version: each runs once,
// in order, recorded in schema_migrations. Append only; never edit one that shipped.
var migrations = []string{
	// Versions 1-6: what a trigger policy needs, and the content keys of replay detection.
	`ALTER TABLE runs ADD COLUMN author TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE runs ADD COLUMN fork INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE runs ADD COLUMN draft INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE runs ADD COLUMN comment_id INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE runs ADD COLUMN content_key TEXT NOT NULL DEFAULT ''`,
	// The first run of each content key, and when it was accepted (Unix nanoseconds, so that the
	// window check is an integer comparison on any SQL database).
	`CREATE TABLE run_keys (
		content_key TEXT PRIMARY KEY,
		run_id INTEGER NOT NULL,
		accepted_ns INTEGER NOT NULL
	)`,
	// Versions 8-9: a pull request's head repository, and the repository's default branch (whose
	// .runner.yaml decides what deploys).
	`ALTER TABLE runs ADD COLUMN head_repo TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE runs ADD COLUMN default_branch TEXT NOT NULL DEFAULT ''`,
	// Version 10: how many credentials the run's output had redacted.
	`ALTER TABLE runs ADD COLUMN redactions INTEGER NOT NULL DEFAULT 0`,
	// Versions 11-14: runs people ask for, approvals, and what a deployment's record says besides its plan.
	`ALTER TABLE runs ADD COLUMN requested_by TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE runs ADD COLUMN request_envs TEXT NOT NULL DEFAULT '[]'`,
	`CREATE TABLE approvals (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		run_id INTEGER NOT NULL REFERENCES runs(id),
		repo TEXT NOT NULL,
		env TEXT NOT NULL,
		pr INTEGER NOT NULL DEFAULT 0,
		sha TEXT NOT NULL DEFAULT '',
		ref TEXT NOT NULL DEFAULT '',
		author TEXT NOT NULL DEFAULT '',
		state TEXT NOT NULL,
		why TEXT NOT NULL DEFAULT '',
		summary TEXT NOT NULL DEFAULT '',
		plan_sha256 TEXT NOT NULL DEFAULT '',
		base_deployment INTEGER NOT NULL DEFAULT 0,
		requested_at TIMESTAMP NOT NULL,
		expires_at TIMESTAMP NOT NULL,
		decided_by TEXT NOT NULL DEFAULT '',
		channel TEXT NOT NULL DEFAULT '',
		reason TEXT NOT NULL DEFAULT '',
		decided_at TIMESTAMP
	)`,
	`ALTER TABLE deployments ADD COLUMN note TEXT NOT NULL DEFAULT ''`,
	// Version 15: what a run's story posted (Slack messages, GitHub deployments), for its next execution.
	`ALTER TABLE runs ADD COLUMN story TEXT NOT NULL DEFAULT ''`,
	// Version 16: policy check failures a person let through, per pull request and environment.
	`CREATE TABLE policy_overrides (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		repo TEXT NOT NULL,
		pr INTEGER NOT NULL,
		env TEXT NOT NULL,
		sha TEXT NOT NULL,
		failures TEXT NOT NULL DEFAULT '[]',
		by_login TEXT NOT NULL,
		channel TEXT NOT NULL DEFAULT '',
		reason TEXT NOT NULL DEFAULT '',
		created_at TIMESTAMP NOT NULL
	)`,
	// Version 17: lease ends as Unix nanoseconds, compared in conditional writes (timestamps compare as
	// text in SQLite). A lease of a database from before reads as expired; a SQLite process releases every
	// lock at start anyway.
	`ALTER TABLE env_locks ADD COLUMN expires_ns INTEGER NOT NULL DEFAULT 0`,
	// Version 18: the replicas working one database, with their heartbeats (PostgreSQL).
	`CREATE TABLE replicas (
		id TEXT PRIMARY KEY,
		heartbeat_ns INTEGER NOT NULL,
		started_at TIMESTAMP NOT NULL
	)`,
	// Version 19: a run's saved plans, sealed, so that the replica that applies an approved plan need not be
	// the one that made it. Kept until the run finishes.
	`CREATE TABLE saved_plans (
		run_id INTEGER NOT NULL,
		env TEXT NOT NULL,
		name TEXT NOT NULL,
		sealed BLOB NOT NULL,
		PRIMARY KEY (run_id, env, name)
	)`,
	// Versions 20-21: each attempt of a stage, recorded before its commands start: the identity its
	// Terraform's state locks carry, where its process groups are recorded, and on which host and boot;
	// ended when the attempt ends in any way, so that one left open was cut short by a dead runner.
	`CREATE TABLE stage_attempts (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		stage_id INTEGER NOT NULL REFERENCES stages(id),
		run_id INTEGER NOT NULL,
		attempt INTEGER NOT NULL,
		identity TEXT NOT NULL,
		mode TEXT NOT NULL DEFAULT '',
		replica TEXT NOT NULL DEFAULT '',
		host TEXT NOT NULL DEFAULT '',
		boot_id TEXT NOT NULL DEFAULT '',
		records TEXT NOT NULL DEFAULT '',
		started_at TIMESTAMP NOT NULL,
		ended_at TIMESTAMP,
		released_locks TEXT NOT NULL DEFAULT '',
		UNIQUE (stage_id, attempt)
	)`,
	`CREATE INDEX stage_attempts_run ON stage_attempts (run_id, ended_at)`,
	// Versions 22-23: drift checks of environments (their deployed commit planned read-only).
	`CREATE TABLE drift_checks (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		repo TEXT NOT NULL,
		env TEXT NOT NULL,
		sha TEXT NOT NULL,
		run_id INTEGER NOT NULL,
		drifted INTEGER NOT NULL,
		fingerprint TEXT NOT NULL DEFAULT '',
		report TEXT NOT NULL DEFAULT '',
		at TIMESTAMP NOT NULL
	)`,
	`CREATE INDEX drift_checks_env ON drift_checks (repo, env, id)`,
}

// migrationLock is the PostgreSQL advisory lock key under which a replica migrates.
const migrationLock = 0x72756e6e6572 // "runner"

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	if s.db.d == dialectPostgres {
		// DDL is transactional in PostgreSQL: the whole migration is one transaction, one replica at a time.
		// Another replica may be migrating: wait for it whatever the pool's statement timeout.
		if _, err := tx.ExecContext(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
			return fmt.Errorf("migrate store: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, migrationLock); err != nil {
			return fmt.Errorf("migrate store: advisory lock: %w", err)
		}
	}
	for _, stmt := range schema {
		if _, err := tx.ExecContext(ctx, s.db.d.ddl(stmt)); err != nil {
			return fmt.Errorf("migrate store: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}
	var done int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&done); err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}
	if done > len(migrations) {
		return fmt.Errorf("migrate store: the database is at version %d, newer than this runner (%d)", done, len(migrations))
	}
	for i := done; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, s.db.d.ddl(migrations[i])); err != nil {
			return fmt.Errorf("migrate store to version %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, i+1); err != nil {
			return fmt.Errorf("migrate store to version %d: %w", i+1, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}
	return nil
}

// nullTime turns a zero time into SQL NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func timeOf(n sql.NullTime) time.Time {
	if n.Valid {
		return n.Time.UTC()
	}
	return time.Time{}
}
