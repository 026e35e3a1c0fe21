package webhook

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/gitops-runner/runner/internal/event"
)

// Normalize reduces a parsed go-github event to an event.Event. A non-empty
// ignored says why the runner does not act on it.
//
// Who triggered a run is always the payload's sender: the GitHub account that
// authenticated the action. A push's head_commit.author is free text anyone
// can write into a commit, so it is never used.
func Normalize(parsed any) (ev event.Event, ignored string) {
	switch e := parsed.(type) {
	case *github.PushEvent:
		ev = event.Event{
			Kind: event.KindDeploy, Repo: e.GetRepo().GetFullName(), CloneURL: e.GetRepo().GetCloneURL(),
			SHA: e.GetAfter(), BaseSHA: e.GetBefore(), Ref: e.GetRef(), Sender: e.GetSender().GetLogin(),
			DefaultBranch: e.GetRepo().GetDefaultBranch(),
		}
		ev.ContentKey = contentKey("push", strings.ToLower(ev.Repo), ev.Ref, ev.BaseSHA, ev.SHA, unix(e.GetRepo().GetPushedAt()))
		return ev, ""
	case *github.PullRequestEvent:
		pr := e.GetPullRequest()
		ev = event.Event{
			Action: e.GetAction(), Repo: e.GetRepo().GetFullName(), CloneURL: e.GetRepo().GetCloneURL(),
			SHA: pr.GetHead().GetSHA(), BaseSHA: pr.GetBase().GetSHA(), Ref: pr.GetHead().GetRef(),
			BaseRef: pr.GetBase().GetRef(), PR: e.GetNumber(), Sender: e.GetSender().GetLogin(),
			Author: pr.GetUser().GetLogin(), Draft: pr.GetDraft(), Fork: fork(e),
			HeadRepo: pr.GetHead().GetRepo().GetFullName(), DefaultBranch: e.GetRepo().GetDefaultBranch(),
		}
		if ev.PR == 0 {
			ev.PR = pr.GetNumber()
		}
		switch e.GetAction() {
		case "opened", "reopened", "synchronize", "ready_for_review":
			ev.Kind = event.KindPlan
		case "closed":
			if !pr.GetMerged() {
				return ev, "pull request closed without merge"
			}
			ev.Kind, ev.SHA = event.KindMerged, pr.GetMergeCommitSHA()
		default:
			return ev, "pull_request action " + e.GetAction() + " is not acted on"
		}
		// The head SHA and the action alone would merge legitimate events: a branch
		// force-pushed back to an earlier head synchronises to a SHA seen before. The
		// synchronize's before and the pull request's updated_at tell those apart, and a
		// replayed body repeats them.
		ev.ContentKey = contentKey("pull_request", e.GetAction(), strings.ToLower(ev.Repo), ev.PR, ev.SHA, pr.GetHead().GetSHA(),
			ev.BaseSHA, e.GetBefore(), unix(pr.GetUpdatedAt()))
		return ev, ""
	case *github.IssueCommentEvent:
		ev = event.Event{
			Kind: event.KindComment, Action: e.GetAction(), Repo: e.GetRepo().GetFullName(),
			CloneURL: e.GetRepo().GetCloneURL(), PR: e.GetIssue().GetNumber(), Sender: e.GetSender().GetLogin(),
			Comment: e.GetComment().GetBody(), CommentID: e.GetComment().GetID(),
			Author: e.GetIssue().GetUser().GetLogin(),
		}
		if ev.CommentID != 0 {
			// A comment is created once: its id alone names the event.
			ev.ContentKey = contentKey("issue_comment", e.GetAction(), strings.ToLower(ev.Repo), ev.PR, ev.CommentID)
		}
		// Only a new comment by a person can be a command: edits and deletions
		// never are, and the runner's own sticky plan comments (a bot's, edited
		// on every push) would otherwise each become a run.
		if e.GetAction() != "created" {
			return ev, "issue_comment action " + e.GetAction() + " is not acted on"
		}
		if e.GetComment().GetUser().GetType() == "Bot" || e.GetSender().GetType() == "Bot" {
			return ev, "comment by a bot (" + e.GetComment().GetUser().GetLogin() + ") is not acted on"
		}
		if !e.GetIssue().IsPullRequest() {
			return ev, "comment on an issue, not a pull request, is not acted on"
		}
		return ev, ""
	case *github.CheckRunEvent:
		cr := e.GetCheckRun()
		ev = event.Event{
			Kind: event.KindAction, Action: e.GetAction(), Repo: e.GetRepo().GetFullName(), CloneURL: e.GetRepo().GetCloneURL(),
			SHA: cr.GetHeadSHA(), Sender: e.GetSender().GetLogin(), DefaultBranch: e.GetRepo().GetDefaultBranch(),
			Comment: e.GetRequestedAction().Identifier + " " + cr.GetExternalID(),
		}
		if e.GetAction() != "requested_action" {
			return ev, "check_run action " + e.GetAction() + " is not acted on"
		}
		if e.GetSender().GetType() == "Bot" {
			return ev, "check run action by a bot is not acted on"
		}
		if len(cr.PullRequests) > 0 {
			ev.PR = cr.PullRequests[0].GetNumber()
		}
		// A button press carries nothing that tells two presses apart, so only its delivery id dedupes it. A
		// replayed press cannot decide more than the press did: the check run's external id names the one
		// approval it was shown for.
		return ev, ""
	}
	return ev, fmt.Sprintf("event %T is not acted on", parsed)
}

// fork reports whether a pull request's head lives outside the base repository. A
// head repository GitHub reports as null is a fork that was deleted.
func fork(e *github.PullRequestEvent) bool {
	pr := e.GetPullRequest()
	head := pr.GetHead().GetRepo()
	if head == nil {
		return true
	}
	base := pr.GetBase().GetRepo().GetFullName()
	if base == "" {
		base = e.GetRepo().GetFullName()
	}
	return !strings.EqualFold(head.GetFullName(), base)
}

// contentKey encodes the fields that make a delivery the event it is, as a JSON
// array: unambiguous whatever the fields hold (a ref may contain any separator).
func contentKey(name string, fields ...any) string {
	b, err := json.Marshal(append([]any{name}, fields...))
	if err != nil { // strings, numbers: cannot happen
		return ""
	}
	return string(b)
}

// unix is a payload timestamp in seconds (GitHub sends some as numbers, some as
// strings), or 0 when absent.
func unix(t github.Timestamp) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
