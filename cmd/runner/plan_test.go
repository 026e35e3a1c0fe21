package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A project's workspace, var files and -var inputs reach Terraform, each project of an environment is
// planned, and nothing of Terraform's working data lands in the checkout.
func TestPlanProjectsWorkspaceVarFiles(t *testing.T) {
	terraform(t)
	repo := t.TempDir()
	writeFiles(t, repo, map[string]string{
		".runner.yaml": `environments:
  - name: prod
    projects:
      - name: network
        dir: stacks/network
        var_files: [../common.tfvars, prod.tfvars]
      - name: ops
        dir: stacks/app
        workspace: ops
        depends_on: [network]
      - name: app
        dir: stacks/app
        vars: {greeting: from-config}
`,
		"stacks/common.tfvars":       "greeting = \"common\"\ncount_of = 1\n",
		"stacks/network/prod.tfvars": "count_of = 3\n",
		"stacks/network/main.tf": `variable "greeting" { type = string }
variable "count_of" { type = number }
resource "terraform_data" "n" {
  count = var.count_of
  input = var.greeting
}
`,
		"stacks/app/main.tf": `variable "greeting" {
  type    = string
  default = "hello"
}
resource "terraform_data" "ws" {
  count = terraform.workspace == "ops" ? 2 : 0
  input = terraform.workspace
}
resource "terraform_data" "g" { input = var.greeting }
`,
	})
	code, stdout, stderr := runCmd(t, "plan", "--repo", repo, "--env", "prod", "--json")
	if code != 0 {
		t.Fatalf("exit code = %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	var got struct {
		Environment string `json:"environment"`
		Projects    []struct {
			Project, Workspace string
			Summary            struct {
				Add       int `json:"add"`
				Resources []struct{ Address string }
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	adds := map[string]int{}
	for _, p := range got.Projects {
		adds[p.Project+"@"+p.Workspace] = p.Summary.Add
	}
	// network: 3 from prod.tfvars over common.tfvars; ops: 2 workspace resources + g; app: only g.
	want := map[string]int{"network@default": 3, "ops@ops": 3, "app@default": 1}
	if got.Environment != "prod" || len(adds) != 3 || adds["network@default"] != 3 || adds["ops@ops"] != 3 || adds["app@default"] != 1 {
		t.Errorf("planned %v, want %v\n%s", adds, want, stdout)
	}
	if got.Projects[0].Project != "network" {
		t.Errorf("network must come first (ops depends on it): %+v", got.Projects)
	}
	// (A new workspace of the local backend is state, terraform.tfstate.d, which Terraform itself keeps
	// beside the configuration: only the runner's own working data must stay out.)
	_ = filepath.WalkDir(repo, func(p string, d os.DirEntry, err error) error {
		if err == nil && (d.Name() == ".terraform" || strings.HasSuffix(d.Name(), ".tfplan")) {
			t.Errorf("plan left %s in the checkout", p)
		}
		return nil
	})

	code, stdout, stderr = runCmd(t, "plan", "--repo", repo, "--project", "ops")
	if code != 0 || !strings.Contains(stdout, `terraform_data.ws[1]`) || strings.Contains(stdout, "== project") {
		t.Errorf("--project ops: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

func TestPlanRefusesAFolderWithoutConfiguration(t *testing.T) {
	repo := t.TempDir()
	writeFiles(t, repo, map[string]string{
		".runner.yaml":               "environments:\n  - name: dev\n    dir: environments/dev\n",
		"environments/dev/README.md": "nothing here\n",
	})
	code, _, stderr := runCmd(t, "plan", "--repo", repo, "--env", "dev", "--terraform", "/nonexistent/terraform")
	if code != 1 || !strings.Contains(stderr, "project dev: environments/dev: no Terraform configuration files") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCmd(t, "plan", "--repo", repo, "--project", "nope")
	if code != 1 || !strings.Contains(stderr, `no project "nope" (have: dev)`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
