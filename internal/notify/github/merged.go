package github

import (
	"context"

	gh "github.com/google/go-github/v60/github"
)

// CommentOnMergedPR finds the pull request that brought sha in and keeps one deploy comment per sha on it, so a
// re-run edits the comment rather than adding another. It returns the PR number, or 0 and no error when no
// pull request contains sha (a direct push).
func (c *Client) CommentOnMergedPR(ctx context.Context, repo, sha, body string) (int, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return 0, err
	}
	prs, _, err := c.gh.PullRequests.ListPullRequestsWithCommit(ctx, owner, name, sha, &gh.ListOptions{PerPage: 100})
	if err != nil {
		return 0, c.errorf("pull requests with commit %s on %s: %w", sha, repo, err)
	}
	pr := pickMerged(prs, sha)
	if pr == nil {
		return 0, nil
	}
	n := pr.GetNumber()
	if err := c.upsertComment(ctx, owner, name, n, deployMarker(sha), renderDeploy(sha, c.mask.String(body), MaxCommentLength)); err != nil {
		return n, c.errorf("deploy comment on %s#%d: %w", repo, n, err)
	}
	return n, nil
}

// pickMerged prefers the merged pull request whose merge commit is sha (list answers carry merged_at, not merged).
func pickMerged(prs []*gh.PullRequest, sha string) *gh.PullRequest {
	for _, p := range prs {
		if (p.MergedAt != nil || p.GetMerged()) && p.GetMergeCommitSHA() == sha {
			return p
		}
	}
	if len(prs) > 0 {
		return prs[0]
	}
	return nil
}
