package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Override is a person letting a pull request's policy check failures of one environment through: a deploy
// of its merge applies despite exactly those failures (not new ones).
type Override struct {
	ID       int64     `json:"id"`
	Repo     string    `json:"repo"`
	PR       int       `json:"pr"`
	Env      string    `json:"env"`
	SHA      string    `json:"sha"`      // the pull request's head whose plan failed the checks
	Failures []string  `json:"failures"` // "package.rule: message", as the plan's policy steps found them
	By       string    `json:"by"`
	Channel  string    `json:"channel"`
	Reason   string    `json:"reason"`
	Created  time.Time `json:"created_at"`
}

// RecordOverride stores an override and returns it with its id and time.
func (s *Store) RecordOverride(ctx context.Context, o Override) (Override, error) {
	failures, err := json.Marshal(nonNilStrings(o.Failures))
	if err != nil {
		return Override{}, err
	}
	o.Created = time.Now().UTC()
	err = s.db.QueryRowContext(ctx, `INSERT INTO policy_overrides (repo, pr, env, sha, failures, by_login, channel, reason, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, o.Repo, o.PR, o.Env, o.SHA, string(failures), o.By, o.Channel, o.Reason, o.Created).Scan(&o.ID)
	if err != nil {
		return Override{}, fmt.Errorf("record the policy override of %s#%d %s: %w", o.Repo, o.PR, o.Env, err)
	}
	return o, nil
}

// Overrides lists the overrides of a pull request's environment, newest first.
func (s *Store) Overrides(ctx context.Context, repo string, pr int, env string) ([]Override, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, repo, pr, env, sha, failures, by_login, channel, reason, created_at
		FROM policy_overrides WHERE repo = ? AND pr = ? AND env = ? ORDER BY id DESC LIMIT 100`, repo, pr, env)
	if err != nil {
		return nil, fmt.Errorf("policy overrides of %s#%d %s: %w", repo, pr, env, err)
	}
	defer rows.Close()
	var out []Override
	for rows.Next() {
		var (
			o        Override
			failures string
		)
		if err := rows.Scan(&o.ID, &o.Repo, &o.PR, &o.Env, &o.SHA, &failures, &o.By, &o.Channel, &o.Reason, &o.Created); err != nil {
			return nil, fmt.Errorf("policy overrides of %s#%d %s: %w", repo, pr, env, err)
		}
		if err := json.Unmarshal([]byte(failures), &o.Failures); err != nil {
			return nil, fmt.Errorf("policy overrides of %s#%d %s: failures: %w", repo, pr, env, err)
		}
		o.Created = o.Created.UTC()
		out = append(out, o)
	}
	return out, rows.Err()
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
