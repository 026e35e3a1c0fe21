//go:build e2e

package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/testenv/stack"
)

// layoutsConfig maps the layouts of real repositories onto environments of several projects.
const layoutsConfig = `environments:
  - name: dev
    order: 1
    projects:
      - {name: dev-app, dir: stacks/app, var_files: [dev.tfvars]}
  - name: prod
    order: 2
    projects:
      - {name: network, dir: live/prod/network}
      - {name: app, dir: live/prod/app, depends_on: [network], var_files: [../prod.tfvars]}
      - {name: app-ops, dir: live/prod/app, workspace: ops, depends_on: [network]}
      - {name: top, dir: .}
  - name: batch
    order: 3
    roots: ["batch/**"]
`

// tfData is a root with one terraform_data resource whose input shows in the plan.
func tfData(name, input string) string {
	return fmt.Sprintf("resource \"terraform_data\" %q {\n  input = %s\n}\n", name, input)
}

func layoutFiles() map[string]string {
	files := map[string]string{
		".runner.yaml":              layoutsConfig,
		"main.tf":                   tfData("top", `"top"`),
		"modules/shared/main.tf":    "variable \"who\" {\n  type = string\n}\n" + tfData("shared", "var.who"),
		"modules/shared/README.md":  "# shared\n",
		"templates/user_data.tpl":   "hello ${name}\n",
		"live/common.auto.tfvars":   "size = 3\n",
		"live/prod/prod.tfvars":     "flavour = \"prod-flavour\"\n",
		"live/prod/network/main.tf": "module \"shared\" {\n  source = \"../../../modules/shared\"\n  who    = \"network\"\n}\n",
		"live/prod/app/main.tf": `variable "flavour" {
  type    = string
  default = "none"
}
variable "size" { type = number }
resource "terraform_data" "flavour" { input = "${var.flavour}-${var.size}" }
resource "terraform_data" "ws" {
  count = terraform.workspace == "ops" ? 2 : 0
  input = terraform.workspace
}
resource "terraform_data" "ud" {
  input = templatefile("../../../templates/user_data.tpl", { name = "app" })
}
`,
		"stacks/app/main.tf":    "variable \"flavour\" { type = string }\n" + tfData("flavour", "var.flavour"),
		"stacks/app/dev.tfvars": "flavour = \"dev-flavour\"\n",
	}
	for i := 1; i <= 5; i++ {
		files[fmt.Sprintf("batch/s%d/main.tf", i)] = "module \"shared\" {\n  source = \"../../modules/shared\"\n  who    = \"s" + fmt.Sprint(i) + "\"\n}\n"
	}
	return files
}

// layoutsHarness commits the layouts on main (no deploy) and returns the runner.
func layoutsHarness(t *testing.T) (*harness, *stack.Stack) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	h, st := newStackHarness(t, fixture.Options{Environments: []string{"dev", "prod"}, NoApps: true})
	st.GitHub.SeedRepo(repoName, fakegithub.Repo{CloneURL: h.git.URL(repoName), DefaultBranch: "main"})
	if err := h.repo.Checkout("main"); err != nil {
		t.Fatal(err)
	}
	commitPush(t, h, "main", layoutFiles())
	if err := h.repo.Link("live/prod/app/common.auto.tfvars", "../../common.auto.tfvars"); err != nil {
		t.Fatal(err)
	}
	commitPush(t, h, "main", nil)
	return h, st
}

// planPR opens pull request pr with files changed and waits for its plan.
func planPR(t *testing.T, h *harness, pr int, files map[string]string) (store.Run, string) {
	t.Helper()
	base, head := openPR(t, h, fmt.Sprintf("pr-%d", pr), files)
	run := h.waitRun(h.accept("pull_request", h.prPayload("opened", pr, head, base, fmt.Sprintf("pr-%d", pr))), 4*time.Minute)
	return run, head
}

// envComment is the sticky plan comment of env on pull request pr.
func envComment(st *stack.Stack, pr int, env string) string {
	for _, c := range st.GitHub.Comments(repoName, pr) {
		if strings.Contains(c.Body, "### Terraform plan: `"+env+"`") {
			return c.Body
		}
	}
	return ""
}

// lastStatuses maps each status context on sha to its newest state.
func lastStatuses(st *stack.Stack, sha string) map[string]string {
	out := map[string]string{}
	for _, s := range st.GitHub.Statuses(repoName, sha) {
		out[s.Context] = s.State
	}
	return out
}

func TestLayoutsPlanExactlyWhatChanged(t *testing.T) {
	// The subtests open pull requests from the real payload: skip here, on this test, when it is absent
	// (a skip on the parent from inside a subtest would fail it).
	realPayload(t, "pull_request.opened.json")
	h, st := layoutsHarness(t)

	t.Run("a shared module: projects in dependency order, workspaces and var files", func(t *testing.T) {
		run, head := planPR(t, h, 31, map[string]string{"live/prod/app/extra.tf": tfData("extra", `"x"`),
			"live/prod/network/extra.tf": tfData("extra", `"y"`)})
		if run.Status != store.StatusSucceeded {
			dumpRun(t, run)
			t.Fatalf("run %s: %s", run.Status, run.Error)
		}
		if got := strings.Join(run.Environments, ","); got != "prod" {
			t.Errorf("environments %q, want prod only", got)
		}
		c := envComment(st, 31, "prod")
		for _, want := range []string{"#### Project `network`", "#### Project `app`", "#### Project `app-ops`", "workspace `ops`",
			`prod-flavour-3`, `terraform_data.ws[1]`} {
			if !strings.Contains(c, want) {
				t.Errorf("prod comment lacks %q:\n%s", want, c)
			}
		}
		if strings.Contains(c, "#### Project `top`") {
			t.Errorf("the root at . was planned for a change below it:\n%s", c)
		}
		sts := lastStatuses(st, head)
		for _, ctx := range []string{"runner/plan: prod", "runner/plan: prod/network", "runner/plan: prod/app", "runner/plan: prod/app-ops"} {
			if sts[ctx] != "success" {
				t.Errorf("status %s = %q; all %v", ctx, sts[ctx], sts)
			}
		}
		if _, ok := sts["runner/plan: prod/top"]; ok {
			t.Errorf("top got a status: %v", sts)
		}
		log := h.stageLog(run, "prod", "plan")
		if strings.Index(log, "[network] ") > strings.Index(log, "[app] ") {
			t.Errorf("app planned before network, which it depends on:\n%s", log)
		}
	})

	t.Run("a symlinked auto.tfvars and a templatefile read", func(t *testing.T) {
		run, _ := planPR(t, h, 32, map[string]string{"live/common.auto.tfvars": "size = 4\n", "templates/user_data.tpl": "bye ${name}\n"})
		if run.Status != store.StatusSucceeded {
			dumpRun(t, run)
			t.Fatalf("run %s: %s", run.Status, run.Error)
		}
		c := envComment(st, 32, "prod")
		if !strings.Contains(c, "prod-flavour-4") || strings.Contains(c, "Project `network`") {
			t.Errorf("want app and app-ops only, with size 4:\n%s", c)
		}
		if envComment(st, 32, "dev") != "" || envComment(st, 32, "batch") != "" {
			t.Error("dev or batch planned for prod's files")
		}
	})

	t.Run("var files per environment", func(t *testing.T) {
		run, _ := planPR(t, h, 36, map[string]string{"stacks/app/extra.tf": tfData("extra", `"e"`)})
		if run.Status != store.StatusSucceeded || strings.Join(run.Environments, ",") != "dev" {
			dumpRun(t, run)
			t.Fatalf("run %s for %v, want dev only", run.Status, run.Environments)
		}
		if c := envComment(st, 36, "dev"); !strings.Contains(c, "dev-flavour") {
			t.Errorf("dev's plan lacks its var file's value:\n%s", c)
		}
	})

	t.Run("documentation plans nothing", func(t *testing.T) {
		run, _ := planPR(t, h, 33, map[string]string{"modules/shared/README.md": "# changed\n", "README.md": "# x\n"})
		if run.Status != store.StatusNothing || len(st.GitHub.Comments(repoName, 33)) != 0 {
			t.Errorf("run %s, %d comments", run.Status, len(st.GitHub.Comments(repoName, 33)))
		}
	})

	t.Run("a syntax error in one of five roots: the other four are planned", func(t *testing.T) {
		run, head := planPR(t, h, 34, map[string]string{
			"modules/shared/main.tf": "variable \"who\" {\n  type = string\n}\n" + tfData("shared", `"${var.who}-v2"`),
			"batch/s3/main.tf":       "module \"shared\" {\n  source = \"../../modules/shared\"\n  who    = = \"s3\"\n}\n",
		})
		if run.Status != store.StatusFailed {
			t.Fatalf("run %s, want failed (s3)", run.Status)
		}
		c := envComment(st, 34, "batch")
		for i := 1; i <= 5; i++ {
			if !strings.Contains(c, fmt.Sprintf("#### Project `batch/s%d`", i)) {
				t.Errorf("batch comment lacks s%d:\n%s", i, c)
			}
		}
		if !strings.Contains(c, "**Plan failed**") || !strings.Contains(c, "main.tf line 3") || strings.Count(c, "s1-v2")+strings.Count(c, "-v2") < 4 {
			t.Errorf("want s3's error with its line and the others' plans:\n%s", c)
		}
		sts := lastStatuses(st, head)
		if sts["runner/plan: batch/batch/s3"] != "failure" || sts["runner/plan: batch/batch/s1"] != "success" || sts["runner/plan: batch"] != "failure" {
			t.Errorf("statuses %v", sts)
		}
		if envComment(st, 34, "prod") == "" {
			t.Error("prod (network calls the module too) was not planned")
		}
	})

	t.Run("a new root no project lists is reported", func(t *testing.T) {
		run, _ := planPR(t, h, 35, map[string]string{"live/qa/main.tf": tfData("qa", `"qa"`)})
		if run.Status != store.StatusNothing {
			t.Errorf("run %s: %s", run.Status, run.Error)
		}
		c := envComment(st, 35, "runner.detection")
		if !strings.Contains(c, "no project covers these folders") || !strings.Contains(c, "`live/qa`") {
			t.Errorf("detection comment:\n%s", c)
		}
	})
}

// stageLog is the whole log of one stage of a run.
func (h *harness) stageLog(run store.Run, env, name string) string {
	h.t.Helper()
	resp, err := h.apiGet(fmt.Sprintf("/api/stages/%d/log", stageMap(run)[strings.TrimPrefix(env+"/"+name, "/")].ID))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var log struct{ Lines []store.LogLine }
	_ = json.NewDecoder(resp.Body).Decode(&log)
	var text strings.Builder
	for _, l := range log.Lines {
		text.WriteString(l.Line + "\n")
	}
	return text.String()
}

// A merge deploys each environment's projects in dependency order, all under the environment's one lock
// and one plan/apply stage, each applying its own saved plan.
func TestLayoutsDeployInDependencyOrder(t *testing.T) {
	h, st := layoutsHarness(t)
	before, _ := h.repo.Head()
	after := commitPush(t, h, "main", map[string]string{"live/prod/network/extra.tf": tfData("extra", `"deploy"`)})
	run := h.waitRun(h.accept("push", h.pushPayload(before, after)), 4*time.Minute)
	if run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("deploy %s: %s", run.Status, run.Error)
	}
	if got := strings.Join(run.Environments, ","); got != "prod" {
		t.Errorf("deployed %q, want prod (network's change)", got)
	}
	log := h.stageLog(run, "prod", "apply")
	n, a := strings.Index(log, "[network] "), strings.Index(log, "[app] ")
	if n < 0 || a >= 0 && a < n {
		t.Errorf("apply order wrong or network not applied:\n%s", log)
	}
	if strings.Contains(log, "[top] ") || strings.Contains(log, "[app-ops] ") {
		t.Errorf("applied projects the change does not affect:\n%s", log)
	}
	if !strings.Contains(log, "Apply complete! Resources: 2 added") {
		t.Errorf("network's apply missing:\n%s", log)
	}
	_ = st
}
