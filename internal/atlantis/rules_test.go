package atlantis_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/atlantis"
	"github.com/gitops-runner/runner/internal/config"
)

// convert converts src and parses the output, failing the test on any error.
func convert(t *testing.T, src string) (*config.Repo, *atlantis.Result) {
	t.Helper()
	res, err := atlantis.Convert([]byte(src))
	if err != nil {
		t.Fatalf("Convert: %v\n%s", err, src)
	}
	repo, err := config.ParseRepo(res.Config)
	if err != nil {
		t.Fatalf("output does not parse: %v\n%s", err, res.Config)
	}
	return repo, res
}

func notes(res *atlantis.Result) string {
	var b strings.Builder
	for _, n := range res.Notes {
		b.WriteString(n.Format("atlantis.yaml") + "\n")
	}
	return b.String()
}

func TestGroupingRule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dir, workspace, want string
	}{
		{"environments/prod/us-east-1/network", "", "prod"},
		{"live/staging/eu-west-1/vpc", "", "staging"},
		{"infra/envs/QA/app", "", "qa"},
		{"stages/uat", "blue", "uat"},                 // layout wins over the workspace
		{"environments", "", "default"},               // a marker with nothing after it
		{"infra", "staging", "staging"},               // workspace
		{"prod/network", "dr", "dr"},                  // workspace before a usual name
		{"infra/prod/network", "", "prod"},            // a usual name
		{"teams/dev/production/x", "", "dev"},         // the first usual name
		{"services/api", "", "default"},               // no rule
		{"live/_Global/iam", "", "global"},            // sanitised
		{"env/eu.prod/app", "", "eu-prod"},            // sanitised
		{"production-like/app", "default", "default"}, // whole segments only
	} {
		ws := ""
		if tc.workspace != "" {
			ws = "\n  workspace: " + tc.workspace
		}
		repo, _ := convert(t, fmt.Sprintf("version: 3\nprojects:\n- dir: %s%s\n", tc.dir, ws))
		if len(repo.Environments) != 1 || repo.Environments[0].Name != tc.want {
			t.Errorf("dir %s workspace %q: environments %+v, want %s", tc.dir, tc.workspace, repo.Environments, tc.want)
		}
	}
}

func TestEnvironmentOrder(t *testing.T) {
	t.Parallel()
	var src strings.Builder
	src.WriteString("version: 3\nprojects:\n")
	for _, e := range []string{"zeta", "prod-eu", "production", "uat", "staging", "dev", "qa", "default", "sandbox", "prd", "alpha"} {
		fmt.Fprintf(&src, "- dir: environments/%s\n", e)
	}
	repo, _ := convert(t, src.String())
	var got []string
	for _, e := range repo.Ordered() {
		got = append(got, e.Name)
	}
	want := "dev qa sandbox staging uat prd prod-eu production alpha default zeta"
	if strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
}

func TestProjectNames(t *testing.T) {
	t.Parallel()
	repo, res := convert(t, `version: 3
projects:
- dir: .
- dir: a/b
  workspace: blue
- name: "has space"
  dir: c
- name: dup
  dir: d
- name: dup
  dir: e
`)
	var got []string
	for _, p := range repo.Projects() {
		got = append(got, p.Name)
	}
	if want := "a/b-blue root has-space dup dup-2"; strings.Join(got, " ") != want {
		t.Errorf("names %v, want %s", got, want)
	}
	for _, want := range []string{`projects[2].name "has space": error:`, "named has-space", "projects[4].name dup: error: projects[3] has this name already"} {
		if !strings.Contains(notes(res), want) {
			t.Errorf("notes lack %q:\n%s", want, notes(res))
		}
	}
}

func TestDependencies(t *testing.T) {
	t.Parallel()
	repo, res := convert(t, `version: 3
projects:
- {name: a, dir: environments/prod/a, execution_order_group: 1}
- {name: b, dir: environments/prod/b, execution_order_group: 1}
- {name: c, dir: environments/prod/c, execution_order_group: 2}
- {name: d, dir: environments/prod/d, execution_order_group: 3, depends_on: [a]}
- {name: e, dir: environments/prod/e}
- {name: f, dir: environments/dev/f, depends_on: [a, nobody, f]}
- {name: g, dir: environments/prod/g, execution_order_group: 5, depends_on: [h]}
- {name: h, dir: environments/prod/h, execution_order_group: 5, depends_on: [g]}
`)
	deps := map[string]string{}
	for _, p := range repo.Projects() {
		deps[p.Name] = strings.Join(p.DependsOn, ",")
	}
	want := map[string]string{"a": "e", "b": "e", "c": "a,b", "d": "c,a", "e": "", "f": "", "g": "d", "h": "d"}
	for name, w := range want {
		if deps[name] != w {
			t.Errorf("%s depends on %q, want %q", name, deps[name], w)
		}
	}
	for _, want := range []string{
		"projects[5].depends_on[0] a: not mapped: a is in environment prod",
		"projects[5].depends_on[1] nobody: not mapped: no project of atlantis.yaml has this name",
		"projects[5].depends_on[2] f: not mapped: a project cannot depend on itself",
		"projects[6].depends_on[0] h: not mapped: it would close a dependency cycle among g, h",
		"projects[7].depends_on[0] g: not mapped: it would close a dependency cycle",
	} {
		if !strings.Contains(notes(res), want) {
			t.Errorf("notes lack %q:\n%s", want, notes(res))
		}
	}
}

func TestEnvironmentSettings(t *testing.T) {
	t.Parallel()
	repo, res := convert(t, `version: 3
projects:
- {dir: environments/prod/a, branch: /^release\.1$/, apply_requirements: [approved], workflow: w}
- {dir: environments/prod/b, branch: /^release\.1$/, workflow: w}
- {dir: environments/dev/a, branch: /develop/}
- {dir: environments/dev/b, branch: /main/}
workflows:
  w: {}
`)
	prod, _ := repo.Environment("prod")
	dev, _ := repo.Environment("dev")
	if !prod.RequireApproval || prod.Branch != "release.1" || prod.Workflow != "w" {
		t.Errorf("prod %+v: want approval, branch release.1, workflow w", prod)
	}
	if dev.RequireApproval || dev.Branch != config.EnvironmentDefaultBranch {
		t.Errorf("dev %+v: want no approval, the default branch", dev)
	}
	for _, want := range []string{
		"environment prod requires approval: that covers its 2 projects, where Atlantis required it for 1 of them",
		"projects[2].branch /develop/: not mapped: the projects of environment dev do not all name this one branch",
	} {
		if !strings.Contains(notes(res), want) {
			t.Errorf("notes lack %q:\n%s", want, notes(res))
		}
	}
}

func TestWorkflowSteps(t *testing.T) {
	t.Parallel()
	repo, res := convert(t, `version: 3
projects:
- {dir: a, workflow: custom}
workflows:
  custom:
    plan:
      steps:
      - run: echo before
      - policy_check
      - run: tflint --format compact 'a b'
    apply:
      steps:
      - run: terraform apply $PLANFILE
      - run: echo after
`)
	w, ok := repo.Workflow("custom")
	if !ok {
		t.Fatal("no workflow custom")
	}
	var plan, apply []string
	for _, s := range w.Plan {
		plan = append(plan, s.Kind+strings.Join(append([]string{""}, s.Args...), " "))
	}
	for _, s := range w.Apply {
		apply = append(apply, s.Kind)
	}
	if got, want := strings.Join(plan, ","), "run,tflint --format compact a b,init,plan,policy"; got != want {
		t.Errorf("plan %s, want %s", got, want)
	}
	if got, want := strings.Join(apply, ","), "apply,run"; got != want {
		t.Errorf("apply %s, want %s", got, want)
	}
	for _, want := range []string{"it has no plan step (Atlantis allows that): one is added", "moved after plan",
		"runs terraform apply itself: replaced by the runner's apply step"} {
		if !strings.Contains(notes(res), want) {
			t.Errorf("notes lack %q:\n%s", want, notes(res))
		}
	}
}

func TestNoProjects(t *testing.T) {
	t.Parallel()
	repo, res := convert(t, "version: 3\nautomerge: true\n")
	if len(repo.Environments) != 0 || !strings.Contains(string(res.Config), "discovers environments") {
		t.Errorf("want no environments and a comment saying so:\n%s", res.Config)
	}
}

func TestConvertErrors(t *testing.T) {
	t.Parallel()
	many := "version: 3\nprojects:\n" + strings.Repeat("- dir: x\n", atlantis.MaxProjects+1)
	bomb := "version: 3\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 'b'; i <= 'i'; i++ {
		bomb += fmt.Sprintf("%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	for _, tc := range []struct {
		name, src, want string
	}{
		{"empty", "", "empty"},
		{"not YAML", "version: 3\nprojects: [\n", "invalid YAML"},
		{"no version", "projects: []\n", "version is missing"},
		{"version 1", "version: 1\n", "only versions 3 (and 2)"},
		{"a list", "- version: 3\n", "top level must be a mapping"},
		{"two documents", "version: 3\n---\nversion: 3\n", "more than one YAML document"},
		{"duplicate key", "version: 3\nprojects:\n- dir: a\n  dir: b\n", `key "dir" is given twice`},
		{"too large", "version: 3\n#" + strings.Repeat("x", atlantis.MaxFileSize), "more than the 1048576 allowed"},
		{"too many projects", many, "more than the 5000 allowed"},
		{"alias bomb", bomb, "more than"},
	} {
		res, err := atlantis.Convert([]byte(tc.src))
		var ae *atlantis.Error
		if err == nil || !errors.As(err, &ae) || !strings.Contains(err.Error(), tc.want) || res != nil {
			t.Errorf("%s: Convert = %v, %v; want an *atlantis.Error containing %q", tc.name, res, err, tc.want)
		}
	}
}

// TestConvertLarge converts inputs at the bounds: MaxProjects projects, environments past .runner.yaml's
// 1000 projects, execution order groups and long depends_on lists. They must convert, quickly, to a file
// that parses.
func TestConvertLarge(t *testing.T) {
	t.Parallel()
	var src strings.Builder
	src.WriteString("version: 3\nprojects:\n")
	for i := 0; i < atlantis.MaxProjects; i++ {
		env := []string{"dev", "staging", "prod", "prod", "prod"}[i%5]
		fmt.Fprintf(&src, "- {name: p%d, dir: environments/%s/c%d, execution_order_group: %d, depends_on: [p%d, p%d, p%d]}\n",
			i, env, i, i%7, (i+5)%atlantis.MaxProjects, (i+10)%atlantis.MaxProjects, i)
	}
	repo, res := convert(t, src.String())
	if len(repo.Projects()) != 3000 || res.Count(atlantis.Invalid) != 2000 {
		t.Errorf("%d projects and %d errors, want 3000 (1000 per environment) and 2000 left out", len(repo.Projects()), res.Count(atlantis.Invalid))
	}

	src.Reset()
	src.WriteString("version: 3\nprojects:\n- name: a\n  dir: a\n  depends_on:\n")
	for src.Len() < atlantis.MaxFileSize-100 {
		src.WriteString("  - b\n")
	}
	src.WriteString("- {name: b, dir: b}\n")
	repo, _ = convert(t, src.String())
	if p, _ := repo.Project("a"); len(p.DependsOn) != 1 {
		t.Errorf("a depends on %v, want [b]", p.DependsOn)
	}
}

// TestConvertOutputBound: a file of many tiny workflows would convert to more than .runner.yaml may hold;
// the unused ones are left out (and listed) rather than the conversion failing.
func TestConvertOutputBound(t *testing.T) {
	t.Parallel()
	var src strings.Builder
	src.WriteString("version: 3\nprojects: [{dir: a, workflow: w0}]\nworkflows:\n")
	for i := 0; i < 15000; i++ { // about 90 bytes of output each
		fmt.Fprintf(&src, " w%d: {}\n", i)
	}
	repo, res := convert(t, src.String())
	if _, ok := repo.Workflow("w0"); !ok || len(repo.Workflows) != 1 || res.Count(atlantis.Unmapped) < 1000 {
		t.Errorf("%d workflows and %d notes: want w0 alone, the others listed", len(repo.Workflows), res.Count(atlantis.Unmapped))
	}
}

func TestWorkflowNamedDefault(t *testing.T) {
	t.Parallel()
	repo, res := convert(t, "version: 3\nprojects:\n- {dir: a, workflow: default}\n- {dir: b}\nworkflows:\n  default:\n    plan: {steps: [init, plan, {run: make check}]}\n")
	a, _ := repo.Project("a")
	b, _ := repo.Project("b")
	if a.Workflow != "default-2" || b.Workflow != config.DefaultWorkflow {
		t.Errorf("workflows %q and %q, want default-2 and the default", a.Workflow, b.Workflow)
	}
	if !strings.Contains(notes(res), "renamed default-2") {
		t.Errorf("notes lack the rename:\n%s", notes(res))
	}
}
