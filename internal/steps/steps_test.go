package steps

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/config"
)

func request(t *testing.T, step config.Step) Request {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "env")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return Request{Step: step, Project: "net", Env: "prod", RepoRoot: root, Dir: dir, WorkTree: root,
		Environ: map[string]string{"AWS_REGION": "eu-west-1"}, Vars: map[string]string{"PROJECT_NAME": "net"}, AllowRun: true}
}

func TestRunStep(t *testing.T) {
	r := New(Options{BaseEnv: map[string]string{"PATH": "/usr/bin:/bin", "SECRET_OF_THE_RUNNER": ""}})
	tests := []struct {
		name     string
		run      string
		allow    bool
		failed   bool
		err      error
		markdown []string
		log      []string
	}{
		{name: "passes with the project's environment", run: `echo "$PROJECT_NAME in $AWS_REGION at $(basename "$PWD")"`, allow: true,
			markdown: []string{"**run: echo \"$PROJECT\\_NAME in $AWS\\_REGION at $(basename \"$PWD\")\"** passed"}, log: []string{"net in eu-west-1 at env"}},
		{name: "fails with its output", run: "echo '<b>@team</b> ```' >&2; exit 3", allow: true, failed: true,
			markdown: []string{"failed", "&lt;b&gt;@\u200bteam&lt;/b&gt;", "`\u200b``"}},
		{name: "refused by the policy", run: "true", err: ErrRunNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request(t, config.Step{Kind: config.StepRun, Run: tt.run})
			req.AllowRun = tt.allow
			var log bytes.Buffer
			req.Log = &log
			res, err := r.Run(context.Background(), req)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if res.Failed != tt.failed {
				t.Errorf("failed = %v (%s)", res.Failed, res.Summary)
			}
			for _, m := range tt.markdown {
				if !strings.Contains(res.Markdown, m) {
					t.Errorf("markdown lacks %q:\n%s", m, res.Markdown)
				}
			}
			for _, l := range tt.log {
				if !strings.Contains(log.String(), l) {
					t.Errorf("log lacks %q:\n%s", l, log.String())
				}
			}
		})
	}
}

func TestRunStepTimesOut(t *testing.T) {
	r := New(Options{Timeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := r.Run(context.Background(), request(t, config.Step{Kind: config.StepRun, Run: "sleep 30"}))
	if err == nil || !strings.Contains(err.Error(), "stopped") || time.Since(start) > 15*time.Second {
		t.Fatalf("err = %v after %s", err, time.Since(start))
	}
}

func TestTFLintStep(t *testing.T) {
	bin := filepath.Join(os.Getenv("HOME"), ".cache", "gitops-runner", "bin", "tflint")
	if _, err := os.Stat(bin); err != nil {
		p, lerr := exec.LookPath("tflint")
		if lerr != nil {
			t.Skip("skipping: needs tflint (scripts/install-tools.sh tflint installs it)")
		}
		bin = p
	}
	r := New(Options{TFLint: bin})
	req := request(t, config.Step{Kind: config.StepTFLint})
	if err := os.WriteFile(filepath.Join(req.Dir, "main.tf"), []byte("variable \"unused\" {}\nterraform {\n  required_version = \">= 1.0\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Failed || !strings.Contains(res.Markdown, "terraform\\_unused\\_declarations") && !strings.Contains(res.Markdown, "terraform_unused_declarations") {
		t.Errorf("tflint found nothing in an unused variable: %+v", res)
	}
	missing := New(Options{TFLint: ""})
	t.Setenv("PATH", t.TempDir())
	if _, err := missing.Run(context.Background(), req); err == nil || !strings.Contains(err.Error(), "tflint is not installed") {
		t.Errorf("missing tflint: %v", err)
	}
}

func TestPolicyStep(t *testing.T) {
	for _, tc := range []struct {
		plan     string
		failed   bool
		failures []string
	}{
		{"plan_unencrypted.json", true, []string{"terraform.s3_encryption.deny: aws_s3_bucket.logs has no server-side encryption: add an aws_s3_bucket_server_side_encryption_configuration for it"}},
		{"plan_encrypted.json", false, nil},
	} {
		t.Run(tc.plan, func(t *testing.T) {
			req := request(t, config.Step{Kind: config.StepPolicy, Paths: []string{"policies"}})
			rego, err := os.ReadFile("../plancheck/testdata/policies/s3_encryption.rego")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(req.RepoRoot, "policies"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(req.RepoRoot, "policies", "s3_encryption.rego"), rego, 0o644); err != nil {
				t.Fatal(err)
			}
			req.PlanJSON = filepath.Join("..", "plancheck", "testdata", tc.plan)
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			// In this process, and in a child process of this binary, as the server runs them.
			for _, opts := range []Options{{}, {Self: self}} {
				res, err := New(opts).Run(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				got := FailureMessages(res.Policy)
				if res.Failed != tc.failed || strings.Join(got, "\n") != strings.Join(tc.failures, "\n") {
					t.Errorf("self %q: failed %v, failures %q; want %v %q", opts.Self, res.Failed, got, tc.failed, tc.failures)
				}
			}
		})
	}
	req := request(t, config.Step{Kind: config.StepPolicy, Paths: []string{"nothing-here"}})
	req.PlanJSON = "../plancheck/testdata/plan_encrypted.json"
	if _, err := New(Options{}).Run(context.Background(), req); err == nil {
		t.Error("a policy step without policies passed")
	}
}

// A policy that does not compile fails the step with its file and line, also from a child process.
func TestPolicyStepErrorsNameTheFile(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	req := request(t, config.Step{Kind: config.StepPolicy, Paths: []string{"policies"}})
	if err := os.MkdirAll(filepath.Join(req.RepoRoot, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(req.RepoRoot, "policies", "bad.rego"), []byte("package x\n\ndeny contains msg if {\n  msg := opa.runtime().env\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	req.PlanJSON = "../plancheck/testdata/plan_encrypted.json"
	for _, opts := range []Options{{}, {Self: self}} {
		_, err := New(opts).Run(context.Background(), req)
		if err == nil || !strings.Contains(err.Error(), "policies/bad.rego:4") || !strings.Contains(err.Error(), "opa.runtime") {
			t.Errorf("self %q: err = %v", opts.Self, err)
		}
	}
}
