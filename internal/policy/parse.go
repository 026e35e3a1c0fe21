package policy

import (
	"errors"
	"fmt"
	"github.com/robfig/cron/v3"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/gitops-runner/runner/internal/config"
)

// MaxFileSize bounds the policy file.
const MaxFileSize = 1 << 20

// The raw* types mirror the YAML; pointers tell "absent" from a zero value.
type rawPolicy struct {
	Repos      []rawEntry        `yaml:"repos"`
	SlackUsers map[string]string `yaml:"slack_users"`
}

type rawEntry struct {
	Match             []string           `yaml:"match"`
	ForkPRs           *bool              `yaml:"fork_prs"`
	DraftPRs          *bool              `yaml:"draft_prs"`
	PlanPermission    *string            `yaml:"plan_permission"`
	PlanTeams         []string           `yaml:"plan_teams"`
	PlanUsers         []string           `yaml:"plan_users"`
	TerraformVersions string             `yaml:"terraform_versions"`
	AllowedOverrides  *[]string          `yaml:"allowed_overrides"`
	Defaults          rawEnv             `yaml:"defaults"`
	Environments      []rawEnv           `yaml:"environments"`
	Commands          map[string]rawRule `yaml:"commands"`
	DistinctApprover  *bool              `yaml:"distinct_approver"`
	AllowRunSteps     *bool              `yaml:"allow_run_steps"`
	ApprovalTimeout   string             `yaml:"approval_timeout"`
}

type rawRule struct {
	Permission *string  `yaml:"permission"`
	Teams      []string `yaml:"teams"`
	Users      []string `yaml:"users"`
}

type rawEnv struct {
	Name            string        `yaml:"name"`
	Branch          *string       `yaml:"branch"`
	RequireApproval *bool         `yaml:"require_approval"`
	Protected       *bool         `yaml:"protected"`
	Approvers       *rawApprovers `yaml:"approvers"`
	PlanRole        *rawRole      `yaml:"plan_role"`
	ApplyRole       *rawRole      `yaml:"apply_role"`
	DriftCheck      *string       `yaml:"drift_check"`
	PassEnv         struct {
		Plan  *[]string `yaml:"plan"`
		Apply *[]string `yaml:"apply"`
	} `yaml:"pass_env"`
	Vars struct {
		Plan  map[string]string `yaml:"plan"`
		Apply map[string]string `yaml:"apply"`
	} `yaml:"vars"`
}

type rawApprovers struct {
	Users       []string `yaml:"users"`
	Teams       []string `yaml:"teams"`
	SlackGroups []string `yaml:"slack_groups"`
}

type rawRole struct {
	ARN             string `yaml:"arn"`
	ExternalID      string `yaml:"external_id"`
	SessionDuration string `yaml:"session_duration"`
	SessionPolicy   string `yaml:"session_policy"`
}

// Parse reads a policy file strictly: unknown keys, wrong types and invalid values are errors. On failure
// the error is a config.RepoErrors listing every problem with its line.
func Parse(data []byte) (*Policy, error) {
	var raw rawPolicy
	doc, problems, err := config.DecodeStrict(data, MaxFileSize, &raw)
	if err != nil {
		return nil, err
	}
	v := validator{doc: doc, problems: problems, decodeLines: map[int]bool{}}
	for _, prob := range problems {
		v.decodeLines[prob.Line] = true
	}
	p := &Policy{slackUsers: v.slackUsers(raw.SlackUsers)}
	for i := range raw.Repos {
		p.entries = append(p.entries, v.entry(i, &raw.Repos[i]))
	}
	if len(v.problems) > 0 {
		sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].Line < v.problems[j].Line })
		return nil, v.problems
	}
	return p, nil
}

// Load reads and parses the policy file at file (RUNNER_REPOS_CONFIG). Problems name the file.
func Load(file string) (*Policy, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read repository policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read repository policy %s: %w", file, err)
	}
	p, err := Parse(data)
	var re config.RepoErrors
	if errors.As(err, &re) {
		for _, prob := range re {
			prob.File = file
		}
		return nil, re
	}
	return p, err
}

type validator struct {
	doc         config.YAMLDoc
	problems    config.RepoErrors
	decodeLines map[int]bool // lines with a decoding problem: no more problems about them
}

func (v *validator) addf(line int, format string, args ...any) {
	v.problems = append(v.problems, &config.RepoProblem{Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) entry(i int, raw *rawEntry) entry {
	at := func(p ...any) int { return v.doc.Line(append([]any{"repos", i}, p...)...) }
	label := fmt.Sprintf("repos[%d]", i)
	e := entry{forkPRs: raw.ForkPRs, rp: RepoPolicy{
		Source:            fmt.Sprintf("%s (line %d)", label, at()),
		Plan:              Rule{MinLevel: LevelWrite, Teams: raw.PlanTeams, Users: raw.PlanUsers},
		TerraformVersions: strings.TrimSpace(raw.TerraformVersions),
		envs:              map[string]envSettings{},
	}}
	if raw.DraftPRs != nil {
		e.rp.DraftPRs = *raw.DraftPRs
	}

	if len(raw.Match) == 0 {
		v.addf(at(), "%s: match is required (owner/name globs such as \"acme/*\")", label)
	}
	for j, g := range raw.Match {
		if err := checkGlob(g); err != nil {
			v.addf(at("match", j), "%s: match: %v", label, err)
		}
		e.match = append(e.match, strings.ToLower(g))
	}
	if raw.PlanPermission != nil {
		l, ok := parseLevel(*raw.PlanPermission)
		if !ok || l == LevelNone {
			v.addf(at("plan_permission"), "%s: plan_permission %q: use read, triage, write, maintain or admin", label, *raw.PlanPermission)
		}
		e.rp.Plan.MinLevel = l
	}
	v.teams(raw.PlanTeams, label+": plan_teams", func(j int) int { return at("plan_teams", j) })
	v.users(raw.PlanUsers, label+": plan_users", func(j int) int { return at("plan_users", j) })
	if e.rp.TerraformVersions != "" {
		c, err := version.NewConstraint(e.rp.TerraformVersions)
		if err != nil {
			v.addf(at("terraform_versions"), "%s: terraform_versions %q is not a version constraint like \">= 1.5.0, < 2.0.0\"", label, raw.TerraformVersions)
		}
		e.rp.constraints = c
	}
	if raw.AllowedOverrides != nil {
		e.rp.overrides = map[string]bool{}
		for j, k := range *raw.AllowedOverrides {
			switch {
			case !slices.Contains(overridableKeys, k):
				v.addf(at("allowed_overrides", j), "%s: allowed_overrides: %q is not a key a repository can set (use %s)", label, k, strings.Join(overridableKeys, ", "))
			case e.rp.overrides[k]:
				v.addf(at("allowed_overrides", j), "%s: allowed_overrides: %q is listed twice", label, k)
			}
			e.rp.overrides[k] = true
		}
	}
	e.rp.commands = v.commands(raw.Commands, label, at)
	if raw.AllowRunSteps != nil {
		e.rp.AllowRunSteps = *raw.AllowRunSteps
	}
	if raw.DistinctApprover != nil {
		e.rp.DistinctApprover = *raw.DistinctApprover
	}
	if raw.ApprovalTimeout != "" {
		d, err := time.ParseDuration(raw.ApprovalTimeout)
		if err != nil || d < time.Minute || d > 30*24*time.Hour {
			v.addf(at("approval_timeout"), "%s: approval_timeout %q: use a duration from 1m to 720h, such as 24h", label, raw.ApprovalTimeout)
		}
		e.rp.ApprovalTimeout = d
	}
	if raw.Defaults.Name != "" {
		v.addf(at("defaults", "name"), "%s: defaults: name is not allowed here", label)
	}
	e.rp.defaults = v.env(&raw.Defaults, label+": defaults", func(p ...any) int { return at(append([]any{"defaults"}, p...)...) })
	seen := map[string]int{}
	for j := range raw.Environments {
		re := &raw.Environments[j]
		eat := func(p ...any) int { return at(append([]any{"environments", j}, p...)...) }
		elabel := fmt.Sprintf("%s: environment %s", label, re.Name)
		switch {
		case re.Name == "":
			elabel = fmt.Sprintf("%s: environments[%d]", label, j)
			v.addf(eat(), "%s: name is required", elabel)
		case !config.ValidEnvironmentName(re.Name):
			v.addf(eat("name"), "%s: name: use lowercase letters, digits, '-' and '_' (at most 63)", elabel)
		}
		if prev, dup := seen[re.Name]; dup && re.Name != "" {
			v.addf(eat("name"), "%s is already defined on line %d", elabel, prev)
		}
		seen[re.Name] = eat()
		e.rp.envs[re.Name] = v.env(re, elabel, eat)
	}
	return e
}

// env validates one environment entry (or the defaults) and returns what it sets.
func (v *validator) env(raw *rawEnv, label string, at func(...any) int) envSettings {
	s := envSettings{
		branch:          raw.Branch,
		requireApproval: raw.RequireApproval,
		protected:       raw.Protected,
		passEnv:         map[string][]string{},
		vars:            map[string]map[string]string{},
	}
	if raw.Branch != nil {
		if !config.ValidBranch(*raw.Branch) {
			v.addf(at("branch"), "%s: branch %q is not a valid branch name", label, *raw.Branch)
		}
		b := strings.TrimPrefix(*raw.Branch, "refs/heads/")
		s.branch = &b
	}
	if a := raw.Approvers; a != nil {
		v.teams(a.Teams, label+": approvers.teams", func(j int) int { return at("approvers", "teams", j) })
		v.users(a.Users, label+": approvers.users", func(j int) int { return at("approvers", "users", j) })
		for j, g := range a.SlackGroups {
			if !slackIDRE.MatchString(g) {
				v.addf(at("approvers", "slack_groups", j), "%s: approvers.slack_groups: %q is not a Slack user group id (such as S0123ABCD)", label, g)
			}
		}
		s.approvers = &Approvers{Users: a.Users, Teams: a.Teams, SlackGroups: a.SlackGroups}
	}
	if raw.DriftCheck != nil {
		spec := strings.TrimSpace(*raw.DriftCheck)
		if spec != "" && spec != "off" {
			if _, err := cron.ParseStandard(spec); err != nil {
				v.addf(at("drift_check"), "%s: drift_check %q is not a cron schedule (five fields, e.g. \"0 */6 * * *\", or @hourly, @daily; \"off\" for none): %v", label, spec, err)
			}
		}
		s.driftCheck = &spec
	}
	s.planRole = v.role(raw.PlanRole, label+": plan_role", func(p ...any) int { return at(append([]any{"plan_role"}, p...)...) })
	s.applyRole = v.role(raw.ApplyRole, label+": apply_role", func(p ...any) int { return at(append([]any{"apply_role"}, p...)...) })
	for _, ph := range []string{phasePlan, phaseApply} {
		names := raw.PassEnv.Plan
		if ph == phaseApply {
			names = raw.PassEnv.Apply
		}
		if names == nil {
			continue
		}
		seen := map[string]bool{}
		for j, n := range *names {
			if err := checkEnvName(n); err != nil {
				v.addf(at("pass_env", ph, j), "%s: pass_env.%s: %v", label, ph, err)
			} else if seen[n] {
				v.addf(at("pass_env", ph, j), "%s: pass_env.%s: %q is listed twice", label, ph, n)
			}
			seen[n] = true
		}
		s.passEnv[ph] = *names
	}
	for _, ph := range []string{phasePlan, phaseApply} {
		vars := raw.Vars.Plan
		if ph == phaseApply {
			vars = raw.Vars.Apply
		}
		for _, k := range sortedKeys(vars) {
			if err := config.CheckVarName(k); err != nil {
				v.addf(at("vars", ph, k), "%s: vars.%s: %v", label, ph, err)
			}
		}
		if vars != nil {
			s.vars[ph] = vars
		}
	}
	return s
}

func (v *validator) role(raw *rawRole, label string, at func(...any) int) *Role {
	if raw == nil || v.decodeLines[at()] {
		return nil
	}
	r, problems := newRole(raw)
	for _, p := range problems {
		v.addf(at(p.key), "%s: %s", label, p.msg)
	}
	return r
}

func (v *validator) teams(teams []string, label string, at func(int) int) {
	for j, t := range teams {
		if !teamRE.MatchString(t) {
			v.addf(at(j), "%s: %q is not a team as org/team-slug", label, t)
		}
	}
}

func (v *validator) users(users []string, label string, at func(int) int) {
	for j, u := range users {
		if !loginRE.MatchString(u) {
			v.addf(at(j), "%s: %q is not a GitHub login", label, u)
		}
	}
}

// checkGlob accepts owner/name patterns for path.Match.
func checkGlob(g string) error {
	owner, name, ok := strings.Cut(g, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") || strings.ContainsAny(g, " \t\n\\") {
		return fmt.Errorf("%q is not an owner/name pattern", g)
	}
	if _, err := path.Match(g, ""); err != nil {
		return fmt.Errorf("%q is not a valid pattern", g)
	}
	return nil
}
