package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// DriftCheck is one check of an environment for drift: its deployed commit planned read-only, and what the
// plan found changed outside Terraform or differing from the code.
type DriftCheck struct {
	ID      int64  `json:"id"`
	Repo    string `json:"repo"`
	Env     string `json:"env"`
	SHA     string `json:"sha"` // the deployed commit checked
	RunID   int64  `json:"run_id"`
	Drifted bool   `json:"drifted"`
	// Fingerprint identifies what drifted (the same drift found again has the same one); "" without drift.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Report is the drift as JSON (see internal/pipeline's drift check), sensitive values masked.
	Report string    `json:"report,omitempty"`
	At     time.Time `json:"at"`
}

const driftColumns = `id, repo, env, sha, run_id, drifted, fingerprint, report, at`

func scanDrift(sc interface{ Scan(...any) error }) (DriftCheck, error) {
	var c DriftCheck
	var drifted int
	err := sc.Scan(&c.ID, &c.Repo, &c.Env, &c.SHA, &c.RunID, &drifted, &c.Fingerprint, &c.Report, &c.At)
	c.Drifted, c.At = drifted != 0, c.At.UTC()
	return c, err
}

// RecordDriftCheck stores a check and returns the environment's check before it (found false for its
// first), so that the caller can tell new drift from drift already reported.
func (s *Store) RecordDriftCheck(ctx context.Context, c DriftCheck) (prev DriftCheck, found bool, err error) {
	if c.At.IsZero() {
		c.At = s.now()
	}
	prev, err = s.LastDriftCheck(ctx, c.Repo, c.Env)
	switch {
	case err == nil:
		found = true
	case errors.Is(err, ErrNotFound):
	default:
		return DriftCheck{}, false, err
	}
	drifted := 0
	if c.Drifted {
		drifted = 1
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO drift_checks (repo, env, sha, run_id, drifted, fingerprint, report, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.Repo, c.Env, c.SHA, c.RunID, drifted, c.Fingerprint, c.Report, c.At); err != nil {
		return DriftCheck{}, false, fmt.Errorf("record drift check of %s: %w", c.Env, err)
	}
	return prev, found, nil
}

// LastDriftCheck returns an environment's newest drift check, or ErrNotFound.
func (s *Store) LastDriftCheck(ctx context.Context, repo, env string) (DriftCheck, error) {
	c, err := scanDrift(s.db.QueryRowContext(ctx, `SELECT `+driftColumns+`
		FROM drift_checks WHERE repo = ? AND env = ? ORDER BY id DESC LIMIT 1`, repo, env))
	if errors.Is(err, sql.ErrNoRows) {
		return DriftCheck{}, fmt.Errorf("last drift check of %s: %w", env, ErrNotFound)
	}
	if err != nil {
		return DriftCheck{}, fmt.Errorf("last drift check of %s: %w", env, err)
	}
	return c, nil
}

// Deployed lists the newest successful deployment of every repository's environment: what drift checks
// look at.
func (s *Store) Deployed(ctx context.Context) ([]Deployment, error) {
	return s.deployments(ctx, `SELECT `+deploymentColumns+` FROM deployments d WHERE outcome = 'succeeded'
		AND id = (SELECT MAX(e.id) FROM deployments e WHERE e.repo = d.repo AND e.env = d.env AND e.outcome = 'succeeded')
		ORDER BY repo, env`)
}
