package webhook_test

import (
	"reflect"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/webhook"
)

// normalize parses body as the named event and normalises it.
func normalize(t *testing.T, name string, body []byte) (event.Event, string) {
	t.Helper()
	parsed, err := github.ParseWebHook(name, body)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return webhook.Normalize(parsed)
}

// Who triggered a run is the authenticated sender, never the commit's free-text author.
func TestSenderIsTheAuthenticatedLogin(t *testing.T) {
	push := payload(t, "push.with-new-branch.json")
	tests := []struct {
		name, event string
		body        []byte
		want        string
	}{
		{"push", "push", push, "Codertocat"},
		{"push whose commit claims another author", "push",
			setJSON(t, setJSON(t, push, "head_commit.author.name", "Mallory Admin"), "head_commit.author.username", "admin"), "Codertocat"},
		{"push by someone else than the commit author", "push", setJSON(t, push, "sender.login", "deploy-bot"), "deploy-bot"},
		{"pull request", "pull_request", setJSON(t, payload(t, "pull_request.opened.json"), "sender.login", "reviewer"), "reviewer"},
		{"comment", "issue_comment", setJSON(t, payload(t, "issue_comment.created.json"), "sender.login", "commenter"), "commenter"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, ignored := normalize(t, tc.event, tc.body)
			if ignored != "" {
				t.Fatalf("ignored: %s", ignored)
			}
			if ev.Sender != tc.want {
				t.Fatalf("sender = %q, want %q", ev.Sender, tc.want)
			}
		})
	}
}

// A trigger policy needs to know who opened a pull request, whether it comes from a fork, and
// whether it is a draft; a comment needs its id.
func TestPolicyFields(t *testing.T) {
	opened := payload(t, "pull_request.opened.json")
	comment := payload(t, "issue_comment.created.json")
	tests := []struct {
		name, event string
		body        []byte
		want        event.Event // only Kind, Author, Fork, Draft, CommentID are compared
	}{
		{"same-repository pull request", "pull_request", opened,
			event.Event{Kind: event.KindPlan, Author: "Codertocat"}},
		{"pull request from a fork", "pull_request", setJSON(t, opened, "pull_request.head.repo.full_name", "mallory/Hello-World"),
			event.Event{Kind: event.KindPlan, Author: "Codertocat", Fork: true}},
		{"pull request from a deleted fork", "pull_request", setJSON(t, opened, "pull_request.head.repo", nil),
			event.Event{Kind: event.KindPlan, Author: "Codertocat", Fork: true}},
		{"head repository named in other case", "pull_request", setJSON(t, opened, "pull_request.head.repo.full_name", "codertocat/hello-world"),
			event.Event{Kind: event.KindPlan, Author: "Codertocat"}},
		{"opened by another user", "pull_request", setJSON(t, opened, "pull_request.user.login", "outsider"),
			event.Event{Kind: event.KindPlan, Author: "outsider"}},
		{"draft", "pull_request", setJSON(t, opened, "pull_request.draft", true),
			event.Event{Kind: event.KindPlan, Author: "Codertocat", Draft: true}},
		{"draft ready for review is planned", "pull_request", setJSON(t, opened, "action", "ready_for_review"),
			event.Event{Kind: event.KindPlan, Author: "Codertocat"}},
		{"comment", "issue_comment", comment,
			event.Event{Kind: event.KindComment, Author: "Codertocat", CommentID: 492700400}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, ignored := normalize(t, tc.event, tc.body)
			if ignored != "" {
				t.Fatalf("ignored: %s", ignored)
			}
			got := event.Event{Kind: ev.Kind, Author: ev.Author, Fork: ev.Fork, Draft: ev.Draft, CommentID: ev.CommentID}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// Two deliveries share a content key exactly when they are the same GitHub event.
func TestContentKeys(t *testing.T) {
	push := payload(t, "push.with-new-branch.json")
	sync := payload(t, "pull_request.synchronize.json")
	comment := payload(t, "issue_comment.created.json")
	opened := payload(t, "pull_request.opened.json")
	headOf := func(b []byte) string { ev, _ := normalize(t, "pull_request", b); return ev.SHA }
	tests := []struct {
		name   string
		event  string
		a, b   []byte
		isSame bool
	}{
		{"the same push", "push", push, push, true},
		{"one push sent to a repository hook and an App hook", "push",
			payload(t, "push.json"), payload(t, "push.with-installation.json"), true},
		{"the same push named in other case", "push", push, setJSON(t, push, "repository.full_name", "codertocat/hello-world"), true},
		{"a push repeated later (branch moved back and forth)", "push", push, setJSON(t, push, "repository.pushed_at", 1557940000), false},
		{"a push to another branch", "push", push, setJSON(t, push, "ref", "refs/heads/other"), false},
		{"a push from another before", "push", push, setJSON(t, push, "before", "1111111111111111111111111111111111111111"), false},
		{"the same synchronize", "pull_request", sync, sync, true},
		{"a synchronize back to an earlier head", "pull_request", sync,
			setJSON(t, setJSON(t, sync, "before", "2222222222222222222222222222222222222222"), "pull_request.updated_at", "2019-05-15T16:00:00Z"), false},
		{"a synchronize of the same head updated later", "pull_request", sync, setJSON(t, sync, "pull_request.updated_at", "2019-05-15T16:00:00Z"), false},
		{"opened and reopened at one head", "pull_request", opened, setJSON(t, opened, "action", "reopened"), false},
		{"opened, and opened at another head", "pull_request", opened, setJSON(t, opened, "pull_request.head.sha", "3333333333333333333333333333333333333333"), false},
		{"the same comment", "issue_comment", comment, comment, true},
		{"another comment with the same text", "issue_comment", comment, setJSON(t, comment, "comment.id", 492700401), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := normalize(t, tc.event, tc.a)
			b, _ := normalize(t, tc.event, tc.b)
			if a.ContentKey == "" || b.ContentKey == "" {
				t.Fatalf("no content key: %q, %q", a.ContentKey, b.ContentKey)
			}
			if (a.ContentKey == b.ContentKey) != tc.isSame {
				t.Fatalf("keys %s and %s: same = %v, want %v", a.ContentKey, b.ContentKey, !tc.isSame, tc.isSame)
			}
		})
	}
	if headOf(opened) == "" {
		t.Fatal("payload without a head SHA")
	}
}
