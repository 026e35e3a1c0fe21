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

func TestPullRequest(t *testing.T) {
	fake := startFake(t, fakegithub.Config{})
	fake.SeedRepo("acme/infra", fakegithub.Repo{CloneURL: "https://git.example/acme/infra.git", DefaultBranch: "trunk"})
	fake.SeedPull("acme/infra", fakegithub.Pull{Number: 7, User: "alice", HeadRef: "feature", HeadSHA: "h7", BaseRef: "trunk", BaseSHA: "b7"})
	fake.SeedPull("acme/infra", fakegithub.Pull{Number: 8, User: "bob", HeadRef: "wip", HeadSHA: "h8", BaseSHA: "b8", Draft: true, HeadRepo: "bob/infra"})
	fake.SeedPull("acme/infra", fakegithub.Pull{Number: 9, User: "eve", HeadRef: "x", HeadSHA: "h9", HeadRepo: "eve/infra", HeadRepoGone: true})
	fake.SeedPull("acme/infra", fakegithub.Pull{Number: 10, User: "alice", HeadRef: "done", HeadSHA: "h10", Merged: true, MergeCommitSHA: "m10"})
	c := newTestClient(t, fake, nil)
	const clone, trunk = "https://git.example/acme/infra.git", "trunk"
	tests := []struct {
		name    string
		repo    string
		number  int
		want    PullRequest
		wantErr string
	}{
		{"open, from a branch of the repository", "acme/infra", 7, PullRequest{Number: 7, State: "open", HeadSHA: "h7",
			HeadRef: "feature", BaseSHA: "b7", BaseRef: "trunk", HeadRepo: "acme/infra", Author: "alice", CloneURL: clone, DefaultBranch: trunk}, ""},
		{"draft from a fork", "acme/infra", 8, PullRequest{Number: 8, State: "open", Draft: true, HeadSHA: "h8",
			HeadRef: "wip", BaseSHA: "b8", BaseRef: "main", HeadRepo: "bob/infra", Author: "bob", CloneURL: clone, DefaultBranch: trunk}, ""},
		{"fork deleted", "acme/infra", 9, PullRequest{Number: 9, State: "open", HeadSHA: "h9",
			HeadRef: "x", BaseRef: "main", Author: "eve", CloneURL: clone, DefaultBranch: trunk}, ""},
		{"merged", "acme/infra", 10, PullRequest{Number: 10, State: "closed", Merged: true, HeadSHA: "h10",
			HeadRef: "done", BaseRef: "main", HeadRepo: "acme/infra", Author: "alice", CloneURL: clone, DefaultBranch: trunk}, ""},
		{"unknown pull request", "acme/infra", 11, PullRequest{}, "404"},
		{"bad repository name", "acme", 7, PullRequest{}, "owner/name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.PullRequest(t.Context(), tt.repo, tt.number)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("PullRequest = %+v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("PullRequest =\n %+v, %v; want\n %+v", got, err, tt.want)
			}
		})
	}
}

func TestMergedPR(t *testing.T) {
	fake := startFake(t, fakegithub.Config{})
	fake.SeedPull("o/r", fakegithub.Pull{Number: 5, HeadSHA: "h5", Commits: []string{"m9", "c1"}})
	fake.SeedPull("o/r", fakegithub.Pull{Number: 9, HeadSHA: "h9", Merged: true, MergeCommitSHA: "m9"})
	fake.SeedPull("o/r", fakegithub.Pull{Number: 12, HeadSHA: "h12", Merged: true, MergeCommitSHA: "m12", Commits: []string{"c1"}})
	c := newTestClient(t, fake, nil)
	tests := []struct {
		name     string
		repo     string
		sha      string
		wantPR   int
		wantHead string
		wantErr  string
	}{
		{"merge commit of a merged PR", "o/r", "m9", 9, "h9", ""},
		{"head of an open PR is no merge", "o/r", "h5", 0, "", ""},
		{"commit on a merged branch is not its merge commit", "o/r", "c1", 0, "", ""},
		{"direct push", "o/r", "nope", 0, "", ""},
		{"bad repository name", "o", "m9", 0, "", "owner/name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, head, err := c.MergedPR(t.Context(), tt.repo, tt.sha)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("MergedPR = %d, %v; want an error containing %q", n, err, tt.wantErr)
				}
				return
			}
			if err != nil || n != tt.wantPR || head != tt.wantHead {
				t.Fatalf("MergedPR = %d %q, %v; want %d %q", n, head, err, tt.wantPR, tt.wantHead)
			}
		})
	}
	fake.FailNext(fastRetry.MaxAttempts, fakegithub.Failure{Kind: fakegithub.BadGateway})
	if _, _, err := c.MergedPR(t.Context(), "o/r", "m9"); err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("GitHub down: want an error, got %v", err)
	}
}
