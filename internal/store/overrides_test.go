package store

import (
	"context"
	"reflect"
	"testing"
)

func testOverridesAreKeptPerPullRequestAndEnvironment(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	first, err := s.RecordOverride(ctx, Override{Repo: "acme/infra", PR: 7, Env: "prod", SHA: "abc",
		Failures: []string{"s3.deny: aws_s3_bucket.logs has no encryption"}, By: "maint", Channel: "comment", Reason: "logs only"})
	if err != nil || first.ID == 0 || first.Created.IsZero() {
		t.Fatalf("record = %+v, %v", first, err)
	}
	second, _ := s.RecordOverride(ctx, Override{Repo: "acme/infra", PR: 7, Env: "prod", SHA: "def", By: "maint", Channel: "comment"})
	_, _ = s.RecordOverride(ctx, Override{Repo: "acme/infra", PR: 7, Env: "dev", SHA: "def", By: "maint"})
	_, _ = s.RecordOverride(ctx, Override{Repo: "acme/infra", PR: 8, Env: "prod", SHA: "def", By: "maint"})
	got, err := s.Overrides(ctx, "acme/infra", 7, "prod")
	if err != nil || len(got) != 2 || got[0].ID != second.ID || got[1].ID != first.ID {
		t.Fatalf("overrides = %+v, %v", got, err)
	}
	if !reflect.DeepEqual(got[1].Failures, first.Failures) || got[1].Reason != "logs only" || got[0].Failures == nil {
		t.Errorf("read back %+v", got)
	}
}

func TestOverridesAreKeptPerPullRequestAndEnvironment(t *testing.T) {
	bothDrivers(t, testOverridesAreKeptPerPullRequestAndEnvironment)
}
