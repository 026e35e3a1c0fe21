//go:build e2e

package server_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/testenv/stack"
)

// replayProvider builds the schema-replay stand-in for hashicorp/aws (tools/) and returns a Terraform CLI
// configuration that installs it, and the schema it serves. It skips without ../shared's schema.
func replayProvider(t *testing.T) (cliConfig, schema string) {
	t.Helper()
	schema, err := filepath.Abs("../../../shared/terraform/aws-provider-schema-6.47.0.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(schema); err != nil {
		t.Skipf("skipping: needs the aws provider schema in ../shared/terraform: %v", err)
	}
	// The sandbox's users read the provider: a directory they can reach, not t.TempDir's 0700 one.
	dir, err := os.MkdirTemp("", "replay-provider-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mirror := filepath.Join(dir, "mirror", "registry.terraform.io", "hashicorp", "aws", "6.47.0", "linux_amd64")
	if err := os.MkdirAll(mirror, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "provider", "terraform-provider-aws"), "./cmd/terraform-provider-aws")
	build.Dir = "../../tools"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the schema-replay provider: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "provider", "terraform-provider-aws"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mirror, "terraform-provider-aws_v6.47.0"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	cliConfig = filepath.Join(dir, "terraformrc")
	text := fmt.Sprintf(`provider_installation {
  dev_overrides {
    "hashicorp/aws" = %q
  }
  filesystem_mirror {
    path    = %q
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
`, filepath.Join(dir, "provider"), filepath.Join(dir, "mirror"))
	if err := os.WriteFile(cliConfig, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return cliConfig, schema
}

const guardedConfig = `environments:
  - name: guarded
    projects:
      - {name: storage, dir: guarded/storage, workflow: checked}
workflows:
  checked:
    plan:
      steps:
        - init
        - tflint
        - plan
        - policy: {paths: [policies]}
        - run: test -s "$SHOWFILE" && echo "plan JSON of $PROJECT_NAME in $WORKSPACE is there"
`

const awsProvider = `terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 4.36, < 7.0"
    }
  }
}

provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
}
`

const bucket = `resource "aws_s3_bucket" "logs" {
  bucket = "acme-logs"
}
`

const encryption = `resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.bucket
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}
`

// workflowHarness is a runner whose repository has a project with a checked workflow (tflint, an OPA policy
// that forbids an aws_s3_bucket without encryption, a run step), planned with the schema-replay provider.
func workflowHarness(t *testing.T, allowRun bool) (*harness, *stack.Stack) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	cli, schema := replayProvider(t)
	tflint := filepath.Join(os.Getenv("HOME"), ".cache", "gitops-runner", "bin", "tflint")
	if _, err := os.Stat(tflint); err != nil {
		if tflint, err = exec.LookPath("tflint"); err != nil {
			t.Skip("skipping: needs tflint (scripts/install-tools.sh tflint)")
		}
	}
	pol := filepath.Join(t.TempDir(), "repos.yaml")
	text := fmt.Sprintf("repos:\n  - match: [\"acme/*\"]\n    allow_run_steps: %t\n", allowRun)
	if err := os.WriteFile(pol, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	h, st := newStackHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, func(c *config.Server) {
		c.ReposConfig = pol
		c.TerraformCLIConfig = cli
		c.TFLintBin = tflint
		c.TerraformEnv = map[string]string{"AWS_REPLAY_SCHEMA": schema, "AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "test"}
		c.SandboxReadOnly = append(c.SandboxReadOnly, schema)
	})
	st.GitHub.SeedRepo(repoName, fakegithub.Repo{CloneURL: h.git.URL(repoName), DefaultBranch: "main"})
	st.GitHub.SetCollaborator(repoName, maintainer, fakegithub.Collaborator{Role: "maintain"})
	rego, err := os.ReadFile("../plancheck/testdata/policies/s3_encryption.rego")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.repo.Checkout("main"); err != nil {
		t.Fatal(err)
	}
	commitPush(t, h, "main", map[string]string{
		".runner.yaml": guardedConfig, "policies/s3_encryption.rego": string(rego),
		"guarded/storage/main.tf": awsProvider,
	})
	return h, st
}

func TestWorkflowPolicyBlocksUntilOverridden(t *testing.T) {
	h, st := workflowHarness(t, true)
	base, head := openPR(t, h, "pr-41", map[string]string{"guarded/storage/bucket.tf": bucket})
	run := h.waitRun(h.accept("pull_request", h.prPayload("opened", 41, head, base, "pr-41")), 4*time.Minute)
	if run.Status != store.StatusFailed {
		dumpRun(t, run)
		t.Fatalf("run %s, want failed on the policy", run.Status)
	}
	c := envComment(st, 41, "guarded")
	for _, want := range []string{"aws\\_s3\\_bucket.logs has no server-side encryption", "**tflint** passed", "aws_s3_bucket.logs"} {
		if !strings.Contains(c, want) {
			t.Errorf("comment lacks %q:\n%s", want, c)
		}
	}
	if sts := lastStatuses(st, head); sts["runner/plan: guarded"] != "failure" {
		t.Errorf("statuses %v", sts)
	}
	if log := h.stageLog(run, "guarded", "plan"); !strings.Contains(log, "plan JSON of storage in default is there") {
		t.Errorf("the run step did not see the plan JSON:\n%s", log)
	}

	// A writer may not let the failures through; a maintainer may, and the environment is planned again.
	st.GitHub.SeedPull(repoName, fakegithub.Pull{Number: 41, Title: "bucket", State: "open", HeadSHA: head, BaseSHA: base,
		BaseRef: "main", HeadRef: "pr-41", User: prAuthor})
	cmdRun, _ := h.comment(st, 41, prAuthor, "/runner override guarded the bucket only holds public logs")
	if r := h.waitRun(cmdRun, time.Minute); !strings.Contains(replies(st, 41), "maintain") {
		t.Errorf("writer's override: run %s, replies %q", r.Status, replies(st, 41))
	}
	cmdRun, _ = h.comment(st, 41, maintainer, "/runner override guarded the bucket only holds public logs")
	h.waitRun(cmdRun, time.Minute)
	deadline := time.Now().Add(2 * time.Minute)
	for lastStatuses(st, head)["runner/plan: guarded"] != "success" {
		if time.Now().After(deadline) {
			t.Fatalf("status after the override: %v; replies %q", lastStatuses(st, head), replies(st, 41))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The merge deploys: exactly the overridden failure goes through.
	if err := h.repo.Checkout("main"); err != nil {
		t.Fatal(err)
	}
	before, _ := h.repo.Head()
	sha := commitPush(t, h, "main", map[string]string{"guarded/storage/bucket.tf": bucket})
	st.GitHub.SeedPull(repoName, fakegithub.Pull{Number: 41, Title: "bucket", State: "closed", Merged: true, MergeCommitSHA: sha,
		HeadSHA: head, BaseRef: "main", HeadRef: "pr-41", User: prAuthor})
	dep := h.waitRun(h.accept("push", h.pushPayload(before, sha)), 4*time.Minute)
	if dep.Status != store.StatusSucceeded {
		dumpRun(t, dep)
		t.Fatalf("deploy %s: %s", dep.Status, dep.Error)
	}
	if log := h.stageLog(dep, "guarded", "plan"); !strings.Contains(log, "policy check failures overridden by "+maintainer) {
		t.Errorf("deploy plan log:\n%s", log)
	}
}

func TestWorkflowRunStepsNeedThePolicy(t *testing.T) {
	h, st := workflowHarness(t, false)
	run, head := planPR(t, h, 42, map[string]string{"guarded/storage/bucket.tf": bucket + encryption})
	if run.Status != store.StatusFailed {
		dumpRun(t, run)
		t.Fatalf("run %s, want failed", run.Status)
	}
	c := envComment(st, 42, "guarded")
	if !strings.Contains(c, "run steps are not allowed for this repository") || !strings.Contains(c, "All 1 policy passed") ||
		!strings.Contains(c, "**Failed after the plan**") || !strings.Contains(c, "`aws_s3_bucket_server_side_encryption_configuration.logs`") {
		t.Errorf("comment:\n%s", c)
	}
	if sts := lastStatuses(st, head); sts["runner/plan: guarded"] != "failure" {
		t.Errorf("statuses %v", sts)
	}
}
