package github

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
)

func TestReact(t *testing.T) {
	fake := startFake(t, fakegithub.Config{})
	c := newTestClient(t, fake, nil)
	id := fake.SeedComment("o/r", 4, "alice", "/runner plan dev")
	tests := []struct {
		name    string
		repo    string
		comment int64
		content string
		wantErr string
	}{
		{"acknowledge", "o/r", id, "eyes", ""},
		{"the same again is no error", "o/r", id, "eyes", ""},
		{"done", "o/r", id, "rocket", ""},
		{"content GitHub does not know", "o/r", id, "thumbsup", "not one of"},
		{"comment gone", "o/r", id + 1000, "eyes", "404"},
		{"bad repository name", "o", id, "eyes", "owner/name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.React(t.Context(), tt.repo, tt.comment, tt.content)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("React = %v; want error %q", err, tt.wantErr)
			}
		})
	}
	if got := fake.Reactions(id); strings.Join(got, ",") != "eyes,rocket" {
		t.Fatalf("reactions %v", got)
	}
}

func TestReply(t *testing.T) {
	const secret = "hunter2-secret"
	long := "```\n" + strings.Repeat("plan line é\n", 10000) // over the limit, fence open at the cut
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, got string)
	}{
		{"short reply as is", "Planned **dev**.", func(t *testing.T, got string) {
			if got != "Planned **dev**." {
				t.Fatalf("body %q", got)
			}
		}},
		{"secrets redacted", "token " + testToken + " and " + secret, func(t *testing.T, got string) {
			if strings.Contains(got, testToken) || strings.Contains(got, secret) {
				t.Fatalf("body leaks: %q", got)
			}
		}},
		{"long reply cut, fence closed", long, func(t *testing.T, got string) {
			if len(got) > MaxCommentLength || !utf8.ValidString(got) || !fencesBalanced(got) || !strings.HasSuffix(got, "_(truncated)_") {
				t.Fatalf("%d bytes, valid %v, balanced %v, ends %q", len(got), utf8.ValidString(got), fencesBalanced(got), got[len(got)-20:])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := startFake(t, fakegithub.Config{})
			c := newTestClient(t, fake, func(o *Options) { o.Secrets = []string{secret} })
			fake.SeedComment("o/r", 4, "alice", "/runner plan")
			for range 2 { // a reply is never sticky: each is a new comment
				if err := c.Reply(t.Context(), "o/r", 4, tt.body); err != nil {
					t.Fatal(err)
				}
			}
			cs := fake.Comments("o/r", 4)
			if len(cs) != 3 || cs[0].Body != "/runner plan" || cs[1].Body != cs[2].Body {
				t.Fatalf("comments %d", len(cs))
			}
			tt.check(t, cs[1].Body)
		})
	}
	fake := startFake(t, fakegithub.Config{})
	if err := newTestClient(t, fake, nil).Reply(t.Context(), "o", 4, "x"); err == nil {
		t.Fatal("bad repository name: want an error")
	}
}
