package github

import (
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
)

func TestPullHead(t *testing.T) {
	fake := startFake(t, fakegithub.Config{})
	fake.SeedPull("acme/infra", fakegithub.Pull{Number: 7, HeadRef: "feature", HeadSHA: strings.Repeat("ab", 20)})
	c := newTestClient(t, fake, nil)
	tests := []struct {
		name    string
		repo    string
		pr      int
		want    string
		wantErr string
	}{
		{"open pull request", "acme/infra", 7, strings.Repeat("ab", 20), ""},
		{"unknown pull request", "acme/infra", 8, "", "404"},
		{"bad repository name", "acme", 7, "", "owner/name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.PullHead(t.Context(), tt.repo, tt.pr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("PullHead = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("PullHead = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
