package policy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gitops-runner/runner/internal/config"
)

// Limits of AWS STS AssumeRole.
const (
	minSessionDuration  = 15 * time.Minute
	maxSessionDuration  = 12 * time.Hour
	maxSessionPolicyLen = 2048
)

var (
	roleARNRE    = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$`)
	externalIDRE = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	envNameRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	teamRE       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9_.-]{1,100}$`)
	loginRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}(?:\[bot\])?$`)
)

// runnerEnv are variables the runner sets for Terraform itself: credentials come only from the roles.
var runnerEnv = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION"}

type roleProblem struct{ key, msg string }

// newRole validates a role; problems name the key they are about.
func newRole(raw *rawRole) (*Role, []roleProblem) {
	r := &Role{ARN: raw.ARN, ExternalID: raw.ExternalID, SessionPolicy: raw.SessionPolicy}
	var out []roleProblem
	if raw.SessionDuration != "" {
		d, err := time.ParseDuration(raw.SessionDuration)
		if err != nil {
			out = append(out, roleProblem{"session_duration", fmt.Sprintf("session_duration %q is not a duration like \"1h\"", raw.SessionDuration)})
		} else if d == 0 {
			d = -1 // "0s" is not "unset": let checkRole refuse it
		}
		r.SessionDuration = d
	}
	out = append(out, checkRole(r)...)
	return r, out
}

// checkRole checks a role's values: what Parse accepts, and what FuzzParse re-checks.
func checkRole(r *Role) []roleProblem {
	var out []roleProblem
	switch {
	case r.ARN == "":
		out = append(out, roleProblem{"arn", "arn is required"})
	case !roleARNRE.MatchString(r.ARN):
		out = append(out, roleProblem{"arn", fmt.Sprintf("arn %q is not an IAM role ARN (arn:aws:iam::123456789012:role/name)", r.ARN)})
	}
	if id := r.ExternalID; id != "" && (len(id) < 2 || len(id) > 1224 || !externalIDRE.MatchString(id)) {
		out = append(out, roleProblem{"external_id", "external_id must be 2 to 1224 letters, digits or +=,.@:/-"})
	}
	if d := r.SessionDuration; d != 0 && (d < minSessionDuration || d > maxSessionDuration) {
		out = append(out, roleProblem{"session_duration", "session_duration must be between 15m and 12h"})
	}
	if p := r.SessionPolicy; p != "" {
		var obj map[string]any
		switch {
		case len(p) > maxSessionPolicyLen:
			out = append(out, roleProblem{"session_policy", fmt.Sprintf("session_policy is %d characters, more than the %d AWS allows", len(p), maxSessionPolicyLen)})
		case json.Unmarshal([]byte(p), &obj) != nil:
			out = append(out, roleProblem{"session_policy", "session_policy is not a JSON object"})
		}
	}
	return out
}

// checkEnvName accepts a variable of the runner's environment that Terraform may inherit.
func checkEnvName(n string) error {
	switch {
	case !envNameRE.MatchString(n):
		return fmt.Errorf("%q is not an environment variable name", n)
	case slices.ContainsFunc(runnerEnv, func(x string) bool { return strings.EqualFold(x, n) }):
		return fmt.Errorf("%q is set by the runner (credentials come only from plan_role and apply_role)", n)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// check re-validates a built Policy: the invariants the rest of the runner relies on, whatever built it.
func (p *Policy) check() error {
	for i, e := range p.entries {
		if len(e.match) == 0 {
			return fmt.Errorf("repos[%d]: no globs", i)
		}
		for _, g := range e.match {
			if err := checkGlob(g); err != nil || g != strings.ToLower(g) {
				return fmt.Errorf("repos[%d]: glob %q", i, g)
			}
		}
		rp := e.rp
		if rp.Plan.MinLevel <= LevelNone || rp.Plan.MinLevel > LevelAdmin {
			return fmt.Errorf("repos[%d]: plan level %d", i, rp.Plan.MinLevel)
		}
		if err := checkPeople(rp.Plan.Teams, rp.Plan.Users); err != nil {
			return fmt.Errorf("repos[%d]: plan: %w", i, err)
		}
		if (rp.TerraformVersions == "") != (len(rp.constraints) == 0) {
			return fmt.Errorf("repos[%d]: terraform_versions %q not parsed", i, rp.TerraformVersions)
		}
		for k := range rp.overrides {
			if !slices.Contains(overridableKeys, k) {
				return fmt.Errorf("repos[%d]: override %q", i, k)
			}
		}
		if err := rp.defaults.check(); err != nil {
			return fmt.Errorf("repos[%d]: defaults: %w", i, err)
		}
		for name, s := range rp.envs {
			if !config.ValidEnvironmentName(name) {
				return fmt.Errorf("repos[%d]: environment %q", i, name)
			}
			if err := s.check(); err != nil {
				return fmt.Errorf("repos[%d]: environment %s: %w", i, name, err)
			}
		}
	}
	return nil
}

func (s envSettings) check() error {
	if s.branch != nil && (!config.ValidBranch(*s.branch) || strings.HasPrefix(*s.branch, "refs/")) {
		return fmt.Errorf("branch %q", *s.branch)
	}
	for _, r := range []*Role{s.planRole, s.applyRole} {
		if r != nil && len(checkRole(r)) > 0 {
			return fmt.Errorf("role %s: %v", r.ARN, checkRole(r))
		}
	}
	if a := s.approvers; a != nil {
		if err := checkPeople(a.Teams, a.Users); err != nil {
			return fmt.Errorf("approvers: %w", err)
		}
	}
	for ph, names := range s.passEnv {
		for _, n := range names {
			if checkEnvName(n) != nil {
				return fmt.Errorf("pass_env.%s %q", ph, n)
			}
		}
	}
	for ph, vars := range s.vars {
		for k := range vars {
			if config.CheckVarName(k) != nil {
				return fmt.Errorf("vars.%s %q", ph, k)
			}
		}
	}
	return nil
}

func checkPeople(teams, users []string) error {
	for _, t := range teams {
		if !teamRE.MatchString(t) {
			return fmt.Errorf("team %q", t)
		}
	}
	for _, u := range users {
		if !loginRE.MatchString(u) {
			return fmt.Errorf("user %q", u)
		}
	}
	return nil
}
