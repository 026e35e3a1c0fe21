package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCommandRules(t *testing.T) {
	p := mustParse(t, `slack_users: {U0ALICE1: alice}
repos:
  - match: [acme/app]
    plan_permission: triage
    distinct_approver: true
    approval_timeout: 2h
    commands:
      rollback: {permission: admin, teams: [acme/sre]}
      unlock: {permission: none, users: [bob]}
    environments:
      - name: prod
        protected: true
        approvers: {users: [carol], teams: [acme/leads], slack_groups: [S0PROD1]}
`)
	rp := p.For("acme/app")
	for _, tc := range []struct {
		kind, env string
		want      Rule
	}{
		{"plan", "", Rule{MinLevel: LevelTriage}},
		{"approve", "dev", Rule{MinLevel: LevelMaintain}},
		{"approve", "prod", Rule{MinLevel: LevelMaintain, Teams: []string{"acme/leads"}, Users: []string{"carol"}}},
		{"rollback", "prod", Rule{MinLevel: LevelAdmin, Teams: []string{"acme/sre", "acme/leads"}, Users: []string{"carol"}}},
		{"unlock", "dev", Rule{MinLevel: LevelNone, Users: []string{"bob"}}},
	} {
		got := rp.CommandRule(tc.kind)
		if tc.env != "" {
			got = rp.EnvRule(tc.kind, tc.env)
		}
		if got.MinLevel != tc.want.MinLevel || !slices.Equal(got.Teams, tc.want.Teams) || !slices.Equal(got.Users, tc.want.Users) {
			t.Errorf("%s %s: rule = %+v, want %+v", tc.kind, tc.env, got, tc.want)
		}
	}
	if !rp.DistinctApprover || rp.ApprovalTimeout != 2*time.Hour {
		t.Errorf("distinct %v timeout %v", rp.DistinctApprover, rp.ApprovalTimeout)
	}
	if a := rp.EnvApprovers("prod"); !slices.Equal(a.SlackGroups, []string{"S0PROD1"}) {
		t.Errorf("approvers = %+v", a)
	}
	if l, ok := p.SlackLogin("U0ALICE1"); !ok || l != "alice" {
		t.Errorf("slack login = %q %v", l, ok)
	}
	if _, ok := p.SlackLogin("U0NOBODY"); ok {
		t.Error("unmapped Slack user maps")
	}
	// Defaults elsewhere.
	if r := p.For("other/repo").CommandRule("approve"); r.MinLevel != LevelMaintain {
		t.Errorf("default approve rule = %+v", r)
	}
}

func TestCommandRulesRefuseBadEntries(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"repos:\n  - match: [a/b]\n    commands:\n      deploy: {permission: write}\n", `"deploy" is not a command`},
		{"repos:\n  - match: [a/b]\n    commands:\n      plan: {permission: boss}\n", `permission "boss"`},
		{"repos:\n  - match: [a/b]\n    approval_timeout: 10s\n", "approval_timeout"},
		{"slack_users: {alice: alice}\nrepos: []\n", "not a Slack user id"},
		{"slack_users: {U0ALICE1: 'a b'}\nrepos: []\n", "not a GitHub login"},
		{"repos:\n  - match: [a/b]\n    environments:\n      - name: prod\n        approvers: {slack_groups: [prod-team]}\n", "not a Slack user group id"},
	} {
		_, err := Parse([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
