package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const projectsYAML = `environments:
  - name: prod
    order: 3
    require_approval: true
    workflow: checked
    vars: {region: us-east-1}
    projects:
      - name: network
        dir: environments/prod/us-east-1/network
        workspace: ops
        var_files: [../../common.tfvars, prod.tfvars]
        backend_config: [backend.hcl, "key=prod/network.tfstate"]
        terraform_version: v1.5.7
        when_modified: ["../../../../shared/*.yaml"]
        vars: {cidr: 10.0.0.0/16}
      - name: app
        dir: environments/prod/us-east-1/app
        depends_on: [network]
        workflow: default
workflows:
  checked:
    plan:
      steps:
        - init
        - tflint: {args: ["--minimum-failure-severity=error"]}
        - plan
        - policy: {paths: [policies]}
        - run: echo planned
`

func TestParseRepoProjects(t *testing.T) {
	r, err := ParseRepo([]byte(projectsYAML))
	if err != nil {
		t.Fatal(err)
	}
	prod, _ := r.Environment("prod")
	want := []Project{
		{Name: "network", Env: "prod", Dir: "environments/prod/us-east-1/network", Workspace: "ops",
			VarFiles:      []string{"../../common.tfvars", "prod.tfvars"},
			BackendConfig: []string{"backend.hcl", "key=prod/network.tfstate"}, TerraformVersion: "1.5.7",
			WhenModified: []string{"shared/*.yaml"}, Workflow: "checked",
			Vars: map[string]string{"region": "us-east-1", "cidr": "10.0.0.0/16"}},
		{Name: "app", Env: "prod", Dir: "environments/prod/us-east-1/app", Workspace: "default",
			DependsOn: []string{"network"}, Workflow: "default", Vars: map[string]string{"region": "us-east-1"}},
	}
	if !reflect.DeepEqual(prod.Projects, want) {
		t.Errorf("projects =\n%+v\nwant\n%+v", prod.Projects, want)
	}
	if got := prod.Projects[0].RepoPath(prod.Projects[0].VarFiles[0]); got != "environments/prod/common.tfvars" {
		t.Errorf("var file repo path = %q", got)
	}
	if kv := prod.Projects[0].BackendKeyValues(); kv["key"] != "prod/network.tfstate" || len(prod.Projects[0].BackendFiles()) != 1 {
		t.Errorf("backend config = %v %v", kv, prod.Projects[0].BackendFiles())
	}
	wf, ok := r.Workflow("checked")
	if !ok {
		t.Fatal("no checked workflow")
	}
	var kinds []string
	for _, s := range wf.Plan {
		kinds = append(kinds, s.Kind)
	}
	if strings.Join(kinds, ",") != "init,tflint,plan,policy,run" || wf.Plan[1].Args[0] != "--minimum-failure-severity=error" ||
		wf.Plan[3].Paths[0] != "policies" || wf.Plan[4].Run != "echo planned" || len(wf.Apply) != 1 || !wf.HasRunSteps() {
		t.Errorf("workflow = %+v", wf)
	}
	if d, _ := r.Workflow(""); len(d.Plan) != 2 || d.HasRunSteps() {
		t.Errorf("default workflow = %+v", d)
	}
	if got := r.Ignore; !reflect.DeepEqual(got, []string{"**/*.md"}) {
		t.Errorf("ignore = %v", got)
	}
	layers := Layers(prod.Projects)
	if len(layers) != 2 || layers[0][0].Name != "network" || layers[1][0].Name != "app" {
		t.Errorf("layers = %+v", layers)
	}
}

func TestParseRepoProjectProblems(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"dir and projects", "environments:\n  - name: p\n    dir: a\n    projects: [{name: x, dir: b}]\n",
			[]string{"line 2: environment p: set only one of dir, roots and projects"}},
		{"same folder and workspace", "environments:\n  - name: p\n    projects:\n      - {name: a, dir: x}\n      - {name: b, dir: ./x/}\n",
			[]string{"line 5: projects a and b would share state: both plan x in workspace default"}},
		{"same backend key", "environments:\n  - name: p\n    projects:\n      - {name: a, dir: x, backend_config: [key=s]}\n      - {name: b, dir: y, backend_config: [key=s]}\n",
			[]string{`line 5: projects a and b would share state: both use backend key "s" in workspace default`}},
		{"two workspaces are fine, a third name is not", "environments:\n  - name: p\n    projects:\n      - {name: a, dir: x}\n      - {name: b, dir: x, workspace: ops}\n      - {name: a, dir: y}\n",
			[]string{`line 6: project "a" is defined twice`}},
		{"unknown dependency", "environments:\n  - name: p\n    projects:\n      - {name: a, dir: x, depends_on: [zz]}\n",
			[]string{`project a depends on "zz", which is not a project of environment p`}},
		{"cycle", "environments:\n  - name: p\n    projects:\n      - {name: a, dir: x, depends_on: [b]}\n      - {name: b, dir: y, depends_on: [a]}\n",
			[]string{"environment p: projects depend on each other: a -> b -> a"}},
		{"unknown workflow", "environments:\n  - name: p\n    projects:\n      - {name: a, dir: x, workflow: nope}\n",
			[]string{`line 4: project a: workflow "nope" is not defined under workflows`}},
		{"var file outside", "environments:\n  - name: p\n    projects:\n      - {name: a, dir: x, var_files: [../../y.tfvars]}\n",
			[]string{`project a: var_files "../../y.tfvars" is outside the repository`}},
		{"bad values", "environments:\n  - name: p\n    projects:\n      - name: a b\n        dir: x\n        workspace: a/b\n        terraform_version: latest\n        when_modified: [\"[\"]\n",
			[]string{`line 4: project name "a b"`, `line 6: project a b: workspace "a/b"`, `line 7: project a b: terraform_version "latest"`, "line 8: project a b: when_modified"}},
		{"workflow steps", "workflows:\n  w:\n    plan:\n      steps: [policy, init, plan, plan, {run: \"\"}, {init: {extra_args: [-upgrade]}}, frob]\n    apply: {steps: [plan]}\n",
			[]string{"a policy step checks the plan, so it must come after plan", "run needs a command", "init takes no options here",
				`unknown step "frob"`, "plan needs exactly one plan step, not 2", "a plan step cannot be part of apply", "apply needs exactly one apply step, not 0"}},
		{"roots empty and bad glob", "environments:\n  - name: p\n    roots: []\n  - name: q\n    roots: [\"a/[\"]\n",
			[]string{"line 3: environment p: roots is empty", "line 5: environment q: roots:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRepo([]byte(tt.in))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadRepoDiscoversRoots(t *testing.T) {
	dir := repoWriteTree(t, map[string]string{
		".runner.yaml": "environments:\n  - name: prod\n    roots: [\"environments/prod/**\"]\n  - name: dev\n    dir: environments/dev\n",
		"environments/prod/us-east-1/network/main.tf": `module "m" { source = "../../modules/vpc" }`,
		"environments/prod/us-east-1/app/main.tf":     "",
		"environments/prod/modules/vpc/main.tf":       "",
		"environments/prod/README.md":                 "",
		"environments/prod/.terraform/modules/x/a.tf": "",
		"environments/dev/main.tf":                    "",
	})
	r, err := LoadRepo(dir)
	if err != nil {
		t.Fatal(err)
	}
	prod, _ := r.Environment("prod")
	if got := prod.ProjectNames(); !reflect.DeepEqual(got, []string{"environments/prod/us-east-1/app", "environments/prod/us-east-1/network"}) {
		t.Errorf("discovered %v", got)
	}
	if !prod.Projects[0].Discovered || prod.Projects[0].Workflow != DefaultWorkflow {
		t.Errorf("project = %+v", prod.Projects[0])
	}
	if got := len(r.Projects()); got != 3 {
		t.Errorf("%d projects", got)
	}
}

func TestLoadRepoProjectFiles(t *testing.T) {
	dir := repoWriteTree(t, map[string]string{
		".runner.yaml":  "environments:\n  - name: prod\n    projects:\n      - {name: a, dir: x, var_files: [a.tfvars, missing.tfvars], backend_config: [b.hcl]}\n    roots: []\n",
		"x/main.tf":     "",
		"x/a.tfvars":    "",
		"roots/main.tf": "",
	})
	_, err := LoadRepo(dir)
	if err == nil || !strings.Contains(err.Error(), "set only one of dir, roots and projects") {
		t.Fatalf("err = %v", err)
	}
	dir = repoWriteTree(t, map[string]string{
		".runner.yaml": "environments:\n  - name: prod\n    projects:\n      - {name: a, dir: x, var_files: [a.tfvars, missing.tfvars], backend_config: [b.hcl]}\n",
		"x/main.tf":    "",
		"x/a.tfvars":   "",
	})
	_, err = LoadRepo(dir)
	var re RepoErrors
	if !errors.As(err, &re) || len(re) != 2 || !strings.Contains(re[0].Msg, "x/missing.tfvars does not exist") ||
		!strings.Contains(re[1].Msg, "x/b.hcl does not exist") || re[0].Line != 4 {
		t.Fatalf("err = %v", err)
	}
}
