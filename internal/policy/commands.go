package policy

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Command kinds a policy entry can set a rule for (commands.<kind>), with their default rules: plan follows
// the entry's plan rule, and so does drift (a read-only check of what is deployed); the others need
// maintain, or to be one of the environment's approvers.
var commandKinds = []string{"plan", "unlock", "approve", "reject", "rollback", "override", "drift", "fix"}

// slackIDRE matches Slack user and user group ids.
var slackIDRE = regexp.MustCompile(`^[UWS][A-Z0-9]{2,20}$`)

// CommandRule is who may ask for a command of this kind on the repository, before the environment's
// approvers are added (see EnvRule): the entry's commands.<kind>, else plan's rule for plan and maintain
// access for the others.
func (rp RepoPolicy) CommandRule(kind string) Rule {
	if r, ok := rp.commands[kind]; ok {
		return r
	}
	if kind == "plan" || kind == "drift" {
		return rp.Plan
	}
	return Rule{MinLevel: LevelMaintain}
}

// EnvRule is who may unlock, approve, reject or roll back env: the command's rule, or one of the
// environment's approvers (users and teams; Slack groups are judged apart, by the Slack channel).
func (rp RepoPolicy) EnvRule(kind, env string) Rule {
	r := rp.CommandRule(kind)
	out := Rule{MinLevel: r.MinLevel, Teams: slices.Clone(r.Teams), Users: slices.Clone(r.Users)}
	if a := rp.settings(env).approvers; a != nil {
		out.Teams = append(out.Teams, a.Teams...)
		out.Users = append(out.Users, a.Users...)
	}
	return out
}

// EnvApprovers are the environment's approvers as the server sets them.
func (rp RepoPolicy) EnvApprovers(env string) Approvers {
	a := rp.settings(env).approvers
	if a == nil {
		return Approvers{}
	}
	return Approvers{Users: slices.Clone(a.Users), Teams: slices.Clone(a.Teams), SlackGroups: slices.Clone(a.SlackGroups)}
}

// Needs says in words what a rule asks for, for refusals.
func (r Rule) Needs() string { return r.needs() }

// SlackLogin is the GitHub login a Slack user acts as (slack_users), if the policy maps one.
func (p *Policy) SlackLogin(userID string) (string, bool) {
	l, ok := p.slackUsers[userID]
	return l, ok
}

// Prefix is the comment command prefix hints name.
func (rp RepoPolicy) Prefix() string {
	if rp.prefix == "" {
		return "/runner"
	}
	return rp.prefix
}

func (v *validator) commands(raw map[string]rawRule, label string, at func(...any) int) map[string]Rule {
	if len(raw) == 0 {
		return nil
	}
	out := map[string]Rule{}
	kinds := make([]string, 0, len(raw))
	for k := range raw {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		r := raw[k]
		if !slices.Contains(commandKinds, k) {
			v.addf(at("commands", k), "%s: commands: %q is not a command (use %s)", label, k, strings.Join(commandKinds, ", "))
			continue
		}
		rule := Rule{MinLevel: LevelNone, Teams: r.Teams, Users: r.Users}
		if r.Permission != nil {
			l, ok := parseLevel(*r.Permission)
			if !ok {
				v.addf(at("commands", k, "permission"), "%s: commands.%s.permission %q: use none, read, triage, write, maintain or admin", label, k, *r.Permission)
			}
			rule.MinLevel = l
		} else if k == "plan" {
			rule.MinLevel = LevelWrite
		} else {
			rule.MinLevel = LevelMaintain
		}
		v.teams(r.Teams, fmt.Sprintf("%s: commands.%s.teams", label, k), func(j int) int { return at("commands", k, "teams", j) })
		v.users(r.Users, fmt.Sprintf("%s: commands.%s.users", label, k), func(j int) int { return at("commands", k, "users", j) })
		out[k] = rule
	}
	return out
}

func (v *validator) slackUsers(raw map[string]string) map[string]string {
	out := map[string]string{}
	for id, login := range raw {
		if !slackIDRE.MatchString(id) || strings.HasPrefix(id, "S") {
			v.addf(v.doc.Line("slack_users", id), "slack_users: %q is not a Slack user id (such as U0123ABCD)", id)
		}
		if !loginRE.MatchString(login) {
			v.addf(v.doc.Line("slack_users", id), "slack_users: %q is not a GitHub login", login)
		}
		out[id] = login
	}
	return out
}
