//go:build e2e

package server_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
)

// A pull request's plan runs on a sparse work tree: nothing is written until the commit's tree, read
// from the mirror in memory, tells what the planned environment needs. Each file below is read by the plan (a module called through another
// module, a template in a module's subfolder, a file read through path.root, a fileset outside every
// module, a var file one folder up): were any missing, the plan would fail. The docs and the other
// environment's files are not written.
func TestSparseWorkTreeHoldsWhatThePlanNeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	h, st := newStackHarness(t, fixture.Options{Environments: []string{"dev", "prod"}, NoApps: true})
	st.GitHub.SeedRepo(repoName, fakegithub.Repo{CloneURL: h.git.URL(repoName), DefaultBranch: "main"})
	if err := h.repo.Checkout("main"); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		".runner.yaml": `environments:
  - name: dev
    projects:
      - {name: dev, dir: stacks/dev, var_files: [../dev.tfvars]}
  - name: prod
    projects:
      - {name: prod, dir: stacks/prod}
`,
		"stacks/dev.tfvars": "colour = \"green-from-var-file\"\n",
		"stacks/dev/main.tf": `variable "colour" { type = string }
module "a" {
  source = "../../terraform/modules/a"
}
resource "terraform_data" "root" {
  input = "${var.colour} ${trimspace(file("${path.root}/files/root.txt"))} ${length(fileset("${path.root}/../../policies", "*.json"))}-policies"
}
`,
		"stacks/dev/files/root.txt":     "root-file-content\n",
		"terraform/modules/a/main.tf":   "module \"b\" {\n  source = \"../b\"\n}\n" + tfData("a", `trimspace(file("${path.module}/a.txt"))`),
		"terraform/modules/a/a.txt":     "module-a-content\n",
		"terraform/modules/b/main.tf":   tfData("b", `trimspace(templatefile("${path.module}/tpl/b.tpl", { who = "b" }))`),
		"terraform/modules/b/tpl/b.tpl": "template-of-${who}\n",
		"policies/one.json":             "{}\n",
		"policies/two.json":             "{}\n",
		"stacks/prod/main.tf":           tfData("prod", `"prod"`),
		"stacks/prod/big/notes.txt":     "not needed\n",
		"apps/frontend/src/index.html":  "<html></html>\n",
	}
	for i := range 40 {
		files[fmt.Sprintf("docs/page-%02d.md", i)] = "# page\n"
	}
	commitPush(t, h, "main", files)

	run, _ := planPR(t, h, 51, map[string]string{"terraform/modules/b/tpl/b.tpl": "template-of-${who}-changed\n"})
	if run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("run %s: %s", run.Status, run.Error)
	}
	if got := strings.Join(run.Environments, ","); got != "dev" {
		t.Errorf("environments %q, want dev", got)
	}
	c := envComment(st, 51, "dev")
	for _, want := range []string{"green-from-var-file root-file-content 2-policies", "module-a-content", "template-of-b-changed"} {
		if !strings.Contains(c, want) {
			t.Errorf("the plan does not show %q:\n%s", want, c)
		}
	}
	log := h.stageLog(run, "", "checkout")
	m := regexp.MustCompile(`read the commit's tree \((\d+) files and folders\)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("the checkout did not read the commit's tree without writing it:\n%s", log)
	}
	if n, _ := strconv.Atoi(m[1]); n < len(files) {
		t.Errorf("the commit's tree holds %d files and folders, want at least the %d committed", n, len(files))
	}
}
