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

// MergedPR returns the number and head SHA of the merged pull request whose merge commit is sha, or 0 when there
// is none (a direct push, or a commit that is only on some branch).
func (c *Client) MergedPR(ctx context.Context, repo, sha string) (number int, headSHA string, err error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return 0, "", err
	}
	prs, _, err := c.gh.PullRequests.ListPullRequestsWithCommit(ctx, owner, name, sha, &gh.ListOptions{PerPage: 100})
	if err != nil {
		return 0, "", c.errorf("pull requests with commit %s on %s: %w", sha, repo, err)
	}
	pr := pickMerged(prs, sha)
	if pr == nil || !mergedAs(pr, sha) {
		return 0, "", nil
	}
	return pr.GetNumber(), pr.GetHead().GetSHA(), nil
}

// mergedAs reports whether p was merged with merge commit sha (list answers carry merged_at, not merged).
func mergedAs(p *gh.PullRequest, sha string) bool {
	return (p.MergedAt != nil || p.GetMerged()) && p.GetMergeCommitSHA() == sha
}

// pickMerged prefers the merged pull request whose merge commit is sha, else the first.
func pickMerged(prs []*gh.PullRequest, sha string) *gh.PullRequest {
	for _, p := range prs {
		if mergedAs(p, sha) {
			return p
		}
	}
	if len(prs) > 0 {
		return prs[0]
	}
	return nil
}
