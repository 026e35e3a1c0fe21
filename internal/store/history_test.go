package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/store"
)

func TestDeploymentsOf(t *testing.T) {
	ctx := context.Background()
	s, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	at := time.Date(2025, 3, 4, 5, 0, 0, 0, time.UTC)
	for i, d := range []store.Deployment{
		{Repo: "acme/infra", Env: "dev", SHA: "a1", Outcome: "succeeded"},
		{Repo: "acme/infra", Env: "prod", SHA: "a1", Outcome: "succeeded"},
		{Repo: "acme/infra", Env: "prod", SHA: "a2", Outcome: "failed"},
		{Repo: "acme/api", Env: "prod", SHA: "b1", Outcome: "succeeded"},
		{Repo: "acme/infra", Env: "prod", SHA: "a3", Outcome: "succeeded"},
		{Repo: "acme/infra", Env: "dev", SHA: "a3", Outcome: "succeeded"},
	} {
		d.RunID, d.At = int64(i+1), at.Add(time.Duration(i)*time.Minute)
		if err := s.RecordDeployment(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name      string
		repo, env string
		limit     int
		want      string // repo:env:sha, newest first
	}{
		{"one environment, newest first", "acme/infra", "prod", 0, "acme/infra:prod:a3 acme/infra:prod:a2 acme/infra:prod:a1"},
		{"with a limit", "acme/infra", "prod", 2, "acme/infra:prod:a3 acme/infra:prod:a2"},
		{"every environment of a repository", "acme/infra", "", 0, "acme/infra:dev:a3 acme/infra:prod:a3 acme/infra:prod:a2 acme/infra:prod:a1 acme/infra:dev:a1"},
		{"an environment of every repository", "", "prod", 0, "acme/infra:prod:a3 acme/api:prod:b1 acme/infra:prod:a2 acme/infra:prod:a1"},
		{"everything, limited", "", "", 3, "acme/infra:dev:a3 acme/infra:prod:a3 acme/api:prod:b1"},
		{"an environment never deployed", "acme/infra", "staging", 0, ""},
		{"another repository's environment", "acme/api", "dev", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := s.DeploymentsOf(ctx, tc.repo, tc.env, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range ds {
				got = append(got, d.Repo+":"+d.Env+":"+d.SHA)
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("DeploymentsOf(%q, %q, %d) = %s, want %s", tc.repo, tc.env, tc.limit, strings.Join(got, " "), tc.want)
			}
		})
	}
	ds, err := s.DeploymentsOf(ctx, "acme/infra", "prod", 1)
	if err != nil || len(ds) != 1 {
		t.Fatal(ds, err)
	}
	if d := ds[0]; d.RunID != 5 || d.Outcome != "succeeded" || !d.At.Equal(at.Add(4*time.Minute)) || d.At.Location() != time.UTC {
		t.Errorf("newest prod deployment = %+v, want run 5, succeeded, at %v in UTC", d, at.Add(4*time.Minute))
	}
}
