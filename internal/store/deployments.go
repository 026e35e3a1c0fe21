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
	ID              int64  `json:"id"`
	Repo            string `json:"repo"`
	Env             string `json:"env"`
	SHA             string `json:"sha"`
	RunID           int64  `json:"run_id"`
	Outcome         string `json:"outcome"` // succeeded | failed
	Summary         string `json:"summary,omitempty"`
	BackendImage    string `json:"backend_image,omitempty"`
	FrontendVersion string `json:"frontend_version,omitempty"`
	// Note is what else the record says: whether the plan matched the reviewed one, who approved it, what
	// it rolled back to.
	Note string    `json:"note,omitempty"`
	At   time.Time `json:"at"`
}

const deploymentColumns = `id, repo, env, sha, run_id, outcome, summary, backend_image, frontend_version, note, at`

func scanDeployment(sc interface{ Scan(...any) error }) (Deployment, error) {
	var d Deployment
	err := sc.Scan(&d.ID, &d.Repo, &d.Env, &d.SHA, &d.RunID, &d.Outcome, &d.Summary, &d.BackendImage, &d.FrontendVersion, &d.Note, &d.At)
	d.At = d.At.UTC()
	return d, err
}

// RecordDeployment stores a deployment outcome.
func (s *Store) RecordDeployment(ctx context.Context, d Deployment) error {
	if d.At.IsZero() {
		d.At = s.now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO deployments (repo, env, sha, run_id, outcome, summary, backend_image, frontend_version, note, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, d.Repo, d.Env, d.SHA, d.RunID, d.Outcome, d.Summary, d.BackendImage, d.FrontendVersion, d.Note, d.At)
	if err != nil {
		return fmt.Errorf("record deployment of %s at %s: %w", d.Env, d.SHA, err)
	}
	return nil
}

// LastDeployment returns the newest successful deployment of an environment, or ErrNotFound.
func (s *Store) LastDeployment(ctx context.Context, repo, env string) (Deployment, error) {
	d, err := scanDeployment(s.db.QueryRowContext(ctx, `SELECT `+deploymentColumns+`
		FROM deployments WHERE repo = ? AND env = ? AND outcome = 'succeeded' ORDER BY id DESC LIMIT 1`, repo, env))
	if errors.Is(err, sql.ErrNoRows) {
		return Deployment{}, fmt.Errorf("last deployment of %s: %w", env, ErrNotFound)
	}
	if err != nil {
		return Deployment{}, fmt.Errorf("last deployment of %s: %w", env, err)
	}
	return d, nil
}

// Deployments lists a repository's deployments, newest first.
func (s *Store) Deployments(ctx context.Context, repo string, limit int) ([]Deployment, error) {
	if limit <= 0 {
		limit = 100
	}
	return s.deployments(ctx, `SELECT `+deploymentColumns+` FROM deployments WHERE repo = ? ORDER BY id DESC LIMIT ?`, repo, limit)
}

// Succeeded lists the successful deployments of one environment, newest first: the commits it can be
// rolled back to.
func (s *Store) Succeeded(ctx context.Context, repo, env string, limit int) ([]Deployment, error) {
	if limit <= 0 {
		limit = 100
	}
	return s.deployments(ctx, `SELECT `+deploymentColumns+` FROM deployments
		WHERE repo = ? AND env = ? AND outcome = 'succeeded' ORDER BY id DESC LIMIT ?`, repo, env, limit)
}

func (s *Store) deployments(ctx context.Context, q string, args ...any) ([]Deployment, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	defer rows.Close()
	var out []Deployment
	for rows.Next() {
		d, err := scanDeployment(rows)
		if err != nil {
			return nil, fmt.Errorf("list deployments: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
