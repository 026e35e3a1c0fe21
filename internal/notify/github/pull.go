package github

import (
	"context"
)

// PullHead returns the SHA the pull request's head branch points at now, as GitHub knows it.
func (c *Client) PullHead(ctx context.Context, repo string, pr int) (string, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return "", err
	}
	p, _, err := c.gh.PullRequests.Get(ctx, owner, name, pr)
	if err != nil {
		return "", c.errorf("pull request %s#%d: %w", repo, pr, err)
	}
	sha := p.GetHead().GetSHA()
	if sha == "" {
		return "", c.errorf("pull request %s#%d: GitHub answered no head SHA", repo, pr)
	}
	return sha, nil
}
