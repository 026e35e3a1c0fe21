//go:build e2e

package server_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/testenv/stack"
)

// canaryForms are the ways a canary may show up: plain, and base64-encoded at each of the three
// offsets it can have inside a larger encoded blob (the stable middle of each encoding).
func canaryForms(c string) []string {
	forms := []string{c}
	for pad := 0; pad < 3; pad++ {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", pad) + c))
		// Drop the characters that depend on the neighbours: 2 at the start when padded, 4 at the end.
		start := map[int]int{0: 0, 1: 2, 2: 3}[pad]
		forms = append(forms, enc[start:len(enc)-4])
	}
	return forms
}

// hostileTerraform reads everything of the runner's it can think of, with built-in functions only,
// and puts it in outputs, plain and base64-encoded.
func hostileTerraform(paths map[string]string) string {
	var b strings.Builder
	b.WriteString("locals {\n  ppid = split(\" \", file(\"/proc/self/stat\"))[3]\n}\n")
	b.WriteString("output \"parent_environ\" {\n  value = try(file(\"/proc/${local.ppid}/environ\"), \"denied\")\n}\n")
	b.WriteString("output \"parent_environ_b64\" {\n  value = try(base64encode(file(\"/proc/${local.ppid}/environ\")), \"denied\")\n}\n")
	b.WriteString("output \"own_environ_b64\" {\n  value = try(base64encode(file(\"/proc/self/environ\")), \"denied\")\n}\n")
	for name, p := range paths {
		fmt.Fprintf(&b, "output %q {\n  value = try(file(%q), \"denied\")\n}\n", name, p)
		fmt.Fprintf(&b, "output %q {\n  value = try(filebase64(%q), \"denied\")\n}\n", name+"_b64", p)
	}
	return b.String()
}

// TestUntrustedPlanCannotReadTheRunnersSecrets plans a pull request whose Terraform tries to read
// the runner's environment, files and database; no canary may come out anywhere the runner shows.
// The control row plans the same pull request without isolation and must leak.
func TestUntrustedPlanCannotReadTheRunnersSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	if os.Geteuid() != 0 {
		t.Skip("isolation needs the runner to run as root (CI does)")
	}
	unisolated := func(c *config.Server) { c.Sandbox, c.UnsafeUnisolatedPlans = "off", true }
	for _, tt := range []struct {
		name      string
		mod       func(*config.Server)
		process   bool // the real runner binary, with the canaries in its initial environment
		wantLeaks string
	}{
		{"isolated", func(*config.Server) {}, false, ""},
		// As on ECS Fargate: no namespaces, the separate user alone.
		{"user mode", func(c *config.Server) { c.Sandbox = "user"; openParents(t, c.DataDir) }, false, ""},
		{"control: unisolated", unisolated, false, "app key file"},
		{"isolated runner process", func(*config.Server) {}, true, ""},
		// Unisolated, Terraform reads the runner's own environment through /proc/<ppid>/environ.
		{"control: unisolated runner process", unisolated, true, "TF_TOKEN_app_example"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			leaks := hostilePlanLeaks(t, tt.mod, tt.process)
			if tt.wantLeaks != "" {
				if !strings.Contains(strings.Join(leaks, "\n"), "canary "+tt.wantLeaks) {
					t.Fatalf("the control did not leak %s (leaks: %q): the test would prove nothing", tt.wantLeaks, leaks)
				}
				return
			}
			for _, l := range leaks {
				t.Error(l)
			}
		})
	}
}

// envCanaries are the canaries put in the runner's environment (the others are in files).
var envCanaries = []string{"AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "RUNNER_WEBHOOK_SECRET", "SLACK_BOT_TOKEN", "TF_TOKEN_app_example", "TF_VAR_stolen"}

// hostilePlanLeaks plans the hostile pull request and returns where canaries showed up. With process,
// the runner is the real binary started with the canaries in its environment (as in production);
// otherwise it runs in the test process, whose environment Terraform would inherit.
func hostilePlanLeaks(t *testing.T, mod func(*config.Server), process bool) []string {
	t.Helper()
	canaries := map[string]string{
		"AWS_SECRET_ACCESS_KEY": "canary-aws-secret-7Qk2Vd9Lx3",
		"GITHUB_TOKEN":          "canary-github-token-4Hs8Wq1Zp6",
		"RUNNER_WEBHOOK_SECRET": "canary-webhook-secret-9Tn3Bm5Rc2",
		"SLACK_BOT_TOKEN":       "canary-slack-token-2Fy7Jk4Ue8",
		"TF_TOKEN_app_example":  "canary-tf-token-6Lp1Xs9Gd3",
		"TF_VAR_stolen":         "canary-tf-var-8Wd2Nh6Kv1",
		"app key file":          "canary-app-key-3Rj5Mz7Qb4",
		"aws credentials file":  "canary-aws-credentials-5Vc9Ty2Hn8",
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	awsCreds := filepath.Join(home, ".aws", "credentials")
	if err := os.MkdirAll(filepath.Dir(awsCreds), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(awsCreds, []byte("[default]\naws_access_key_id = AKIACANARYKEY0000001\naws_secret_access_key = "+canaries["aws credentials file"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(keyFile, []byte(canaries["app key file"]), 0o600); err != nil {
		t.Fatal(err)
	}
	var h *harness
	var gh *fakegithub.Server
	var st *stack.Stack
	if process {
		h = newRepoHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, mod)
		gh = h.gh
		// The process gets these as its initial environment (startProcess sets its own GitHub token,
		// webhook secret and AWS keys over the first three).
		for _, k := range envCanaries {
			t.Setenv(k, canaries[k])
		}
		logf, err := os.Create(filepath.Join(t.TempDir(), "runner.log"))
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if t.Failed() {
				b, _ := os.ReadFile(logf.Name())
				t.Logf("runner log:\n%s", b)
			}
		}()
		h.startProcess(runnerBinary(t), freeAddr(t), logf, "RUNNER_SANDBOX="+h.cfg.Sandbox,
			fmt.Sprintf("RUNNER_UNSAFE_UNISOLATED_PLANS=%t", h.cfg.UnsafeUnisolatedPlans))
	} else {
		h, st = newStackHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, mod,
			func(c *config.Server) { c.SlackChannel = "#deploys" })
		gh = st.GitHub
		// Set after the harness (which sets AWS keys of its own): Terraform's environment is built
		// per command, so these are what a leak through the environment would carry.
		for _, k := range envCanaries {
			t.Setenv(k, canaries[k])
		}
	}
	db := filepath.Join(h.cfg.DataDir, "runner.db")
	hostile := hostileTerraform(map[string]string{
		"pid1_environ": "/proc/1/environ", "app_key": keyFile, "aws_credentials": awsCreds, "database": db,
	})
	base, head := openPR(t, h, "steal", map[string]string{"environments/dev/steal.tf": hostile})
	run := h.waitRun(h.accept("pull_request", h.prPayload("opened", 41, head, base, "steal")), 3*time.Minute)
	if run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("PR run %s: %s", run.Status, run.Error)
	}
	var shown []string
	if st != nil {
		// Merged, the same code deploys (in the sandbox too, with the apply credentials): its story
		// in Slack and on the merged pull request carries no canary either.
		if err := h.repo.Checkout("main"); err != nil {
			t.Fatal(err)
		}
		merged := commitPush(t, h, "main", map[string]string{"environments/dev/steal.tf": hostile})
		deploy := h.waitRun(h.accept("push", h.pushPayload(base, merged)), 3*time.Minute)
		for _, stage := range deploy.Stages {
			shown = append(shown, "deploy log: "+h.get(fmt.Sprintf("/api/stages/%d/log", stage.ID)))
		}
		shown = append(shown, "GET deploy run: "+h.get(fmt.Sprintf("/api/runs/%d?tail=500", deploy.ID)))
		for _, m := range st.Slack.Messages() {
			shown = append(shown, "slack: "+m.Text+" "+string(m.Blocks))
		}
		if len(st.Slack.Messages()) == 0 {
			t.Error("the deploy told Slack nothing: the Slack check proves nothing")
		}
	}
	for _, c := range gh.Comments(repoName, 41) {
		shown = append(shown, "comment: "+c.Body)
	}
	for _, s := range gh.Statuses(repoName, head) {
		shown = append(shown, "status: "+s.Description)
	}
	for _, path := range []string{fmt.Sprintf("/api/runs/%d?tail=500", run.ID), "/api/runs", "/", fmt.Sprintf("/runs/%d", run.ID), "/environments", "/readyz"} {
		shown = append(shown, "GET "+path+": "+h.get(path))
	}
	for _, stage := range run.Stages {
		shown = append(shown, "log: "+h.get(fmt.Sprintf("/api/stages/%d/log", stage.ID)))
	}
	all := strings.Join(shown, "\n")
	if !strings.Contains(all, "parent_environ") {
		t.Fatalf("the hostile outputs are not shown anywhere; the test proves nothing:\n%s", all)
	}
	var leaks []string
	for name, c := range canaries {
		for _, form := range canaryForms(c) {
			for _, s := range shown {
				if i := strings.Index(s, form); i >= 0 {
					leaks = append(leaks, fmt.Sprintf("canary %s (%q) shown: ...%s...", name, form, s[max(0, i-200):min(len(s), i+100)]))
				}
			}
		}
	}
	return leaks
}

// get reads an API or dashboard page of the runner.
func (h *harness) get(path string) string {
	h.t.Helper()
	resp, err := http.Get(h.base + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

// A runner that can neither run Terraform as another user nor use namespaces nor find bubblewrap (here:
// the real binary started as an unprivileged user, with no bwrap on its PATH) does not plan pull
// requests, and says which setting would change it.
func TestUnprivilegedRunnerRefusesPullRequestPlans(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds the runner")
	}
	if os.Geteuid() != 0 {
		t.Skip("starting the runner as another user needs root (CI runs as root)")
	}
	const nobody = 65534
	h := newRepoHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, nil)
	bin := runnerBinary(t)
	// The unprivileged runner must reach its binary and own its data directory and home.
	for p := filepath.Dir(bin); p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(filepath.Dir(h.cfg.DataDir), "nobody-home")
	for _, d := range []string{h.cfg.DataDir, home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	for p := filepath.Dir(h.cfg.DataDir); p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A PATH without bubblewrap: with it, an unprivileged runner isolates Terraform (mode bwrap).
	noTools := filepath.Join(filepath.Dir(h.cfg.DataDir), "no-tools")
	if err := os.MkdirAll(noTools, 0o755); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{
		"PATH=" + noTools, "HOME=" + home, "RUNNER_LISTEN=" + addr, "RUNNER_WEBHOOK_SECRET=" + testSecret,
		"RUNNER_DATA_DIR=" + h.cfg.DataDir, "RUNNER_ALLOWED_REPOS=acme/*", "GITHUB_TOKEN=" + gitToken,
		"RUNNER_GITHUB_API_URL=" + h.cfg.GitHubAPIURL, "RUNNER_AWS_ENDPOINT=http://127.0.0.1:1", "AWS_REGION=us-east-1",
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), "runner.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// The process writes its log while the test reads it: a file, not a shared buffer.
	out := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	h.base = "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(h.base + "/readyz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the unprivileged runner did not start:\n%s", out())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ready := h.get("/readyz"); !strings.Contains(ready, `"isolated": false`) || !strings.Contains(ready, "refused") {
		t.Errorf("/readyz does not say pull requests are refused: %s", ready)
	}
	base, head := openPR(t, h, "unisolated", map[string]string{"environments/dev/x.tf": "resource \"terraform_data\" \"x\" {}\n"})
	run := h.waitRun(h.accept("pull_request", h.prPayload("opened", 90, head, base, "unisolated")), time.Minute)
	if run.Status != store.StatusFailed || !strings.Contains(run.Error, "RUNNER_UNSAFE_UNISOLATED_PLANS") {
		t.Fatalf("run %s: %q; want refused, naming RUNNER_UNSAFE_UNISOLATED_PLANS", run.Status, run.Error)
	}
	var comments string
	for _, c := range h.gh.Comments(repoName, 90) {
		comments += c.Body
	}
	if !strings.Contains(comments, "Not planned") || !strings.Contains(comments, "RUNNER_UNSAFE_UNISOLATED_PLANS") {
		t.Errorf("the pull request is not told why:\n%s", comments)
	}
	for _, st := range h.getRun(run.ID).Stages {
		if st.Name == "plan" && st.Status != store.StagePending {
			t.Errorf("plan stage of %s is %s: terraform ran", st.Env, st.Status)
		}
	}
}

// openParents lets other users traverse the directories above dir (t.TempDir's are private), as the
// sandbox's user mode needs for the work trees under the data directory.
func openParents(t *testing.T, dir string) {
	t.Helper()
	for p := filepath.Dir(dir); p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}
