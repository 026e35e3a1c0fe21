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

// PullRequest is what the runner needs of an open pull request to plan it on request.
type PullRequest struct {
	Number  int
	State   string // open or closed
	Merged  bool
	Draft   bool
	HeadSHA string
	HeadRef string
	BaseSHA string
	BaseRef string
	// HeadRepo is the full name ("owner/name") of the repository the head branch lives in: a fork's, or the
	// base repository's own; empty when the fork has been deleted.
	HeadRepo string
	Author   string // the login of who opened it
	// CloneURL and DefaultBranch are the base repository's.
	CloneURL      string
	DefaultBranch string
}

// PullRequest reads pull request number of repo as GitHub knows it now.
func (c *Client) PullRequest(ctx context.Context, repo string, number int) (PullRequest, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return PullRequest{}, err
	}
	p, _, err := c.gh.PullRequests.Get(ctx, owner, name, number)
	if err != nil {
		return PullRequest{}, c.errorf("pull request %s#%d: %w", repo, number, err)
	}
	pr := PullRequest{
		Number:        p.GetNumber(),
		State:         p.GetState(),
		Merged:        p.GetMerged(),
		Draft:         p.GetDraft(),
		HeadSHA:       p.GetHead().GetSHA(),
		HeadRef:       p.GetHead().GetRef(),
		BaseSHA:       p.GetBase().GetSHA(),
		BaseRef:       p.GetBase().GetRef(),
		HeadRepo:      p.GetHead().GetRepo().GetFullName(),
		Author:        p.GetUser().GetLogin(),
		CloneURL:      p.GetBase().GetRepo().GetCloneURL(),
		DefaultBranch: p.GetBase().GetRepo().GetDefaultBranch(),
	}
	if pr.HeadSHA == "" {
		return PullRequest{}, c.errorf("pull request %s#%d: GitHub answered no head SHA", repo, number)
	}
	return pr, nil
}
