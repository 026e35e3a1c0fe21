//go:build e2e

package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/gitops-runner/runner/internal/awscreds"
	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/server"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
	"github.com/gitops-runner/runner/internal/testenv/fakests"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/testenv/stack"
)

// recorder is a terraform wrapper that records every invocation (its arguments and environment)
// in a directory the sandbox may write, then runs the real binary.
type recorder struct{ dir string }

func withRecorder(t *testing.T) (*recorder, func(*config.Server)) {
	t.Helper()
	real := terraformBin(t)
	rec := &recorder{dir: filepath.Join(t.TempDir(), "invocations")}
	wrapper := filepath.Join(t.TempDir(), "terraform")
	script := fmt.Sprintf("#!/bin/sh\nf=%s/$(date +%%s%%N).$$\n{ echo \"args $*\"; env; } > \"$f\"\nexec %s \"$@\"\n", rec.dir, real)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return rec, func(c *config.Server) {
		c.TerraformBin = wrapper
		c.SandboxReadOnly = append(c.SandboxReadOnly, real)
		c.SandboxReadWrite = append(c.SandboxReadWrite, rec.dir)
	}
}

type invocation struct {
	args string
	env  map[string]string
}

// take returns the invocations recorded so far, oldest first, and forgets them.
func (r *recorder) take(t *testing.T) []invocation {
	t.Helper()
	entries, _ := os.ReadDir(r.dir)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var out []invocation
	for _, e := range entries {
		p := filepath.Join(r.dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inv := invocation{env: map[string]string{}}
		for _, line := range strings.Split(string(b), "\n") {
			if a, ok := strings.CutPrefix(line, "args "); ok {
				inv.args = a
			} else if k, v, ok := strings.Cut(line, "="); ok {
				inv.env[k] = v
			}
		}
		out = append(out, inv)
		os.Remove(p)
	}
	return out
}

// triggerCase opens pull request 60 shaped by shape and says whether Terraform ran for it.
func triggerCase(t *testing.T, shape func(h *harness, st *stack.Stack, pr map[string]any)) (store.Run, []invocation, *stack.Stack, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	rec, mod := withRecorder(t)
	h, st := newStackHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, mod)
	rec.take(t) // the runner's own version check at start
	base, head := openPR(t, h, "change", map[string]string{"environments/dev/extra.tf": "resource \"terraform_data\" \"extra\" {}\n"})
	payload := h.prPayload("opened", 60, head, base, "change")
	shape(h, st, payload["pull_request"].(map[string]any))
	run := h.waitRun(h.accept("pull_request", payload), 3*time.Minute)
	return run, rec.take(t), st, head
}

func assertNotPlanned(t *testing.T, run store.Run, invs []invocation, st *stack.Stack, head, why, hint string) {
	t.Helper()
	if len(invs) > 0 {
		t.Fatalf("terraform ran %d times for a pull request that must not be planned: %v", len(invs), invs[0].args)
	}
	if run.Status != store.StatusNothing || !strings.Contains(run.Error, why) {
		t.Errorf("run %s: %q; want nothing to do because %q", run.Status, run.Error, why)
	}
	var comment string
	for _, c := range st.GitHub.Comments(repoName, 60) {
		comment += c.Body
	}
	if !strings.Contains(comment, "Not planned") || !strings.Contains(comment, why) || !strings.Contains(comment, hint) {
		t.Errorf("comment does not say why and what a maintainer can do:\n%s", comment)
	}
	var status string
	for _, s := range st.GitHub.Statuses(repoName, head) {
		if s.Context == "runner/plan" {
			status = s.State + ": " + s.Description
		}
	}
	if !strings.HasPrefix(status, "error: not planned") {
		t.Errorf("status %q, want a not-planned one", status)
	}
}

func TestForkPRIsNotPlanned(t *testing.T) {
	run, invs, st, head := triggerCase(t, func(_ *harness, _ *stack.Stack, pr map[string]any) {
		pr["head"].(map[string]any)["repo"].(map[string]any)["full_name"] = "mallory/platform"
	})
	assertNotPlanned(t, run, invs, st, head, "comes from a fork (mallory/platform)", "can comment `/runner plan`")
}

func TestReadOnlyCollaboratorPRIsNotPlanned(t *testing.T) {
	run, invs, st, head := triggerCase(t, func(_ *harness, st *stack.Stack, pr map[string]any) {
		st.GitHub.SetCollaborator(repoName, "reader", fakegithub.Collaborator{Role: "read"})
		pr["user"] = map[string]any{"login": "reader"}
	})
	assertNotPlanned(t, run, invs, st, head, "reader", "can comment `/runner plan`")
}

func TestDraftPRIsNotPlanned(t *testing.T) {
	run, invs, st, head := triggerCase(t, func(_ *harness, _ *stack.Stack, pr map[string]any) { pr["draft"] = true })
	assertNotPlanned(t, run, invs, st, head, "is a draft", "ready for review")
}

func TestWriterPRIsPlanned(t *testing.T) {
	run, invs, _, _ := triggerCase(t, func(*harness, *stack.Stack, map[string]any) {})
	if run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("run %s: %s", run.Status, run.Error)
	}
	if len(invs) == 0 {
		t.Fatal("terraform never ran for a writer's pull request")
	}
}

// A push to a branch that is not a deploy branch deploys nothing, even when its own .runner.yaml
// says prod deploys from it without approval.
func TestPushToANonDeployBranchDeploysNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	rec, mod := withRecorder(t)
	h, _ := newStackHarness(t, fixture.Options{Environments: []string{"dev", "prod"}, NoApps: true}, mod)
	marker := filepath.Join(rec.dir, "deployed-from-sneaky")
	before, _ := h.repo.Head()
	sneaky := commitPushBranch(t, h, "sneaky", map[string]string{
		".runner.yaml":                "environments:\n  - name: prod\n    dir: environments/prod\n    branch: sneaky\n    require_approval: false\n",
		"environments/prod/sneaky.tf": fmt.Sprintf("resource \"terraform_data\" \"sneaky\" {\n  provisioner \"local-exec\" {\n    command = \"touch %s\"\n  }\n}\n", marker),
	})
	p := h.pushPayload(before, sneaky)
	p["ref"] = "refs/heads/sneaky"
	run := h.waitRun(h.accept("push", p), 3*time.Minute)
	if run.Status != store.StatusNothing || !strings.Contains(run.Error, "no environment deploys from branch sneaky") {
		dumpRun(t, run)
		t.Fatalf("run %s: %q; want nothing deployed from sneaky", run.Status, run.Error)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the sneaky branch's local-exec ran")
	}
	for _, inv := range rec.take(t) {
		if strings.HasPrefix(inv.args, "apply") {
			t.Fatalf("terraform applied for a push to a non-deploy branch: %s", inv.args)
		}
	}
}

// commitPushBranch commits files on a new branch from main and pushes it.
func commitPushBranch(t *testing.T, h *harness, branch string, files map[string]string) string {
	t.Helper()
	if err := h.repo.Checkout("main"); err != nil {
		t.Fatal(err)
	}
	if err := h.repo.Branch(branch); err != nil {
		t.Fatal(err)
	}
	return commitPush(t, h, branch, files)
}

const (
	planRole  = "arn:aws:iam::123456789012:role/runner-plan-dev"
	applyRole = "arn:aws:iam::123456789012:role/runner-apply-dev"
)

// policyFile writes a server policy giving dev plan and apply roles and prod required approval.
func policyFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "repos.yaml")
	text := fmt.Sprintf(`repos:
  - match: ["acme/*"]
    environments:
      - name: dev
        plan_role: {arn: %q, external_id: plan-ext}
        apply_role: {arn: %q, external_id: apply-ext}
      - name: prod
        require_approval: true
`, planRole, applyRole)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A plan gets the plan role's session and an apply the apply role's; neither gets the runner's own
// keys. Checked from what the Terraform process received.
func TestPlanAndApplyGetTheirOwnRoleSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	sts := fakests.New()
	t.Cleanup(sts.Close)
	sts.AddRole(fakests.Role{ARN: planRole, ExternalID: "plan-ext"})
	sts.AddRole(fakests.Role{ARN: applyRole, ExternalID: "apply-ext"})
	const ownKey, ownSecret = "AKIARUNNEROWNKEY0001", "runner-own-secret-key-never-for-terraform"
	base := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(ownKey, ownSecret, "")}
	rec, mod := withRecorder(t)
	creds := server.NewCredentials(awscreds.NewAssumer(base, sts.URL), "us-east-1", nil)
	h, _ := newStackHarnessWith(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, server.Collaborators{Credentials: creds},
		mod, func(c *config.Server) { c.ReposConfig = policyFile(t) })
	rec.take(t) // the runner's own version check at start
	// The runner's own keys, in its environment: Terraform must never see them.
	t.Setenv("AWS_ACCESS_KEY_ID", ownKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", ownSecret)

	base0, head := openPR(t, h, "roles", map[string]string{"environments/dev/extra.tf": "resource \"terraform_data\" \"extra\" {}\n"})
	run := h.waitRun(h.accept("pull_request", h.prPayload("opened", 70, head, base0, "roles")), 3*time.Minute)
	if run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("PR run %s: %s", run.Status, run.Error)
	}
	plans := rec.take(t)
	// Merge: main moves to the pull request's head.
	if err := h.repo.Checkout("main"); err != nil {
		t.Fatal(err)
	}
	merged := commitPush(t, h, "main", map[string]string{"environments/dev/extra.tf": "resource \"terraform_data\" \"extra\" {}\n"})
	run = h.waitRun(h.accept("push", h.pushPayload(base0, merged)), 3*time.Minute)
	if run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("deploy run %s: %s", run.Status, run.Error)
	}
	applies := rec.take(t)
	keyOf := func(what string, invs []invocation) string {
		t.Helper()
		if len(invs) == 0 {
			t.Fatalf("no terraform invocation for the %s", what)
		}
		key := invs[0].env["AWS_ACCESS_KEY_ID"]
		for _, inv := range invs {
			for k, v := range inv.env {
				if v == ownKey || v == ownSecret {
					t.Errorf("%s: terraform %s got the runner's own credentials in %s", what, inv.args, k)
				}
			}
			if inv.env["AWS_ACCESS_KEY_ID"] != key || inv.env["AWS_SESSION_TOKEN"] == "" || inv.env["AWS_SECRET_ACCESS_KEY"] == "" {
				t.Errorf("%s: terraform %s did not get one session's credentials: key %q", what, inv.args, inv.env["AWS_ACCESS_KEY_ID"])
			}
		}
		return key
	}
	planKey, applyKey := keyOf("pull request plan", plans), keyOf("deploy", applies)
	if planKey == applyKey {
		t.Errorf("plan and apply share the session %s", planKey)
	}
	var roles []string
	for _, r := range sts.Requests() {
		if r.Action == "AssumeRole" {
			roles = append(roles, r.RoleARN+" "+r.RoleSessionName)
			if r.CallerAccessKeyID != ownKey {
				t.Errorf("AssumeRole signed by %q, want the runner's own key", r.CallerAccessKeyID)
			}
		}
	}
	if len(roles) != 2 || !strings.HasPrefix(roles[0], planRole+" runner-plan-") || !strings.HasPrefix(roles[1], applyRole+" runner-apply-") {
		t.Errorf("roles assumed: %q; want the plan role for the pull request, then the apply role for the deploy", roles)
	}
}

// A pull request whose .runner.yaml tries to loosen the server policy is refused on the pull
// request, with the reason, and nothing is planned.
func TestPolicyRefusesAPullRequestThatLoosensIt(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	for i, tt := range []struct {
		name, yaml, want string
	}{
		{"drop require_approval", "environments:\n  - name: dev\n    dir: environments/dev\n  - name: prod\n    dir: environments/prod\n    require_approval: false\n",
			"cannot drop require_approval"},
		{"point an environment at another role", "environments:\n  - name: dev\n    dir: environments/dev\n    plan_role: {arn: \"arn:aws:iam::999999999999:role/admin\"}\n",
			"server policy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec, mod := withRecorder(t)
			h, st := newStackHarness(t, fixture.Options{Environments: []string{"dev", "prod"}, NoApps: true}, mod,
				func(c *config.Server) { c.ReposConfig = policyFile(t) })
			rec.take(t) // the runner's own version check at start
			number := 80 + i
			base, head := openPR(t, h, "loosen", map[string]string{".runner.yaml": tt.yaml, "environments/dev/x.tf": "resource \"terraform_data\" \"x\" {}\n"})
			run := h.waitRun(h.accept("pull_request", h.prPayload("opened", number, head, base, "loosen")), 3*time.Minute)
			if run.Status != store.StatusFailed {
				dumpRun(t, run)
				t.Fatalf("run %s: %s; want it refused", run.Status, run.Error)
			}
			if invs := rec.take(t); len(invs) > 0 {
				t.Fatalf("terraform ran (%s) for a refused configuration", invs[0].args)
			}
			var comments string
			for _, c := range st.GitHub.Comments(repoName, number) {
				comments += c.Body
			}
			if !strings.Contains(comments, tt.want) || !strings.Contains(comments, ".runner.yaml") {
				t.Errorf("comment does not say why:\n%s", comments)
			}
		})
	}
}
