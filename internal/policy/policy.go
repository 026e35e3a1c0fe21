package policy

import (
	"fmt"
	"github.com/robfig/cron/v3"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-version"
)

// Policy is the operator's repository policy. The zero value is the built-in default that applies without
// RUNNER_REPOS_CONFIG; Parse and Load build one from a file. A Policy is read-only once built and safe for
// concurrent use.
type Policy struct {
	// AllowForkPRs is whether fork pull requests are planned where an entry does not say (fork_prs), and in
	// the built-in default: RUNNER_ALLOW_FORK_PRS. Set it before use.
	AllowForkPRs bool
	// CommandPrefix is how comment commands start (RUNNER_COMMAND_PREFIX), for the hints given when a pull
	// request is not planned; "" means "/runner". Set it before use.
	CommandPrefix string

	entries    []entry
	slackUsers map[string]string // Slack user id -> GitHub login
}

type entry struct {
	match   []string // lower-case owner/name globs
	forkPRs *bool
	rp      RepoPolicy
}

// RepoPolicy is what the policy says about one repository. Its exported fields are read-only.
type RepoPolicy struct {
	Source            string // which entry applies, for logs: "repos[1] (line 12)" or "built-in default"
	ForkPRs           bool   // plan pull requests whose head is in another repository
	DraftPRs          bool   // plan draft pull requests
	Plan              Rule   // whom a pull request's author must be to have it planned
	TerraformVersions string // allowed Terraform versions, as written; "" allows any
	// AllowRunSteps lets the repository's workflows run commands of their own (run steps), in the sandbox
	// with the phase's credentials. Off by default: tflint and policy steps need no permission.
	AllowRunSteps bool
	// DistinctApprover forbids the author of a change (the pull request's author, or the pusher) to approve it.
	DistinctApprover bool
	// ApprovalTimeout is how long a deploy waits for approval; 0: the runner's default (RUNNER_APPROVAL_TIMEOUT).
	ApprovalTimeout time.Duration

	commands map[string]Rule // per command kind, where the entry sets one

	constraints version.Constraints
	overrides   map[string]bool // keys .runner.yaml may set per environment; nil: every key
	prefix      string          // the comment command prefix, for hints
	defaults    envSettings
	envs        map[string]envSettings
}

// Role is an AWS IAM role the runner assumes for one phase of one environment.
type Role struct {
	ARN             string
	ExternalID      string        // "" for none
	SessionDuration time.Duration // 0: the AWS default (one hour)
	SessionPolicy   string        // an inline session policy (JSON); "" for none
}

// Approvers are the users and teams ("org/slug") who may approve an environment's deploys, and the Slack
// user groups whose members may approve it with a Slack button.
type Approvers struct {
	Users       []string
	Teams       []string
	SlackGroups []string
}

// Phase is what Terraform gets in one phase (plan or apply) besides the role's session credentials and
// AWS_REGION.
type Phase struct {
	PassEnv []string          // variables of the runner's environment Terraform inherits, by exact name
	Vars    map[string]string // -var inputs
}

// overridableKeys are the .runner.yaml environment keys that allowed_overrides may list. An environment's
// name and dir are always the repository's; roles, approvers and pass_env never are.
var overridableKeys = []string{"order", "branch", "require_approval", "api_url", "artifacts_bucket", "slack_channel", "refresh", "vars"}

// Phases.
const (
	phasePlan  = "plan"
	phaseApply = "apply"
)

// envSettings is what the server sets for an environment (or for all, as defaults); nil and absent mean
// "not set".
type envSettings struct {
	branch          *string
	requireApproval *bool
	protected       *bool
	approvers       *Approvers
	planRole        *Role
	applyRole       *Role
	driftCheck      *string                      // cron schedule of drift checks; "" or "off": none
	passEnv         map[string][]string          // by phase; a phase present is set, even if empty
	vars            map[string]map[string]string // by phase, then name
}

// For returns the policy of repo ("owner/name"): the first entry with a matching glob, else the built-in
// default (a policy file can end with a catch-all "*/*" entry to avoid that).
func (p *Policy) For(repo string) RepoPolicy {
	name := strings.ToLower(repo)
	for _, e := range p.entries {
		for _, g := range e.match {
			if ok, _ := path.Match(g, name); ok {
				rp := e.rp
				rp.prefix = p.CommandPrefix
				rp.ForkPRs = p.AllowForkPRs
				if e.forkPRs != nil {
					rp.ForkPRs = *e.forkPRs
				}
				return rp
			}
		}
	}
	return RepoPolicy{Source: "built-in default", ForkPRs: p.AllowForkPRs, Plan: Rule{MinLevel: LevelWrite}, prefix: p.CommandPrefix}
}

// CheckTerraform returns an error, fit to show on a pull request, when the policy does not allow Terraform
// version v.
func (rp RepoPolicy) CheckTerraform(v string) error {
	if len(rp.constraints) == 0 {
		return nil
	}
	ver, err := version.NewVersion(v)
	if err != nil {
		return fmt.Errorf("terraform version %q is not a version", v)
	}
	if !rp.constraints.Check(ver) {
		return fmt.Errorf("terraform %s is not allowed for this repository (the server policy allows %s)", ver, rp.TerraformVersions)
	}
	return nil
}

func (rp RepoPolicy) overridable(key string) bool { return rp.overrides == nil || rp.overrides[key] }

// allowedList says which keys may be set, for messages.
func (rp RepoPolicy) allowedList() string {
	var keys []string
	for _, k := range overridableKeys {
		if rp.overridable(k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "none"
	}
	return strings.Join(keys, ", ")
}

// settings resolves an environment's server settings: its own entry's, else the defaults'. Vars merge by
// name, the environment's winning.
func (rp RepoPolicy) settings(env string) envSettings {
	d, e := rp.defaults, rp.envs[env]
	out := envSettings{
		branch:          first(e.branch, d.branch),
		requireApproval: first(e.requireApproval, d.requireApproval),
		protected:       first(e.protected, d.protected),
		approvers:       first(e.approvers, d.approvers),
		planRole:        first(e.planRole, d.planRole),
		applyRole:       first(e.applyRole, d.applyRole),
		driftCheck:      first(e.driftCheck, d.driftCheck),
		passEnv:         map[string][]string{},
		vars:            map[string]map[string]string{},
	}
	for _, ph := range []string{phasePlan, phaseApply} {
		if v, ok := e.passEnv[ph]; ok {
			out.passEnv[ph] = v
		} else if v, ok := d.passEnv[ph]; ok {
			out.passEnv[ph] = v
		}
		vars := map[string]string{}
		for k, v := range d.vars[ph] {
			vars[k] = v
		}
		for k, v := range e.vars[ph] {
			vars[k] = v
		}
		out.vars[ph] = vars
	}
	return out
}

// DriftSchedule is when env is checked for drift (drift_check, cron), or nil when it is not.
func (rp RepoPolicy) DriftSchedule(env string) cron.Schedule {
	spec := rp.settings(env).driftCheck
	if spec == nil || *spec == "" || *spec == "off" {
		return nil
	}
	sched, err := cron.ParseStandard(*spec)
	if err != nil {
		return nil // refused when the policy was read
	}
	return sched
}

func first[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

// phase is the server's part of one phase of an environment, copied so callers cannot change the policy.
func (s envSettings) phase(ph string) Phase {
	return Phase{PassEnv: slices.Clone(s.passEnv[ph]), Vars: cloneMap(s.vars[ph])}
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
