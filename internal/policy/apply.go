package policy

import (
	"fmt"
	"slices"
	"sort"

	"github.com/gitops-runner/runner/internal/config"
)

// Effective is a repository's configuration under the policy: what the runner does.
type Effective struct {
	// Repo is a copy of the repository configuration whose environments carry the effective Branch and
	// RequireApproval, and no Vars (use Environments[i].Plan.Vars and .Apply.Vars).
	Repo *config.Repo
	// Environments are Repo.Environments, in the same order, with what the policy adds.
	Environments []Environment
	// TerraformVersions are the allowed Terraform versions ("" for any); RepoPolicy.CheckTerraform checks one.
	TerraformVersions string

	// requested are environments as their file asked, before refusals; refused names the refused keys.
	requested map[string]Environment
	refused   map[string][]string
}

// Environment is one environment's effective configuration.
type Environment struct {
	config.Environment // Branch and RequireApproval are effective; Vars is nil (see Plan and Apply)

	Approvers Approvers
	// Protected environments need an approval whenever a deploy's plan differs from the plan reviewed on the
	// merged pull request (or there is no reviewed plan), even where they do not require approval otherwise.
	Protected bool
	PlanRole  *Role // nil: the policy sets none
	ApplyRole *Role
	Plan      Phase
	Apply     Phase
}

// Environment returns the environment with that name.
func (e Effective) Environment(name string) (Environment, bool) {
	for _, env := range e.Environments {
		if env.Name == name {
			return env, true
		}
	}
	return Environment{}, false
}

// DeployedFrom returns the environments that pushes to branch deploy, in deploy order. Pushes to any other
// branch deploy nothing.
func (e Effective) DeployedFrom(branch string) []Environment {
	var out []Environment
	for _, ce := range orderedEnvs(e) {
		if ce.Branch == branch {
			env, _ := e.Environment(ce.Name)
			out = append(out, env)
		}
	}
	return out
}

// Apply combines the policy with a repository's configuration (.runner.yaml, or its defaults). The server's
// settings win; the file may set an environment key only where allowed_overrides lets it, and may never
// loosen what the server sets: drop require_approval, move a deploy branch, or change a var the server sets.
// It always returns an Effective that obeys the policy (refused values are left out). When the file asks
// for something the policy refuses, the error is a config.RepoErrors, one problem per refusal, that names
// .runner.yaml and the line, fit to post on the pull request.
func (rp RepoPolicy) Apply(repo *config.Repo) (Effective, error) {
	cp := *repo
	cp.Environments = make([]config.Environment, len(repo.Environments))
	eff := Effective{Repo: &cp, TerraformVersions: rp.TerraformVersions,
		requested: map[string]Environment{}, refused: map[string][]string{}}
	var problems config.RepoErrors
	for i, ce := range repo.Environments {
		a := applier{rp: rp, repo: repo, ce: ce, s: rp.settings(ce.Name)}
		env, req := a.environment(i)
		problems = append(problems, a.problems...)
		if len(a.refused) > 0 {
			eff.requested[ce.Name], eff.refused[ce.Name] = req, a.refused
		}
		cp.Environments[i] = env.Environment
		eff.Environments = append(eff.Environments, env)
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		return eff, problems
	}
	return eff, nil
}

// applier applies the policy to one environment.
type applier struct {
	rp       RepoPolicy
	repo     *config.Repo
	ce       config.Environment
	s        envSettings
	problems config.RepoErrors
	refused  []string
}

func (a *applier) refuse(key, format string, args ...any) {
	line, _ := a.repo.Explicit(a.ce.Name, key)
	a.problems = append(a.problems, &config.RepoProblem{File: config.RepoFile, Line: line,
		Msg: fmt.Sprintf("environment %s: ", a.ce.Name) + fmt.Sprintf(format, args...)})
	a.refused = append(a.refused, key)
}

func (a *applier) set(key string) bool {
	_, ok := a.repo.Explicit(a.ce.Name, key)
	return ok
}

// notAllowed refuses a key that allowed_overrides does not list.
func (a *applier) notAllowed(key string) {
	a.refuse(key, "%s cannot be set in %s for this repository (the server policy lets it set: %s)", key, config.RepoFile, a.rp.allowedList())
}

// environment returns the effective environment, and the one the file asked for.
func (a *applier) environment(i int) (Environment, Environment) {
	ce, s := a.ce, a.s
	// Copies throughout, so that what callers do with an Effective cannot change the policy.
	env := Environment{Environment: ce, PlanRole: cloneRole(s.planRole), ApplyRole: cloneRole(s.applyRole),
		Plan: s.phase(phasePlan), Apply: s.phase(phaseApply)}
	if s.approvers != nil {
		env.Approvers = Approvers{Users: slices.Clone(s.approvers.Users), Teams: slices.Clone(s.approvers.Teams),
			SlackGroups: slices.Clone(s.approvers.SlackGroups)}
	}
	env.Protected = s.protected != nil && *s.protected
	env.Vars = nil
	req := env
	req.Plan, req.Apply = s.phase(phasePlan), s.phase(phaseApply)
	for k, v := range ce.Vars {
		req.Plan.Vars[k], req.Apply.Vars[k] = v, v
	}

	// The deploy branch: the server's, else the file's where allowed, else the default.
	switch {
	case s.branch != nil:
		env.Branch = *s.branch
		if a.set("branch") && ce.Branch != *s.branch {
			a.refuse("branch", "cannot move the deploy branch from %q to %q: the server policy sets it", *s.branch, ce.Branch)
		}
	case a.set("branch") && !a.rp.overridable("branch") && ce.Branch != config.EnvironmentDefaultBranch:
		env.Branch = config.EnvironmentDefaultBranch
		a.notAllowed("branch")
	}

	// Approval: the server's requirement stands; a file may add one where allowed.
	serverApproval := s.requireApproval != nil && *s.requireApproval
	env.RequireApproval = serverApproval
	switch {
	case !a.set("require_approval") || ce.RequireApproval == serverApproval: // nothing changes
	case serverApproval:
		a.refuse("require_approval", "cannot drop require_approval: the server policy requires approval")
	case !a.rp.overridable("require_approval"):
		a.notAllowed("require_approval")
	default:
		env.RequireApproval = true
	}

	// Keys the server never sets: the file's where allowed, else the default. Setting the default changes
	// nothing and is always accepted.
	d := config.Environment{Order: i + 1, APIURL: config.EnvironmentDefaultAPIURL, Refresh: config.DefaultRefresh()}
	for _, k := range []struct {
		key   string
		same  bool
		reset func()
	}{
		{"order", ce.Order == d.Order, func() { env.Order = d.Order }},
		{"api_url", ce.APIURL == d.APIURL, func() { env.APIURL = d.APIURL }},
		{"artifacts_bucket", ce.ArtifactsBucket == "", func() { env.ArtifactsBucket = "" }},
		{"slack_channel", ce.SlackChannel == "", func() { env.SlackChannel = "" }},
		{"refresh", ce.Refresh == d.Refresh, func() { env.Refresh = d.Refresh }},
	} {
		if a.set(k.key) && !k.same && !a.rp.overridable(k.key) {
			k.reset()
			a.notAllowed(k.key)
		}
	}

	// Vars: the server's win; the file's fill in where allowed.
	refusedVars := false
	for _, k := range sortedKeys(ce.Vars) {
		v := ce.Vars[k]
		pv, inPlan := env.Plan.Vars[k]
		av, inApply := env.Apply.Vars[k]
		switch {
		case (inPlan && pv != v) || (inApply && av != v):
			a.refuse("vars", "vars.%s is set by the server policy", k)
		case inPlan && inApply: // the server's value: nothing changes
		case !a.rp.overridable("vars"):
			if !refusedVars {
				a.notAllowed("vars")
				refusedVars = true
			}
		default:
			env.Plan.Vars[k], env.Apply.Vars[k] = v, v
		}
	}
	env.Projects = a.projects(env, refusedVars)
	return env, req
}

// projects applies the vars rule to each project's own -var inputs (which hold the environment's too):
// where the file may not set vars none is kept, and a var the server sets is always the server's.
func (a *applier) projects(env Environment, refusedVars bool) []config.Project {
	out := make([]config.Project, len(a.ce.Projects))
	for i, p := range a.ce.Projects {
		p.Vars = nil
		for _, k := range sortedKeys(a.ce.Projects[i].Vars) {
			v := a.ce.Projects[i].Vars[k]
			pv, inPlan := env.Plan.Vars[k]
			av, inApply := env.Apply.Vars[k]
			switch {
			case (inPlan && pv != v) || (inApply && av != v):
				if _, fromEnv := a.ce.Vars[k]; !fromEnv {
					a.refuse("vars", "project %s: vars.%s is set by the server policy", p.Name, k)
				}
			case inPlan && inApply: // the server's value
			case !a.rp.overridable("vars"):
				if !refusedVars {
					a.notAllowed("vars")
					refusedVars = true
				}
			default:
				if p.Vars == nil {
					p.Vars = map[string]string{}
				}
				p.Vars[k] = v
			}
		}
		out[i] = p
	}
	return out
}

func cloneRole(r *Role) *Role {
	if r == nil {
		return nil
	}
	c := *r
	return &c
}
