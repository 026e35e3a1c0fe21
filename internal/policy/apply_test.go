package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/config"
)

func parseRepo(t *testing.T, in string) *config.Repo {
	t.Helper()
	r, err := config.ParseRepo([]byte(in))
	if err != nil {
		t.Fatalf("ParseRepo:\n%v", err)
	}
	return r
}

// strictPolicy sets prod's branch, approval and roles, a var for every environment, and lets repositories set
// only vars and slack_channel.
const strictPolicy = `repos:
  - match: [acme/*]
    allowed_overrides: [vars, slack_channel]
    defaults:
      plan_role: {arn: "arn:aws:iam::111111111111:role/plan"}
      vars: {plan: {region: eu-west-1}, apply: {region: eu-west-1}}
    environments:
      - name: prod
        branch: main
        require_approval: true
        approvers: {teams: [acme/sre]}
        apply_role: {arn: "arn:aws:iam::222222222222:role/apply", session_duration: 2h}
        pass_env: {apply: [TF_TOKEN_app_terraform_io]}
`

func TestApplyRefusesWhatTheServerPolicyDoesNotAllow(t *testing.T) {
	const envs = "environments:\n  - name: prod\n    dir: environments/prod\n" // prod's keys start on line 4
	tests := []struct {
		name   string
		policy string
		file   string
		want   []string // the exact problems, in order
	}{
		{"drop require_approval", strictPolicy, envs + "    require_approval: false\n",
			[]string{".runner.yaml:4: environment prod: cannot drop require_approval: the server policy requires approval"}},
		{"move the deploy branch", strictPolicy, envs + "    branch: feature\n",
			[]string{`.runner.yaml:4: environment prod: cannot move the deploy branch from "main" to "feature": the server policy sets it`}},
		{"change a var the server sets", strictPolicy, envs + "    vars:\n      region: us-east-1\n      size: \"2\"\n",
			[]string{".runner.yaml:4: environment prod: vars.region is set by the server policy"}},
		{"a key not in allowed_overrides", strictPolicy, envs + "    api_url: https://x.example.com\n    refresh: {timeout: 5m}\n",
			[]string{
				".runner.yaml:4: environment prod: api_url cannot be set in .runner.yaml for this repository (the server policy lets it set: slack_channel, vars)",
				".runner.yaml:5: environment prod: refresh cannot be set in .runner.yaml for this repository (the server policy lets it set: slack_channel, vars)",
			}},
		{"a branch where the server sets none and branch is not allowed", strictPolicy,
			"environments:\n  - name: dev\n    dir: environments/dev\n    branch: develop\n",
			[]string{".runner.yaml:4: environment dev: branch cannot be set in .runner.yaml for this repository (the server policy lets it set: slack_channel, vars)"}},
		{"require approval where not allowed", strictPolicy, "environments:\n  - name: dev\n    dir: environments/dev\n    require_approval: true\n",
			[]string{".runner.yaml:4: environment dev: require_approval cannot be set in .runner.yaml for this repository (the server policy lets it set: slack_channel, vars)"}},
		{"nothing may be set", "repos:\n  - match: [acme/*]\n    allowed_overrides: []\n", envs + "    vars: {a: b}\n    order: 5\n",
			[]string{
				".runner.yaml:4: environment prod: vars cannot be set in .runner.yaml for this repository (the server policy lets it set: none)",
				".runner.yaml:5: environment prod: order cannot be set in .runner.yaml for this repository (the server policy lets it set: none)",
			}},
		{"every refusal at once", strictPolicy, envs + "    branch: release\n    require_approval: false\n    order: 2\n",
			[]string{
				`.runner.yaml:4: environment prod: cannot move the deploy branch from "main" to "release": the server policy sets it`,
				".runner.yaml:5: environment prod: cannot drop require_approval: the server policy requires approval",
				".runner.yaml:6: environment prod: order cannot be set in .runner.yaml for this repository (the server policy lets it set: slack_channel, vars)",
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rp := mustParse(t, tc.policy).For("acme/app")
			eff, err := rp.Apply(parseRepo(t, tc.file))
			var re config.RepoErrors
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want config.RepoErrors", err)
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			// Even refused, the result obeys the policy.
			for _, e := range eff.Environments {
				s := rp.settings(e.Name)
				if (s.branch != nil && e.Branch != *s.branch) || (s.requireApproval != nil && *s.requireApproval && !e.RequireApproval) ||
					e.Plan.Vars["region"] != "eu-west-1" && s.vars["plan"]["region"] != "" {
					t.Errorf("effective %s = %+v", e.Name, e)
				}
				if !rp.overridable("order") && e.Order != 1 {
					t.Errorf("refused order applied: %d", e.Order)
				}
			}
		})
	}
}

func TestApplyAcceptsWhatChangesNothingOrIsAllowed(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
	}{
		{"no file", ""},
		{"the server's own values", "environments:\n  - name: prod\n    dir: p\n    branch: main\n    require_approval: true\n    vars: {region: eu-west-1}\n"},
		{"defaults spelled out", "environments:\n  - name: dev\n    dir: d\n    branch: main\n    require_approval: false\n    order: 1\n    api_url: /api\n"},
		{"allowed keys", "environments:\n  - name: dev\n    dir: d\n    slack_channel: \"#dev\"\n    vars: {size: \"2\"}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := mustParse(t, strictPolicy).For("acme/app").Apply(parseRepo(t, tc.file)); err != nil {
				t.Errorf("Apply:\n%v", err)
			}
		})
	}
}

func TestApplyCombinesServerAndRepository(t *testing.T) {
	rp := mustParse(t, strictPolicy).For("acme/app")
	repo := parseRepo(t, `environments:
  - name: dev
    dir: environments/dev
    slack_channel: "#dev"
    vars: {size: "1"}
  - name: prod
    dir: environments/prod
    vars: {size: "3"}
`)
	eff, err := rp.Apply(repo)
	if err != nil {
		t.Fatal(err)
	}
	prod, _ := eff.Environment("prod")
	want := Environment{
		Environment: config.Environment{Name: "prod", Dir: "environments/prod", Order: 2, Branch: "main", RequireApproval: true,
			APIURL: "/api", Refresh: config.DefaultRefresh(), Workflow: config.DefaultWorkflow,
			Projects: []config.Project{{Name: "prod", Env: "prod", Dir: "environments/prod", Workspace: "default", Workflow: "default"}}},
		Approvers: Approvers{Teams: []string{"acme/sre"}},
		PlanRole:  &Role{ARN: "arn:aws:iam::111111111111:role/plan"},
		ApplyRole: &Role{ARN: "arn:aws:iam::222222222222:role/apply", SessionDuration: 2 * time.Hour},
		Plan:      Phase{Vars: map[string]string{"region": "eu-west-1", "size": "3"}},
		Apply:     Phase{PassEnv: []string{"TF_TOKEN_app_terraform_io"}, Vars: map[string]string{"region": "eu-west-1", "size": "3"}},
	}
	if !reflect.DeepEqual(prod, want) {
		t.Errorf("prod =\n%+v\nwant\n%+v", prod, want)
	}
	dev, _ := eff.Environment("dev")
	if dev.SlackChannel != "#dev" || dev.ApplyRole != nil || dev.RequireApproval || dev.Branch != "main" || dev.Plan.Vars["size"] != "1" {
		t.Errorf("dev = %+v", dev)
	}
	// The copy of the repository configuration carries the effective values, and the original is untouched.
	if e, _ := eff.Repo.Environment("prod"); !e.RequireApproval || e.Vars != nil {
		t.Errorf("Repo prod = %+v", e)
	}
	if e, _ := repo.Environment("prod"); e.RequireApproval || e.Vars["size"] != "3" {
		t.Errorf("input changed: %+v", e)
	}
	// Changing what Apply returned does not change the policy.
	prod.Plan.Vars["region"] = "x"
	prod.Apply.PassEnv[0] = "X"
	prod.ApplyRole.ARN = "x"
	prod.Approvers.Teams[0] = "x/y"
	again, _ := rp.Apply(repo)
	if p := again.Environments[1]; p.Plan.Vars["region"] != "eu-west-1" || p.Apply.PassEnv[0] != "TF_TOKEN_app_terraform_io" ||
		p.ApplyRole.ARN != want.ApplyRole.ARN || p.Approvers.Teams[0] != "acme/sre" {
		t.Errorf("Effective shares values with the policy: %+v", p)
	}
}

func TestApplyVarsPerPhase(t *testing.T) {
	rp := mustParse(t, "repos:\n  - match: [a/b]\n    defaults:\n      vars:\n        plan: {mode: read}\n    environments:\n      - name: dev\n        vars: {apply: {mode: write, extra: \"1\"}}\n").For("a/b")
	eff, err := rp.Apply(parseRepo(t, "environments:\n  - {name: dev, dir: d, vars: {own: x}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	dev := eff.Environments[0]
	if !reflect.DeepEqual(dev.Plan.Vars, map[string]string{"mode": "read", "own": "x"}) ||
		!reflect.DeepEqual(dev.Apply.Vars, map[string]string{"mode": "write", "extra": "1", "own": "x"}) {
		t.Errorf("plan vars %v, apply vars %v", dev.Plan.Vars, dev.Apply.Vars)
	}
	// A repository var the server sets in one phase only may still not differ from it.
	_, err = rp.Apply(parseRepo(t, "environments:\n  - {name: dev, dir: d, vars: {mode: write}}\n"))
	if err == nil || err.Error() != ".runner.yaml:2: environment dev: vars.mode is set by the server policy" {
		t.Errorf("err = %v", err)
	}
}

func TestDeployedFrom(t *testing.T) {
	rp := mustParse(t, strictPolicy).For("acme/app")
	eff, err := rp.Apply(parseRepo(t, "environments:\n  - {name: prod, dir: p, branch: main}\n  - {name: dev, dir: d}\n"))
	if err != nil || len(eff.DeployedFrom("main")) != 2 || len(eff.DeployedFrom("develop")) != 0 {
		t.Fatalf("DeployedFrom(main) = %+v, %v", eff.DeployedFrom("main"), err)
	}
	eff, err = (&Policy{}).For("acme/app").Apply(parseRepo(t, "environments:\n  - {name: prod, dir: p, order: 3}\n  - {name: dev, dir: d, order: 1}\n  - {name: qa, dir: q, branch: develop}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range eff.DeployedFrom("main") {
		names = append(names, e.Name)
	}
	if !reflect.DeepEqual(names, []string{"dev", "prod"}) || len(eff.DeployedFrom("feature")) != 0 || eff.DeployedFrom("develop")[0].Name != "qa" {
		t.Errorf("DeployedFrom(main) = %v", names)
	}
}

// A project's own vars obey the same rule as the environment's: without "vars" in allowed_overrides none
// reaches Terraform, and a var the server sets is the server's.
func TestApplyProjectVars(t *testing.T) {
	repo := parseRepo(t, `environments:
  - name: prod
    vars: {size: "9"}
    projects:
      - {name: net, dir: net, vars: {cidr: "10.0.0.0/8"}}
`)
	rp := mustParse(t, "repos:\n  - match: [acme/*]\n    allowed_overrides: []\n").For("acme/app")
	eff, err := rp.Apply(repo)
	if err == nil || !strings.Contains(err.Error(), "vars cannot be set") {
		t.Fatalf("err = %v", err)
	}
	prod, _ := eff.Environment("prod")
	if len(prod.Projects) != 1 || prod.Projects[0].Vars != nil || prod.Plan.Vars["size"] != "" {
		t.Errorf("refused vars kept: %+v %+v", prod.Projects, prod.Plan.Vars)
	}
	rp = mustParse(t, strictPolicy).For("acme/app") // allows vars; sets size itself
	eff, _ = rp.Apply(repo)
	prod, _ = eff.Environment("prod")
	if got := prod.Projects[0].Vars; len(got) != 1 || got["cidr"] != "10.0.0.0/8" {
		t.Errorf("project vars = %v, want cidr only (size is the server's)", got)
	}
}
