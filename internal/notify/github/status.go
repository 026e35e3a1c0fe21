package github

import (
	"context"
	"fmt"

	gh "github.com/google/go-github/v60/github"
)

// Commit status states GitHub accepts.
const (
	StatePending = "pending"
	StateSuccess = "success"
	StateFailure = "failure"
	StateError   = "error"
)

// SetStatus posts a commit status unless the latest status of that context already says the same, so repeated
// deliveries and re-runs do not pile up identical statuses. The description is cut to 140 characters and the
// context to 255, GitHub's limits.
func (c *Client) SetStatus(ctx context.Context, repo, sha, context, state, description, targetURL string) error {
	switch state {
	case StatePending, StateSuccess, StateFailure, StateError:
	default:
		return c.errorf("commit status %q: state %q is not pending, success, failure or error", context, state)
	}
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	context = truncateRunes(context, 255, false)
	description = truncateRunes(c.mask.String(description), 140, true)
	latest, err := c.latestStatus(ctx, owner, name, sha, context)
	if err != nil {
		return c.errorf("commit status %s on %s@%s: %w", context, repo, sha, err)
	}
	if latest != nil && latest.GetState() == state && latest.GetDescription() == description && latest.GetTargetURL() == targetURL {
		return nil
	}
	st := &gh.RepoStatus{State: &state, Context: &context, Description: &description}
	if targetURL != "" {
		st.TargetURL = &targetURL
	}
	if _, _, err := c.gh.Repositories.CreateStatus(ctx, owner, name, sha, st); err != nil {
		return c.errorf("commit status %s on %s@%s: %w", context, repo, sha, err)
	}
	return nil
}

// latestStatus finds the newest status of a context; GitHub lists statuses newest first.
func (c *Client) latestStatus(ctx context.Context, owner, name, sha, context string) (*gh.RepoStatus, error) {
	opts := &gh.ListOptions{PerPage: 100}
	for range 10 {
		page, resp, err := c.gh.Repositories.ListStatuses(ctx, owner, name, sha, opts)
		if err != nil {
			return nil, fmt.Errorf("list statuses: %w", err)
		}
		for _, st := range page {
			if st.GetContext() == context {
				return st, nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return nil, nil
}
