package outbound

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestGitHubPath(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/repos/acme/platform/issues/12/comments", "/repos/{owner}/{repo}/issues/{n}/comments"},
		{"/api/v3/repos/acme/platform/issues/12/comments", "/repos/{owner}/{repo}/issues/{n}/comments"},
		{"/repos/acme/platform/issues/comments/99", "/repos/{owner}/{repo}/issues/comments/{n}"},
		{"/repos/acme/platform/issues/comments/99/reactions", "/repos/{owner}/{repo}/issues/comments/{n}/reactions"},
		{"/repos/acme/platform/statuses/0123456789abcdef0123456789abcdef01234567", "/repos/{owner}/{repo}/statuses/{ref}"},
		{"/repos/acme/platform/commits/feature/x/y/status", "/repos/{owner}/{repo}/commits/{ref}/status"},
		{"/repos/acme/platform/commits/status/status", "/repos/{owner}/{repo}/commits/{ref}/status"},
		{"/repos/acme/platform/commits/abc/pulls", "/repos/{owner}/{repo}/commits/{ref}/pulls"},
		{"/repos/acme/platform/commits/a/b/c", "/repos/{owner}/{repo}/commits/{ref}"},
		{"/repos/acme/platform/check-runs/5", "/repos/{owner}/{repo}/check-runs/{n}"},
		{"/repos/acme/platform/deployments/5/statuses", "/repos/{owner}/{repo}/deployments/{n}/statuses"},
		{"/repos/acme/platform/collaborators/alice/permission", "/repos/{owner}/{repo}/collaborators/{user}/permission"},
		{"/repos/acme/platform/git/refs/heads/feature/evil", "/repos/{owner}/{repo}/git/refs/{ref}"},
		{"/repos/acme/platform/contents/environments/dev/main.tf", "/repos/{owner}/{repo}/contents/{path}"},
		{"/repos/acme/platform/pulls/7", "/repos/{owner}/{repo}/pulls/{n}"},
		{"/repos/acme/platform/pulls/not-a-number", "/repos/{owner}/{repo}/{other}"},
		{"/repos/acme/platform", "/repos/{owner}/{repo}"},
		{"/app/installations/42/access_tokens", "/app/installations/{n}/access_tokens"},
		{"/orgs/acme/teams/infra/memberships/bob", "/orgs/{org}/teams/{team}/memberships/{user}"},
		{"/user", "/user"},
		{"/", "/{other}"},
		{"", "/{other}"},
		{"/repos//platform/issues/1", "/repos/{owner}/{repo}/{other}"},
		{"/repos/acme/platform/commits//status", "/repos/{owner}/{repo}/{other}"},
		{"/graphql", "/{other}"},
		{"/repos/acme/platform/" + strings.Repeat("a/", 200) + "status", "/repos/{owner}/{repo}/{other}"},
	}
	for _, tt := range tests {
		if got := GitHubPath(tt.path); got != tt.want {
			t.Errorf("GitHubPath(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestGitHubOperation(t *testing.T) {
	r, _ := http.NewRequest(http.MethodPost, "https://api.github.com/repos/acme/platform/issues/12/comments?per_page=100", nil)
	if got := GitHubOperation(r); got != "POST /repos/{owner}/{repo}/issues/{n}/comments" {
		t.Fatalf("operation = %q", got)
	}
	r.Method = "BREW"
	if got := GitHubOperation(r); !strings.HasPrefix(got, "OTHER ") {
		t.Fatalf("odd method gives %q", got)
	}
}

// allowed is every operation GitHubPath may return: its templates and the two fallbacks.
func allowed() map[string]bool {
	m := map[string]bool{"/repos/{owner}/{repo}/{other}": true, "/{other}": true}
	for _, t := range githubTemplates {
		m[t.text] = true
	}
	return m
}

// FuzzGitHubPath: whatever the path (a branch name, a file name a pull request chose), the template is one of a
// fixed set, so a label never carries the path's own text.
func FuzzGitHubPath(f *testing.F) {
	for _, s := range []string{"/repos/a/b/commits/x/y/status", "/repos/a/b/issues/1/comments", "/api/v3/repos/a/b/git/refs/heads/%2e%2e",
		"/repos/a/b/contents/", "//", "/repos/a/b/commits/status/status/status", "/repos/a/b/statuses/"} {
		f.Add(s)
	}
	ok := allowed()
	f.Fuzz(func(t *testing.T, p string) {
		got := GitHubPath(p)
		if !ok[got] {
			t.Fatalf("GitHubPath(%q) = %q: not a known template", p, got)
		}
		if u, err := url.Parse("https://api.github.com" + p); err == nil {
			r := &http.Request{Method: http.MethodGet, URL: u}
			if op := GitHubOperation(r); !ok[strings.TrimPrefix(op, "GET ")] {
				t.Fatalf("GitHubOperation(%q) = %q", p, op)
			}
		}
	})
}

func TestSlackOperationAndPath(t *testing.T) {
	tests := []struct{ path, op, tpl string }{
		{"/api/chat.postMessage", "chat.postMessage", "/api/chat.postMessage"},
		{"/api/chat.update", "chat.update", "/api/chat.update"},
		{"/api/usergroups.users.list", "usergroups.users.list", "/api/usergroups.users.list"},
		{"/services/T000/B000/secretpart", "incoming-webhook", "/services/{webhook}"},
		{"/actions/T000/1234/secretpart", "response_url", "/actions/{response}"},
		{"/api/" + strings.Repeat("x", 100) + ".y", "other", "/{other}"},
		{"/api/evil$name.z", "other", "/{other}"},
		{"/", "other", "/{other}"},
	}
	for _, tt := range tests {
		r := &http.Request{URL: &url.URL{Path: tt.path}}
		if got := SlackOperation(r); got != tt.op {
			t.Errorf("SlackOperation(%q) = %q, want %q", tt.path, got, tt.op)
		}
		if got := SlackPath(tt.path); got != tt.tpl {
			t.Errorf("SlackPath(%q) = %q, want %q", tt.path, got, tt.tpl)
		}
	}
}

func TestScrubText(t *testing.T) {
	in := `Post "https://hooks.slack.com/services/T0/B0/sekrit": dial tcp: lookup hooks.slack.com: no such host`
	got := scrubText(in)
	if strings.Contains(got, "sekrit") || !strings.Contains(got, "https://hooks.slack.com/...") {
		t.Fatalf("scrubText = %q", got)
	}
}
