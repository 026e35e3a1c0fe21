package server

import (
	"cmp"
	"context"
	"fmt"
	"maps"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/gitops-runner/runner/internal/awscreds"
	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/pipeline"
	"github.com/gitops-runner/runner/internal/policy"
)

// loadPolicy reads the server-side repository policy (the built-in default without a file).
func loadPolicy(cfg config.Server) (*policy.Policy, error) {
	p := &policy.Policy{}
	var err error
	switch {
	case cfg.ReposConfig != "":
		if p, err = policy.Load(cfg.ReposConfig); err != nil {
			return nil, fmt.Errorf("RUNNER_REPOS_CONFIG: %w", err)
		}
	case cfg.ReposConfigYAML != "":
		if p, err = policy.Parse([]byte(cfg.ReposConfigYAML)); err != nil {
			return nil, fmt.Errorf("RUNNER_REPOS_CONFIG_YAML: %w", err)
		}
	}
	p.AllowForkPRs = cfg.AllowForkPRs
	p.CommandPrefix = cfg.CommandPrefix
	return p, nil
}

// runPolicy applies the server policy to runs (pipeline.Policy).
type runPolicy struct {
	p     *policy.Policy
	perms policy.Checker // GitHub look-ups; nil when the runner has no GitHub client
}

func (r runPolicy) For(repo string) policy.RepoPolicy { return r.p.For(repo) }

func (r runPolicy) MayPlan(ctx context.Context, ev event.Event) (policy.Decision, error) {
	pr := policy.PR{Repo: ev.Repo, Number: ev.PR, Author: cmp.Or(ev.Author, ev.Sender), HeadRepo: ev.HeadRepo, Draft: ev.Draft}
	if pr.HeadRepo == "" && !ev.Fork {
		pr.HeadRepo = ev.Repo // recorded before the head repository was
	}
	perms := r.perms
	if perms == nil {
		perms = noGitHub{}
	}
	return r.p.MayPlan(ctx, perms, pr)
}

// noGitHub answers permission look-ups when the runner cannot ask GitHub: nobody qualifies.
type noGitHub struct{}

func (noGitHub) Allows(_ context.Context, repo, user string, _ policy.Rule) (policy.Decision, error) {
	return policy.Decision{Reason: fmt.Sprintf("the runner has no GitHub credentials to check %s's access to %s", user, repo)}, nil
}

// Assumer gets a role's session credentials (implemented by awscreds.Assumer).
type Assumer interface {
	Credentials(ctx context.Context, role awscreds.Role, s awscreds.Session) (awscreds.Credentials, error)
}

// phaseCredentials gives Terraform the policy's role session for each phase (pipeline.Credentials):
// never the runner's own credentials; without a role, none at all.
type phaseCredentials struct {
	assumer Assumer
	region  string
	getenv  func(string) string // the runner's environment, for pass_env
}

func (c phaseCredentials) Environ(ctx context.Context, req pipeline.CredentialsRequest) (pipeline.Grant, error) {
	role, phase := req.Env.PlanRole, req.Env.Plan
	if req.Phase == pipeline.PhaseApply {
		role, phase = req.Env.ApplyRole, req.Env.Apply
	}
	s := awscreds.Session{Repo: req.Repo, PR: req.PR, Env: req.Env.Name, RunID: req.RunID, Phase: req.Phase}
	var g pipeline.Grant
	env := map[string]string{}
	if role == nil || role.ARN == "" {
		maps.Copy(env, awscreds.NoCredentialsEnv(c.region))
		g.Note = awscreds.NoRoleNote(s)
	} else {
		if c.assumer == nil {
			return g, fmt.Errorf("%s role %s: no AWS configuration to assume it from", req.Phase, role.ARN)
		}
		creds, err := c.assumer.Credentials(ctx, awscreds.Role{
			ARN: role.ARN, ExternalID: role.ExternalID, Duration: role.SessionDuration, SessionPolicy: role.SessionPolicy,
		}, s)
		if err != nil {
			return g, err
		}
		maps.Copy(env, creds.Env(c.region))
		g.Secrets = creds.Secrets()
		g.Note = fmt.Sprintf("%s with role %s (session %s)", map[string]string{pipeline.PhasePlan: "planned", pipeline.PhaseApply: "applied"}[req.Phase], role.ARN, creds.SessionName)
	}
	for _, name := range phase.PassEnv {
		v := ""
		if c.getenv != nil {
			v = c.getenv(name)
		}
		if v == "" {
			continue
		}
		if len(tfexec.ProhibitedEnv(map[string]string{name: v})) > 0 {
			continue // terraform-exec manages it (TF_VAR_ values are vars in the policy)
		}
		env[name] = v
		g.Secrets = append(g.Secrets, v) // passed on by name: often a token
	}
	g.Env = env
	return g, nil
}

// NewCredentials gives Terraform the policy's role sessions, assumed with assumer (tests pass one
// pointed at a stand-in of STS); getenv reads the runner's variables the policy passes on.
func NewCredentials(assumer Assumer, region string, getenv func(string) string) pipeline.Credentials {
	return phaseCredentials{assumer: assumer, region: region, getenv: getenv}
}
