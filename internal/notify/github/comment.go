package github

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// UpsertPlanComment keeps one sticky comment per environment on the pull request, found again by its hidden
// marker and its author (the runner itself: a marker in someone else's comment is left alone) and edited in place
// on every push. Plan text too long for one comment continues in numbered parts, also edited in place; parts no
// longer needed are deleted. Callers serialise calls per (repo, pr, env), as the pipeline does under the
// environment lock.
func (c *Client) UpsertPlanComment(ctx context.Context, repo string, pr int, env string, summaryMarkdown string, planText string) error {
	if !envPattern.MatchString(env) {
		return fmt.Errorf("plan comment: environment name %q has characters a marker cannot hold", env)
	}
	// Redacted before the split, so the parts' budgets hold for the redacted text.
	bodies, err := renderPlan(env, c.mask.String(summaryMarkdown), c.mask.String(planText), MaxCommentLength)
	if err != nil {
		return c.errorf("plan comment for %s on %s#%d: %w", env, repo, pr, err)
	}
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	comments, err := c.ownComments(ctx, owner, name, pr, func(body string) bool {
		_, ok := parsePlanMarker(body, env)
		return ok
	})
	if err != nil {
		return c.errorf("plan comment for %s on %s#%d: %w", env, repo, pr, err)
	}
	byPart := map[int][]*gh.IssueComment{}
	for _, cm := range comments {
		part, _ := parsePlanMarker(cm.GetBody(), env)
		byPart[part] = append(byPart[part], cm)
	}
	for i, body := range bodies {
		part := i + 1
		existing := byPart[part]
		delete(byPart, part)
		if err := c.putComment(ctx, owner, name, pr, existing, body); err != nil {
			return c.errorf("plan comment for %s on %s#%d part %d: %w", env, repo, pr, part, err)
		}
	}
	stale := make([]int, 0, len(byPart))
	for part := range byPart {
		stale = append(stale, part)
	}
	slices.Sort(stale)
	for _, part := range stale {
		for _, cm := range byPart[part] {
			if _, err := c.gh.Issues.DeleteComment(ctx, owner, name, cm.GetID()); err != nil && !notFound(err) {
				return c.errorf("delete stale plan comment part %d for %s on %s#%d: %w", part, env, repo, pr, err)
			}
		}
	}
	return nil
}

// putComment edits the first existing comment (unless it already says body) and deletes duplicates left by an
// earlier race, or creates the comment when there is none.
func (c *Client) putComment(ctx context.Context, owner, name string, pr int, existing []*gh.IssueComment, body string) error {
	if len(existing) == 0 {
		_, _, err := c.gh.Issues.CreateComment(ctx, owner, name, pr, &gh.IssueComment{Body: &body})
		return err
	}
	if existing[0].GetBody() != body {
		if _, _, err := c.gh.Issues.EditComment(ctx, owner, name, existing[0].GetID(), &gh.IssueComment{Body: &body}); err != nil {
			return err
		}
	}
	for _, dup := range existing[1:] {
		if _, err := c.gh.Issues.DeleteComment(ctx, owner, name, dup.GetID()); err != nil && !notFound(err) {
			return err
		}
	}
	return nil
}

// listComments reads every comment on the issue, following pagination.
func (c *Client) listComments(ctx context.Context, owner, name string, pr int) ([]*gh.IssueComment, error) {
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	var all []*gh.IssueComment
	for {
		page, resp, err := c.gh.Issues.ListComments(ctx, owner, name, pr, opts)
		if err != nil {
			return nil, fmt.Errorf("list comments: %w", err)
		}
		all = append(all, page...)
		if resp.NextPage == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
}

// ownComments lists the issue's comments and keeps the runner's own that marked accepts. Only those may be edited
// or deleted: anyone can type a marker. The runner's login is asked only when some comment is marked, so a
// pull request's first comment costs no extra call.
func (c *Client) ownComments(ctx context.Context, owner, name string, pr int, marked func(body string) bool) ([]*gh.IssueComment, error) {
	comments, err := c.listComments(ctx, owner, name, pr)
	if err != nil {
		return nil, err
	}
	comments = slices.DeleteFunc(comments, func(cm *gh.IssueComment) bool { return !marked(cm.GetBody()) })
	if len(comments) == 0 {
		return nil, nil
	}
	me, err := c.self.get(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(comments, func(cm *gh.IssueComment) bool { return !me.wrote(cm) }), nil
}

// upsertComment keeps a single comment of the runner's starting with marker.
func (c *Client) upsertComment(ctx context.Context, owner, name string, pr int, marker, body string) error {
	existing, err := c.ownComments(ctx, owner, name, pr, func(b string) bool { return strings.HasPrefix(b, marker) })
	if err != nil {
		return err
	}
	return c.putComment(ctx, owner, name, pr, existing, body)
}

func notFound(err error) bool {
	var er *gh.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == 404
}
