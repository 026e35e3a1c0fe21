package github

import (
	"context"
	"fmt"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// CreateDeployment records a deployment of sha to env. It never blocks on other checks (required_contexts is
// empty) and never merges (auto_merge false); env names decide the production and transient flags.
func (c *Client) CreateDeployment(ctx context.Context, repo, sha, env, description string) (int64, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return 0, err
	}
	description = truncateRunes(c.mask.String(description), 140, true)
	req := &gh.DeploymentRequest{
		Ref:                   gh.String(sha),
		Task:                  gh.String("deploy"),
		AutoMerge:             gh.Bool(false),
		RequiredContexts:      &[]string{},
		Environment:           gh.String(env),
		Description:           gh.String(description),
		TransientEnvironment:  gh.Bool(transientEnv(env)),
		ProductionEnvironment: gh.Bool(productionEnv(env)),
	}
	d, _, err := c.gh.Repositories.CreateDeployment(ctx, owner, name, req)
	if err != nil {
		return 0, c.errorf("create deployment of %s to %s on %s: %w", sha, env, repo, err)
	}
	return d.GetID(), nil
}

// SetDeploymentStatus moves a deployment to state: queued, in_progress, success, failure, error or inactive.
func (c *Client) SetDeploymentStatus(ctx context.Context, repo string, id int64, state, description, logURL, environmentURL string) error {
	switch state {
	case "queued", "in_progress", "success", "failure", "error", "inactive":
	default:
		return fmt.Errorf("deployment %d status: unknown state %q", id, state)
	}
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	req := &gh.DeploymentStatusRequest{State: gh.String(state), Description: gh.String(truncateRunes(c.mask.String(description), 140, true))}
	if logURL != "" {
		req.LogURL = gh.String(logURL)
	}
	if environmentURL != "" {
		req.EnvironmentURL = gh.String(environmentURL)
	}
	if _, _, err := c.gh.Repositories.CreateDeploymentStatus(ctx, owner, name, id, req); err != nil {
		return c.errorf("deployment %d status %s on %s: %w", id, state, repo, err)
	}
	return nil
}

// productionEnv: "prod", "production", "live" and names like "prod-eu" or "eu-prod".
func productionEnv(env string) bool {
	e := strings.ToLower(env)
	switch e {
	case "prod", "production", "live":
		return true
	}
	for _, sep := range []string{"-", "_", "."} {
		if strings.HasPrefix(e, "prod"+sep) || strings.HasPrefix(e, "production"+sep) || strings.HasSuffix(e, sep+"prod") {
			return true
		}
	}
	return false
}

// transientEnv: per-PR and preview environments that go away.
func transientEnv(env string) bool {
	e := strings.ToLower(env)
	for _, p := range []string{"pr-", "pr_", "preview", "review", "ephemeral", "tmp-"} {
		if strings.HasPrefix(e, p) {
			return true
		}
	}
	return false
}
