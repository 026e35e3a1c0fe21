package github

import (
	"context"
	"slices"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// Reactions GitHub accepts on a comment.
var reactions = []string{"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}

// React adds a reaction (GitHub's content: "+1", "-1", "laugh", "confused", "heart", "hooray", "rocket" or
// "eyes") to an issue or pull request comment: how the runner acknowledges a command. Reacting twice the same
// way is not an error.
func (c *Client) React(ctx context.Context, repo string, commentID int64, content string) error {
	if !slices.Contains(reactions, content) {
		return c.errorf("react to comment %d on %s: %q is not one of %s", commentID, repo, content, strings.Join(reactions, ", "))
	}
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	if _, _, err := c.gh.Reactions.CreateIssueCommentReaction(ctx, owner, name, commentID, content); err != nil {
		return c.errorf("react %s to comment %d on %s: %w", content, commentID, repo, err)
	}
	return nil
}

// Reply posts a new comment on the pull request: the answer to a command, so never sticky. The body is redacted
// and cut to GitHub's comment limit.
func (c *Client) Reply(ctx context.Context, repo string, pr int, body string) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	body = cutMarkdown(c.mask.String(body), MaxCommentLength)
	if _, _, err := c.gh.Issues.CreateComment(ctx, owner, name, pr, &gh.IssueComment{Body: &body}); err != nil {
		return c.errorf("reply on %s#%d: %w", repo, pr, err)
	}
	return nil
}
