package store

import (
	"context"
	"fmt"
	"strings"
)

// DeploymentsOf lists deployments newest first, of one repository and environment, so that a person
// can pick a rollback target. repo "" matches every repository and env "" every environment;
// limit <= 0 means 100.
func (s *Store) DeploymentsOf(ctx context.Context, repo, env string, limit int) ([]Deployment, error) {
	if limit <= 0 {
		limit = 100
	}
	var where []string
	var args []any
	if repo != "" {
		where, args = append(where, "repo = ?"), append(args, repo)
	}
	if env != "" {
		where, args = append(where, "env = ?"), append(args, env)
	}
	q := `SELECT ` + deploymentColumns + ` FROM deployments`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	rows, err := s.db.QueryContext(ctx, q, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list deployments of %s %s: %w", repo, env, err)
	}
	defer rows.Close()
	var out []Deployment
	for rows.Next() {
		d, err := scanDeployment(rows)
		if err != nil {
			return nil, fmt.Errorf("list deployments of %s %s: %w", repo, env, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list deployments of %s %s: %w", repo, env, err)
	}
	return out, nil
}
