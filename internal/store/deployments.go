package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Deployment is the outcome of deploying one environment at one commit.
type Deployment struct {
	Repo            string    `json:"repo"`
	Env             string    `json:"env"`
	SHA             string    `json:"sha"`
	RunID           int64     `json:"run_id"`
	Outcome         string    `json:"outcome"` // succeeded | failed
	Summary         string    `json:"summary,omitempty"`
	BackendImage    string    `json:"backend_image,omitempty"`
	FrontendVersion string    `json:"frontend_version,omitempty"`
	At              time.Time `json:"at"`
}

// RecordDeployment stores a deployment outcome.
func (s *Store) RecordDeployment(ctx context.Context, d Deployment) error {
	if d.At.IsZero() {
		d.At = s.now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO deployments (repo, env, sha, run_id, outcome, summary, backend_image, frontend_version, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, d.Repo, d.Env, d.SHA, d.RunID, d.Outcome, d.Summary, d.BackendImage, d.FrontendVersion, d.At)
	if err != nil {
		return fmt.Errorf("record deployment of %s at %s: %w", d.Env, d.SHA, err)
	}
	return nil
}

// LastDeployment returns the newest successful deployment of an environment, or ErrNotFound.
func (s *Store) LastDeployment(ctx context.Context, repo, env string) (Deployment, error) {
	var d Deployment
	err := s.db.QueryRowContext(ctx, `SELECT repo, env, sha, run_id, outcome, summary, backend_image, frontend_version, at
		FROM deployments WHERE repo = ? AND env = ? AND outcome = 'succeeded' ORDER BY id DESC LIMIT 1`, repo, env).
		Scan(&d.Repo, &d.Env, &d.SHA, &d.RunID, &d.Outcome, &d.Summary, &d.BackendImage, &d.FrontendVersion, &d.At)
	if errors.Is(err, sql.ErrNoRows) {
		return Deployment{}, fmt.Errorf("last deployment of %s: %w", env, ErrNotFound)
	}
	if err != nil {
		return Deployment{}, fmt.Errorf("last deployment of %s: %w", env, err)
	}
	d.At = d.At.UTC()
	return d, nil
}

// Deployments lists a repository's deployments, newest first.
func (s *Store) Deployments(ctx context.Context, repo string, limit int) ([]Deployment, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, `SELECT repo, env, sha, run_id, outcome, summary, backend_image, frontend_version, at
		FROM deployments WHERE repo = ? ORDER BY id DESC LIMIT ?`, repo, limit)
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	defer rows.Close()
	var out []Deployment
	for rows.Next() {
		var d Deployment
		if err := rows.Scan(&d.Repo, &d.Env, &d.SHA, &d.RunID, &d.Outcome, &d.Summary, &d.BackendImage, &d.FrontendVersion, &d.At); err != nil {
			return nil, fmt.Errorf("list deployments: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
