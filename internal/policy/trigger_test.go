package policy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
)

// fakeChecker answers every question the same way and counts them.
type fakeChecker struct {
	d     Decision
	err   error
	calls int
	rule  Rule
}

func (f *fakeChecker) Allows(_ context.Context, _, _ string, rule Rule) (Decision, error) {
	f.calls++
	f.rule = rule
	return f.d, f.err
}

func TestMayPlan(t *testing.T) {
	const policy = "repos:\n  - match: [acme/open]\n    fork_prs: true\n    draft_prs: true\n    plan_permission: triage\n  - match: [acme/*]\n    plan_teams: [acme/platform]\n"
	yes := Decision{Allowed: true, Reason: "alice has write access to acme/app"}
	no := Decision{Reason: "mallory has read access to acme/app; this needs write access or more, or membership of acme/platform"}
	own := func(repo string) PR { return PR{Repo: repo, Number: 7, Author: "alice", HeadRepo: repo} }
	for _, tc := range []struct {
		name      string
		pr        PR
		checker   *fakeChecker
		allowed   bool
		reason    string
		hint      string
		calls     int
		wantErr   bool
		allowFork bool
	}{
		{"own branch, allowed author", own("acme/app"), &fakeChecker{d: yes}, true, "alice has write access to acme/app", "", 1, false, false},
		{"own branch, refused author", own("acme/app"), &fakeChecker{d: no},
			false, "pull request #7 is not planned: mallory has read access to acme/app; this needs write access or more, or membership of acme/platform", "/runner plan", 1, false, false},
		{"fork", PR{Repo: "acme/app", Number: 7, Author: "eve", HeadRepo: "eve/app"}, &fakeChecker{d: yes},
			false, "pull request #7 comes from a fork (eve/app), and this runner does not plan pull requests from forks", "/runner plan", 0, false, false},
		{"deleted fork", PR{Repo: "acme/app", Number: 7, Author: "eve"}, &fakeChecker{d: yes},
			false, "pull request #7 comes from a fork (a repository that no longer exists)", "/runner plan", 0, false, false},
		{"fork where the server allows forks", PR{Repo: "acme/app", Number: 7, Author: "eve", HeadRepo: "eve/app"}, &fakeChecker{d: yes}, true, "alice has write", "", 1, false, true},
		{"fork where the entry allows forks", PR{Repo: "acme/open", Number: 7, Author: "eve", HeadRepo: "eve/open"}, &fakeChecker{d: yes}, true, "alice has write", "", 1, false, false},
		{"draft", PR{Repo: "acme/app", Number: 7, Author: "alice", HeadRepo: "acme/app", Draft: true}, &fakeChecker{d: yes},
			false, "pull request #7 is a draft, and this runner does not plan drafts", "ready for review", 0, false, false},
		{"draft fork: the fork check comes first", PR{Repo: "acme/app", Number: 7, Author: "eve", HeadRepo: "eve/app", Draft: true}, &fakeChecker{d: yes},
			false, "pull request #7 comes from a fork", "/runner plan", 0, false, false},
		{"draft where drafts are planned", PR{Repo: "acme/open", Number: 7, Author: "alice", HeadRepo: "ACME/Open", Draft: true}, &fakeChecker{d: yes}, true, "alice", "", 1, false, false},
		{"look-up failure", own("acme/app"), &fakeChecker{err: errors.New("502 Bad Gateway")}, false, "", "", 1, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, policy)
			p.AllowForkPRs = tc.allowFork
			d, err := p.MayPlan(context.Background(), tc.checker, tc.pr)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if d.Allowed != tc.allowed || !strings.HasPrefix(d.Reason, tc.reason) || !strings.Contains(d.Hint, tc.hint) || (tc.hint == "") != (d.Hint == "") {
				t.Errorf("decision = %+v", d)
			}
			if tc.checker.calls != tc.calls {
				t.Errorf("%d permission checks, want %d", tc.checker.calls, tc.calls)
			}
		})
	}
}

func TestMayPlanAsksForThePolicysRule(t *testing.T) {
	p := mustParse(t, "repos:\n  - match: [acme/open]\n    plan_permission: triage\n    plan_users: [\"renovate[bot]\"]\n")
	for repo, want := range map[string]Rule{
		"acme/open": {MinLevel: LevelTriage, Users: []string{"renovate[bot]"}},
		"acme/app":  {MinLevel: LevelWrite},
	} {
		f := &fakeChecker{d: Decision{Allowed: true}}
		if _, err := p.MayPlan(context.Background(), f, PR{Repo: repo, Author: "a", HeadRepo: repo}); err != nil {
			t.Fatal(err)
		}
		if f.rule.MinLevel != want.MinLevel || strings.Join(f.rule.Users, ",") != strings.Join(want.Users, ",") {
			t.Errorf("%s: rule = %+v, want %+v", repo, f.rule, want)
		}
	}
}

func TestMayPlanAgainstGitHub(t *testing.T) {
	env := newTestEnv(t, nil)
	env.fake.SetCollaborator("acme/app", "wes", fakegithub.Collaborator{Role: "write"})
	env.fake.SetCollaborator("acme/app", "tia", fakegithub.Collaborator{Role: "triage"})
	env.fake.SetTeamMembership("acme/platform", "tim", "active")
	p := mustParse(t, "repos:\n  - match: [acme/*]\n    plan_teams: [acme/platform]\n")
	for _, tc := range []struct {
		author  string
		allowed bool
	}{
		{"wes", true}, {"tia", false}, {"tim", true}, {"mallory", false},
	} {
		d, err := p.MayPlan(context.Background(), env.perms, PR{Repo: "acme/app", Number: 1, Author: tc.author, HeadRepo: "acme/app"})
		if err != nil || d.Allowed != tc.allowed {
			t.Errorf("%s: %+v, %v", tc.author, d, err)
		}
	}
	before := env.calls()
	if d, _ := p.MayPlan(context.Background(), env.perms, PR{Repo: "acme/app", Number: 2, Author: "wes", HeadRepo: "wes/app"}); d.Allowed || env.calls() != before {
		t.Errorf("fork: %+v, %d calls", d, env.calls()-before)
	}
}
