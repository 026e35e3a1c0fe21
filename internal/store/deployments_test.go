package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func testLastDeploymentIsNewestSucceeded(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t)
	if _, err := s.LastDeployment(ctx, "acme/infra", "dev"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LastDeployment with none = %v, want ErrNotFound", err)
	}
	record := func(env, sha, outcome string) {
		t.Helper()
		c.Advance(time.Minute)
		err := s.RecordDeployment(ctx, Deployment{Repo: "acme/infra", Env: env, SHA: sha, RunID: 1, Outcome: outcome,
			Summary: "1 to add", BackendImage: "registry/backend@sha256:" + sha, FrontendVersion: sha})
		if err != nil {
			t.Fatal(err)
		}
	}
	record("dev", "sha1", "succeeded")
	record("dev", "sha2", "succeeded")
	at := c.Now()
	record("dev", "sha3", "failed")
	record("prod", "sha4", "succeeded")
	record("prod", "sha5", "failed")

	for _, tc := range []struct{ env, want string }{{"dev", "sha2"}, {"prod", "sha4"}} {
		d, err := s.LastDeployment(ctx, "acme/infra", tc.env)
		if err != nil {
			t.Fatalf("LastDeployment(%s): %v", tc.env, err)
		}
		if d.SHA != tc.want || d.Outcome != "succeeded" {
			t.Errorf("LastDeployment(%s) = %+v, want %s", tc.env, d, tc.want)
		}
	}
	d, _ := s.LastDeployment(ctx, "acme/infra", "dev")
	if !d.At.Equal(at) || d.BackendImage != "registry/backend@sha256:sha2" || d.FrontendVersion != "sha2" || d.Summary != "1 to add" {
		t.Errorf("dev deployment = %+v, want the recorded fields and time %v", d, at)
	}
	if _, err := s.LastDeployment(ctx, "acme/other", "dev"); !errors.Is(err, ErrNotFound) {
		t.Errorf("other repo: %v, want ErrNotFound", err)
	}
	if _, err := s.LastDeployment(ctx, "acme/infra", "staging"); !errors.Is(err, ErrNotFound) {
		t.Errorf("environment with no deployment: %v, want ErrNotFound", err)
	}

	all, err := s.Deployments(ctx, "acme/infra", 0)
	if err != nil {
		t.Fatal(err)
	}
	var shas []string
	for _, d := range all {
		shas = append(shas, d.SHA)
	}
	if want := "sha5 sha4 sha3 sha2 sha1"; strings.Join(shas, " ") != want {
		t.Errorf("Deployments = %s, want %s", strings.Join(shas, " "), want)
	}
	if two, _ := s.Deployments(ctx, "acme/infra", 2); len(two) != 2 {
		t.Errorf("Deployments limit 2 = %d", len(two))
	}
}

func testRecordDeploymentKeepsGivenTime(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.RecordDeployment(ctx, Deployment{Repo: "r/r", Env: "dev", SHA: "x", Outcome: "succeeded", At: at}); err != nil {
		t.Fatal(err)
	}
	d, err := s.LastDeployment(ctx, "r/r", "dev")
	if err != nil || !d.At.Equal(at) {
		t.Fatalf("LastDeployment = %+v, %v; want time %v", d, err, at)
	}
}

func TestLastDeploymentIsNewestSucceeded(t *testing.T) {
	bothDrivers(t, testLastDeploymentIsNewestSucceeded)
}
func TestRecordDeploymentKeepsGivenTime(t *testing.T) {
	bothDrivers(t, testRecordDeploymentKeepsGivenTime)
}
