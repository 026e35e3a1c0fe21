package fakegithub_test

import (
	"slices"
	"testing"

	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
)

func TestReactionsOnComments(t *testing.T) {
	fake := start(t, fakegithub.Config{})
	gh := newClient(t, fake, token)
	id := fake.SeedComment("o/r", 3, "alice", "/runner plan")
	for _, tc := range []struct {
		name       string
		comment    int64
		content    string
		wantStatus int
	}{
		{"new reaction", id, "eyes", 201},
		{"same reaction again", id, "eyes", 200},
		{"another reaction", id, "+1", 201},
		{"unknown content", id, "thumbsup", 422},
		{"unknown comment", id + 100, "eyes", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, resp, err := gh.Reactions.CreateIssueCommentReaction(t.Context(), "o", "r", tc.comment, tc.content)
			if tc.wantStatus >= 400 {
				if statusOf(err) != tc.wantStatus {
					t.Fatalf("want %d, got %v", tc.wantStatus, err)
				}
				return
			}
			if err != nil || resp.StatusCode != tc.wantStatus {
				t.Fatalf("want %d, got %v", tc.wantStatus, err)
			}
			if r.GetContent() != tc.content || r.GetUser().GetLogin() != "gitops-runner[bot]" || r.GetID() == 0 {
				t.Fatalf("reaction %+v", r)
			}
		})
	}
	if got := fake.Reactions(id); !slices.Equal(got, []string{"eyes", "+1"}) {
		t.Fatalf("reactions %v", got)
	}
}

func TestPullRequestCarriesRepositoriesAndDraft(t *testing.T) {
	fake := start(t, fakegithub.Config{})
	gh := newClient(t, fake, token)
	fake.SeedRepo("acme/infra", fakegithub.Repo{CloneURL: "https://git.example/acme/infra.git", DefaultBranch: "trunk"})
	fake.SeedPull("acme/infra", fakegithub.Pull{Number: 1, User: "alice", HeadRef: "f", HeadSHA: "h1", BaseSHA: "b1", Draft: true})
	fake.SeedPull("acme/infra", fakegithub.Pull{Number: 2, User: "bob", HeadRef: "g", HeadSHA: "h2", HeadRepo: "bob/infra"})
	fake.SeedPull("acme/infra", fakegithub.Pull{Number: 3, User: "eve", HeadRef: "h", HeadSHA: "h3", HeadRepo: "eve/infra", HeadRepoGone: true})
	for _, tc := range []struct {
		number   int
		draft    bool
		headRepo string
		fork     bool
		label    string
	}{
		{1, true, "acme/infra", false, "acme:f"},
		{2, false, "bob/infra", true, "bob:g"},
		{3, false, "", false, "eve:h"},
	} {
		pr, _, err := gh.PullRequests.Get(t.Context(), "acme", "infra", tc.number)
		if err != nil {
			t.Fatal(err)
		}
		base := pr.GetBase().GetRepo()
		if pr.GetDraft() != tc.draft || pr.GetHead().GetRepo().GetFullName() != tc.headRepo || pr.GetHead().GetRepo().GetFork() != tc.fork ||
			pr.GetHead().GetLabel() != tc.label || base.GetFullName() != "acme/infra" ||
			base.GetCloneURL() != "https://git.example/acme/infra.git" || base.GetDefaultBranch() != "trunk" {
			t.Fatalf("pull %d: %+v", tc.number, pr)
		}
		if tc.headRepo == "" && pr.GetHead().Repo != nil {
			t.Fatalf("pull %d: head repo of a deleted fork is %+v", tc.number, pr.GetHead().Repo)
		}
	}
	pr, _, err := gh.PullRequests.Get(t.Context(), "acme", "infra", 1)
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetBase().GetSHA() != "b1" || pr.GetUser().GetLogin() != "alice" {
		t.Fatalf("pull 1: %+v", pr)
	}
}
