package policy

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/config"
)

func parseExample(t *testing.T) *Policy {
	t.Helper()
	data, err := os.ReadFile("testdata/example.repos.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data)
	if err != nil {
		t.Fatalf("example does not parse:\n%v", err)
	}
	return p
}

func TestParseExampleFile(t *testing.T) {
	p := parseExample(t)
	if err := p.check(); err != nil {
		t.Fatal(err)
	}
	rp := p.For("ACME/Platform-Network")
	if rp.Source != "repos[0] (line 18)" || rp.ForkPRs || rp.DraftPRs || rp.TerraformVersions != ">= 1.5.0, < 2.0.0" {
		t.Errorf("policy = %+v", rp)
	}
	wantRule := Rule{MinLevel: LevelWrite, Teams: []string{"acme/platform"}, Users: []string{"renovate[bot]"}}
	if !reflect.DeepEqual(rp.Plan, wantRule) {
		t.Errorf("plan rule = %+v", rp.Plan)
	}
	if rp.overridable("branch") || rp.overridable("require_approval") || !rp.overridable("vars") {
		t.Errorf("overrides = %v", rp.overrides)
	}
	prod := rp.settings("prod")
	wantApply := &Role{ARN: "arn:aws:iam::333333333333:role/runner-apply-prod", ExternalID: "acme-prod-apply", SessionDuration: 2 * time.Hour}
	if *prod.branch != "main" || !*prod.requireApproval || !reflect.DeepEqual(prod.applyRole, wantApply) ||
		prod.planRole.SessionDuration != 30*time.Minute || !strings.HasPrefix(prod.planRole.SessionPolicy, `{"Version"`) {
		t.Errorf("prod = %+v", prod)
	}
	wantVars := map[string]map[string]string{"plan": {"region": "eu-west-1"}, "apply": {"region": "eu-west-1", "deletion_protection": "true"}}
	if !reflect.DeepEqual(prod.vars, wantVars) || !reflect.DeepEqual(prod.approvers, &Approvers{Users: []string{"alice"}, Teams: []string{"acme/sre"}, SlackGroups: []string{"S0123PROD"}}) {
		t.Errorf("prod vars = %v, approvers = %+v", prod.vars, prod.approvers)
	}
	if rp.DriftSchedule("prod") == nil || p.For("someone/else").DriftSchedule("prod") != nil {
		t.Errorf("drift schedules: prod %v, catch-all %v", rp.DriftSchedule("prod"), p.For("someone/else").DriftSchedule("prod"))
	}
	// An environment the policy does not list gets the defaults.
	qa := rp.settings("qa")
	if *qa.branch != "main" || qa.requireApproval != nil || qa.applyRole != nil || qa.planRole.ARN != "arn:aws:iam::111111111111:role/runner-plan" ||
		!reflect.DeepEqual(qa.passEnv["apply"], []string{"TF_TOKEN_app_terraform_io"}) {
		t.Errorf("qa = %+v", qa)
	}

	other := p.For("someone/else")
	if other.Source != "repos[1] (line 77)" || other.Plan.MinLevel != LevelMaintain || other.overrides == nil || other.overridable("vars") {
		t.Errorf("catch-all = %+v", other)
	}
}

func TestForFallsBackToTheBuiltInDefault(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     *Policy
		repo  string
		forks bool
	}{
		{"no policy file", &Policy{}, "acme/app", false},
		{"no policy file, forks allowed", &Policy{AllowForkPRs: true}, "acme/app", true},
		{"no entry matches", mustParse(t, "repos:\n  - match: [acme/*]\n    fork_prs: true\n"), "other/app", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := tc.p.For(tc.repo)
			if rp.Source != "built-in default" || rp.ForkPRs != tc.forks || rp.DraftPRs || rp.Plan.MinLevel != LevelWrite ||
				rp.overrides != nil || rp.settings("prod").planRole != nil {
				t.Errorf("For(%s) = %+v", tc.repo, rp)
			}
		})
	}
}

func TestForkPRsDefaultsToTheServerSetting(t *testing.T) {
	p := mustParse(t, "repos:\n  - match: [acme/a]\n  - match: [acme/b]\n    fork_prs: false\n  - match: [acme/c]\n    fork_prs: true\n")
	for _, allow := range []bool{false, true} {
		p.AllowForkPRs = allow
		got := []bool{p.For("acme/a").ForkPRs, p.For("acme/b").ForkPRs, p.For("acme/c").ForkPRs}
		if want := []bool{allow, false, true}; !reflect.DeepEqual(got, want) {
			t.Errorf("AllowForkPRs %v: forks = %v, want %v", allow, got, want)
		}
	}
}

func mustParse(t *testing.T, in string) *Policy {
	t.Helper()
	p, err := Parse([]byte(in))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return p
}

func TestParseRejects(t *testing.T) {
	const head = "repos:\n  - match: [acme/*]\n" // the entry starts on line 2
	role := func(lines string) string { return head + "    defaults:\n      apply_role:\n" + lines }
	tests := []struct {
		name string
		in   string
		want []string // each a line of the error, in order
	}{
		{"unknown top-level key", "repo:\n  - match: [a/b]\n", []string{`line 1: unknown key "repo"`}},
		{"unknown entry key", head + "    fork_pr: true\n", []string{`line 3: unknown key "fork_pr"`}},
		{"unknown role key", role("        arn: arn:aws:iam::123456789012:role/x\n        duration: 1h\n"), []string{`line 6: unknown key "duration"`}},
		{"wrong type", head + "    draft_prs: maybe\n", []string{"line 3: cannot unmarshal !!str `maybe` into bool"}},
		{"repos not a list", "repos:\n  match: [a/b]\n", []string{"line 2: cannot unmarshal !!map into a list"}},
		{"role not a mapping", head + "    defaults:\n      plan_role: arn\n", []string{"line 4: cannot unmarshal !!str `arn` into a mapping"}},
		{"not a mapping", "- a\n", []string{"line 1: top level must be a mapping"}},
		{"two documents", head + "---\nrepos: []\n", []string{"line 3: more than one YAML document"}},
		{"match missing", "repos:\n  - fork_prs: true\n", []string{`line 2: repos[0]: match is required`}},
		{"glob without owner", "repos:\n  - match: [app]\n", []string{`line 2: repos[0]: match: "app" is not an owner/name pattern`}},
		{"bad glob", "repos:\n  - match: [\"acme/[a\"]\n", []string{`line 2: repos[0]: match: "acme/[a" is not a valid pattern`}},
		{"permission", head + "    plan_permission: writer\n", []string{`line 3: repos[0]: plan_permission "writer": use read, triage, write, maintain or admin`}},
		{"permission none", head + "    plan_permission: none\n", []string{`line 3: repos[0]: plan_permission "none"`}},
		{"team", head + "    plan_teams: [platform]\n", []string{`line 3: repos[0]: plan_teams: "platform" is not a team as org/team-slug`}},
		{"user", head + "    plan_users: [\"a b\"]\n", []string{`line 3: repos[0]: plan_users: "a b" is not a GitHub login`}},
		{"versions", head + "    terraform_versions: \"~> one\"\n", []string{`line 3: repos[0]: terraform_versions "~> one" is not a version constraint`}},
		{"override key", head + "    allowed_overrides: [vars, plan_role]\n", []string{`line 3: repos[0]: allowed_overrides: "plan_role" is not a key a repository can set`}},
		{"drift schedule", head + "    defaults:\n      drift_check: \"every hour\"\n", []string{`line 4: repos[0]: defaults: drift_check "every hour" is not a cron schedule`}},
		{"override twice", head + "    allowed_overrides:\n      - vars\n      - vars\n", []string{`line 5: repos[0]: allowed_overrides: "vars" is listed twice`}},
		{"name in defaults", head + "    defaults:\n      name: x\n", []string{"line 4: repos[0]: defaults: name is not allowed here"}},
		{"env name missing", head + "    environments:\n      - branch: main\n", []string{"line 4: repos[0]: environments[0]: name is required"}},
		{"env name", head + "    environments:\n      - name: Prod\n", []string{"line 4: repos[0]: environment Prod: name: use lowercase"}},
		{"env twice", head + "    environments:\n      - name: prod\n      - name: prod\n", []string{"line 5: repos[0]: environment prod is already defined on line 4"}},
		{"branch", head + "    environments:\n      - name: prod\n        branch: a..b\n", []string{`line 5: repos[0]: environment prod: branch "a..b" is not a valid branch name`}},
		{"approver team", head + "    environments:\n      - name: prod\n        approvers: {teams: [sre]}\n", []string{`line 5: repos[0]: environment prod: approvers.teams: "sre" is not a team`}},
		{"arn missing", role("        external_id: abc\n"), []string{"line 4: repos[0]: defaults: apply_role: arn is required"}},
		{"arn", role("        arn: arn:aws:iam::12345:role/x\n"), []string{`line 5: repos[0]: defaults: apply_role: arn "arn:aws:iam::12345:role/x" is not an IAM role ARN`}},
		{"arn of a user", role("        arn: arn:aws:iam::123456789012:user/x\n"), []string{`line 5: repos[0]: defaults: apply_role: arn "arn:aws:iam::123456789012:user/x"`}},
		{"external id", role("        arn: arn:aws:iam::123456789012:role/x\n        external_id: \"a b\"\n"), []string{"line 6: repos[0]: defaults: apply_role: external_id must be"}},
		{"duration syntax", role("        arn: arn:aws:iam::123456789012:role/x\n        session_duration: 2 hours\n"), []string{`line 6: repos[0]: defaults: apply_role: session_duration "2 hours" is not a duration`}},
		{"duration short", role("        arn: arn:aws:iam::123456789012:role/x\n        session_duration: 10m\n"), []string{"line 6: repos[0]: defaults: apply_role: session_duration must be between 15m and 12h"}},
		{"duration long", role("        arn: arn:aws:iam::123456789012:role/x\n        session_duration: 13h\n"), []string{"line 6: repos[0]: defaults: apply_role: session_duration must be between 15m and 12h"}},
		{"duration zero", role("        arn: arn:aws:iam::123456789012:role/x\n        session_duration: 0s\n"), []string{"line 6: repos[0]: defaults: apply_role: session_duration must be between"}},
		{"session policy json", role("        arn: arn:aws:iam::123456789012:role/x\n        session_policy: '{\"Version\":'\n"), []string{"line 6: repos[0]: defaults: apply_role: session_policy is not a JSON object"}},
		{"session policy size", role("        arn: arn:aws:iam::123456789012:role/x\n        session_policy: '{\"a\":\"" + strings.Repeat("x", 2048) + "\"}'\n"), []string{"line 6: repos[0]: defaults: apply_role: session_policy is 2056 characters, more than the 2048 AWS allows"}},
		{"pass_env name", head + "    defaults:\n      pass_env:\n        plan: [\"TF-TOKEN\"]\n", []string{`line 5: repos[0]: defaults: pass_env.plan: "TF-TOKEN" is not an environment variable name`}},
		{"pass_env credentials", head + "    defaults:\n      pass_env:\n        apply: [AWS_SECRET_ACCESS_KEY]\n", []string{`line 5: repos[0]: defaults: pass_env.apply: "AWS_SECRET_ACCESS_KEY" is set by the runner`}},
		{"pass_env twice", head + "    defaults:\n      pass_env:\n        plan: [A, A]\n", []string{`line 5: repos[0]: defaults: pass_env.plan: "A" is listed twice`}},
		{"var name", head + "    defaults:\n      vars:\n        apply:\n          \"1x\": y\n", []string{`line 6: repos[0]: defaults: vars.apply: "1x" is not a valid Terraform variable name`}},
		{"runner var", head + "    defaults:\n      vars:\n        plan: {backend_image: x}\n", []string{`line 5: repos[0]: defaults: vars.plan: "backend_image" is set by the runner`}},
		{"every problem at once", "repos:\n  - match: [x]\n    plan_permission: god\n    dry_run: true\n    environments:\n      - name: prod\n        require_approval: often\n",
			[]string{`line 2: repos[0]: match: "x" is not an owner/name pattern`, `line 3: repos[0]: plan_permission "god"`, `line 4: unknown key "dry_run"`, "line 7: cannot unmarshal !!str `often` into bool"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("parsed: %+v", p)
			}
			var re config.RepoErrors
			if !errors.As(err, &re) {
				t.Fatalf("error %T is not config.RepoErrors: %v", err, err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("problem %d = %q, want prefix %q", i, lines[i], w)
				}
			}
			for _, bad := range []string{"policy.raw", "[]string", "*string", "map[string]"} {
				if strings.Contains(err.Error(), bad) {
					t.Errorf("error names a Go type: %v", err)
				}
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	for _, in := range []string{
		"", "# nothing\n", "repos: []\n",
		"repos:\n  - match: [acme/*]\n    allowed_overrides: []\n",
		"repos:\n  - match: [acme/app]\n    plan_permission: Admin\n    terraform_versions: \"~> 1.6\"\n",
		"repos:\n  - match: [acme/app]\n    environments:\n      - name: prod\n        branch: refs/heads/release\n",
	} {
		p, err := Parse([]byte(in))
		if err != nil {
			t.Errorf("Parse(%q):\n%v", in, err)
			continue
		}
		if err := p.check(); err != nil {
			t.Errorf("Parse(%q) does not re-validate: %v", in, err)
		}
	}
	rp := mustParse(t, "repos:\n  - match: [acme/app]\n    environments:\n      - name: prod\n        branch: refs/heads/release\n").For("acme/app")
	if b := rp.settings("prod").branch; *b != "release" {
		t.Errorf("branch = %q", *b)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "repos.yaml")
	if err := os.WriteFile(good, []byte("repos:\n  - match: [acme/*]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := Load(good); err != nil || p.For("acme/x").Source != "repos[0] (line 2)" {
		t.Fatalf("Load = %+v, %v", p, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("repos:\n  - match: [acme]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(bad)
	if err == nil || err.Error() != bad+`:2: repos[0]: match: "acme" is not an owner/name pattern` {
		t.Errorf("Load(bad) = %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", MaxFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "more than the 1048576 allowed") {
		t.Errorf("Load(big) = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "read repository policy") {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestCheckTerraform(t *testing.T) {
	rp := mustParse(t, "repos:\n  - match: [acme/*]\n    terraform_versions: \">= 1.5.0, < 1.9.0\"\n").For("acme/app")
	for _, tc := range []struct {
		v, err string
	}{
		{"1.5.0", ""},
		{"1.8.5", ""},
		{"1.9.0", "terraform 1.9.0 is not allowed for this repository (the server policy allows >= 1.5.0, < 1.9.0)"},
		{"1.4.7", "terraform 1.4.7 is not allowed"},
		{"latest", `terraform version "latest" is not a version`},
	} {
		err := rp.CheckTerraform(tc.v)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.HasPrefix(err.Error(), tc.err)) {
			t.Errorf("CheckTerraform(%s) = %v, want %q", tc.v, err, tc.err)
		}
	}
	if err := (&Policy{}).For("acme/app").CheckTerraform("0.11.0"); err != nil {
		t.Errorf("no constraint: %v", err)
	}
}
