package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/tf"
)

// runCmd runs the binary's entry point and returns the exit code, stdout and stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// writeFiles creates files (slash paths relative to dir) with their contents.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const goodConfig = `environments:
  - name: dev
    dir: environments/dev
  - name: prod
    dir: environments/prod
    order: 2
    require_approval: true
`

// smallEnv uses only Terraform's built-in terraform_data and the local backend: no provider download.
const smallEnv = `
variable "greeting" {
  type    = string
  default = "hello"
}

resource "terraform_data" "first" {
  input = var.greeting
}

resource "terraform_data" "second" {
  input = "${var.greeting}, again"
}

output "greeting" {
  value = terraform_data.first.output
}
`

func goodRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		".runner.yaml":              goodConfig,
		"environments/dev/main.tf":  smallEnv,
		"environments/prod/main.tf": smallEnv,
	})
	return dir
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"no command", nil, 2, "", "usage:"},
		{"unknown command", []string{"deploy"}, 2, "", `runner: unknown command "deploy"`},
		{"help", []string{"help"}, 0, "usage:", ""},
		{"-h", []string{"-h"}, 0, "usage:", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d", code, tc.wantCode)
			}
			if !strings.Contains(stdout, tc.wantStdout) || (tc.wantStdout == "" && stdout != "") {
				t.Errorf("stdout = %q, want it to contain %q", stdout, tc.wantStdout)
			}
			if !strings.Contains(stderr, tc.wantStderr) || (tc.wantStderr == "" && stderr != "") {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tc.wantStderr)
			}
			if tc.wantCode == 2 && !strings.Contains(stderr, "runner validate [DIR]") {
				t.Errorf("usage not printed: %q", stderr)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := goodRepo(t)
	bad := t.TempDir()
	writeFiles(t, bad, map[string]string{
		".runner.yaml":             "environments:\n  - name: dev\n    dir: environments/dev\n    regoin: us-east-1\n",
		"environments/dev/main.tf": smallEnv,
	})
	broken := t.TempDir()
	writeFiles(t, broken, map[string]string{"environments/dev/main.tf": "resource \"terraform_data\" \"x\" {\n"})
	empty := t.TempDir()
	for _, tc := range []struct {
		name       string
		dir        string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"good repository", good, 0, []string{"environment dev", "environment prod", "approval true", "ok"}, nil},
		{"unknown key", bad, 1, nil, []string{filepath.Join(bad, ".runner.yaml") + `:4: unknown key "regoin"`, "1 problem(s)"}},
		{"broken HCL", broken, 1, nil, []string{filepath.Join(broken, "environments", "dev", "main.tf"), "problem(s)"}},
		{"no environments", empty, 1, nil, []string{"no environments"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, "validate", tc.dir)
			if code != tc.wantCode {
				t.Errorf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, stdout, stderr)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// terraform finds a real Terraform binary and points the CLI configuration at an empty file of the
// test's, so that nothing depends on the machine's ~/.terraformrc.
func terraform(t *testing.T) {
	t.Helper()
	bin, err := tf.FindBinary(os.Getenv("RUNNER_TERRAFORM_BIN"), exec.LookPath)
	if err != nil {
		cached := filepath.Join(os.Getenv("HOME"), ".cache", "gitops-runner", "tf", "1.5.7", "terraform")
		if _, serr := os.Stat(cached); serr != nil {
			t.Skipf("skipping: needs a real Terraform binary (set RUNNER_TERRAFORM_BIN or put terraform on PATH; `make test` installs one): %v", err)
		}
		bin = cached
	}
	t.Setenv("RUNNER_TERRAFORM_BIN", bin)
	rc := filepath.Join(t.TempDir(), "terraformrc")
	if err := os.WriteFile(rc, []byte("disable_checkpoint = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", rc)
	t.Setenv("TF_PLUGIN_CACHE_DIR", "")
}

func TestPlanJSON(t *testing.T) {
	terraform(t)
	repo := goodRepo(t)
	code, stdout, stderr := runCmd(t, "plan", "--repo", repo, "--env", "dev", "--json", "--var", "greeting=hi")
	if code != 0 {
		t.Fatalf("exit code = %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	var sum struct {
		Environment string `json:"environment"`
		Add         *int   `json:"add"`
		Change      *int   `json:"change"`
		Destroy     *int   `json:"destroy"`
		Replace     *int   `json:"replace"`
		Resources   []struct {
			Address string `json:"address"`
			Action  string `json:"action"`
		} `json:"resources"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	if sum.Add == nil || sum.Change == nil || sum.Destroy == nil || sum.Replace == nil {
		t.Fatalf("summary lacks counts: %s", stdout)
	}
	if sum.Environment != "dev" || *sum.Add != 2 || *sum.Change != 0 || *sum.Destroy != 0 || *sum.Replace != 0 {
		t.Errorf("summary = %s, want dev with 2 to add", stdout)
	}
	got := map[string]string{}
	for _, r := range sum.Resources {
		got[r.Address] = r.Action
	}
	if len(got) != 2 || got["terraform_data.first"] == "" || got["terraform_data.second"] == "" {
		t.Errorf("resources = %v, want both terraform_data resources", got)
	}
	// Planning writes no state: the working tree holds no terraform.tfstate.
	if _, err := os.Stat(filepath.Join(repo, "environments", "dev", "terraform.tfstate")); err == nil {
		t.Error("plan wrote state")
	}
}

func TestPlanDetailedExitCode(t *testing.T) {
	terraform(t)
	repo := goodRepo(t)
	writeFiles(t, repo, map[string]string{
		".runner.yaml":               goodConfig + "  - name: empty\n    dir: environments/empty\n    order: 3\n",
		"environments/empty/main.tf": "terraform {}\n",
	})
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
	}{
		{"changes", []string{"--env", "dev", "--detailed-exitcode"}, 2},
		{"changes, as JSON", []string{"--env", "dev", "--json", "--detailed-exitcode"}, 2},
		{"no changes", []string{"--env", "empty", "--detailed-exitcode"}, 0},
		{"changes without the flag", []string{"--env", "dev"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, append([]string{"plan", "--repo", repo}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, stdout, stderr)
			}
			if stdout == "" || strings.Contains(stderr, "exit 2") {
				t.Errorf("want the summary on stdout and no error text; stdout: %s\nstderr: %s", stdout, stderr)
			}
		})
	}
}

func TestPlanText(t *testing.T) {
	terraform(t)
	repo := goodRepo(t)
	code, stdout, stderr := runCmd(t, "plan", "--repo", repo, "--env", "prod")
	if code != 0 {
		t.Fatalf("exit code = %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "terraform_data.first") || !strings.Contains(stderr, "planned prod in") {
		t.Errorf("stdout: %s\nstderr: %s", stdout, stderr)
	}
}

func TestPlanArguments(t *testing.T) {
	repo := goodRepo(t)
	badRepo := t.TempDir()
	writeFiles(t, badRepo, map[string]string{
		".runner.yaml":             "environments:\n  - name: dev\n    dir: environments/dev\n    regoin: us-east-1\n",
		"environments/dev/main.tf": smallEnv,
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown environment", []string{"--repo", repo, "--env", "qa"}, `runner plan: no environment "qa" (have: dev, prod)`},
		{"no environment", []string{"--repo", repo}, "runner plan: --env is required"},
		{"missing terraform binary", []string{"--repo", repo, "--env", "dev", "--terraform", "/nonexistent/terraform"},
			`no terraform binary found: RUNNER_TERRAFORM_BIN="/nonexistent/terraform"`},
		{"bad config", []string{"--repo", badRepo, "--env", "dev"}, `unknown key "regoin"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, append([]string{"plan"}, tc.args...)...)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit code %d, stderr %q; want 1 and %q", code, stderr, tc.want)
			}
		})
	}
}

func TestPlanBadVar(t *testing.T) {
	terraform(t)
	code, _, stderr := runCmd(t, "plan", "--repo", goodRepo(t), "--env", "dev", "--var", "novalue")
	if code != 1 || !strings.Contains(stderr, `--var "novalue": want NAME=VALUE`) {
		t.Errorf("exit code %d, stderr %q", code, stderr)
	}
}

// lockedDataDir makes a data directory whose store holds one lock, then closes the store.
func lockedDataDir(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if ok, _, err := st.TryLock(ctx, "acme/infra", "prod", "run-7-abc", 7, time.Hour); err != nil || !ok {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	return dir
}

func TestLocksAndUnlock(t *testing.T) {
	dir := lockedDataDir(t)

	code, stdout, stderr := runCmd(t, "locks", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("locks: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "REPO") || !strings.Contains(stdout, "acme/infra") || !strings.Contains(stdout, "prod") ||
		!strings.Contains(stdout, "run-7-abc") || strings.Contains(stdout, "(expired)") {
		t.Errorf("locks output:\n%s", stdout)
	}

	// The data dir can come from the environment too.
	t.Setenv("RUNNER_DATA_DIR", dir)
	if code, stdout, _ := runCmd(t, "locks"); code != 0 || !strings.Contains(stdout, "acme/infra") {
		t.Errorf("locks with RUNNER_DATA_DIR: exit %d\n%s", code, stdout)
	}

	code, _, stderr = runCmd(t, "unlock", "--repo", "acme/infra", "--env", "prod")
	if code != 1 || !strings.Contains(stderr, "--reason") {
		t.Errorf("unlock without a reason: exit %d, stderr %q; want 1 naming --reason", code, stderr)
	}
	code, _, stderr = runCmd(t, "unlock", "--repo", "acme/infra", "--env", "prod", "--reason", "   ")
	if code != 1 {
		t.Errorf("unlock with a blank reason: exit %d, stderr %q; want 1", code, stderr)
	}
	if code, stdout, _ := runCmd(t, "locks"); !strings.Contains(stdout, "acme/infra") {
		t.Fatalf("lock gone after refused unlocks: exit %d\n%s", code, stdout)
	}

	code, stdout, stderr = runCmd(t, "unlock", "--data-dir", dir, "--repo", "acme/infra", "--env", "prod", "--reason", "holder crashed")
	if code != 0 {
		t.Fatalf("unlock: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "released acme/infra/prod (held by run 7)") {
		t.Errorf("unlock stdout = %q", stdout)
	}
	if !strings.Contains(stderr, "released by operator") || !strings.Contains(stderr, "holder crashed") {
		t.Errorf("unlock did not log the release: %q", stderr)
	}

	if code, stdout, _ := runCmd(t, "locks"); code != 0 || !strings.Contains(stdout, "no environment is locked") {
		t.Errorf("locks after unlock: exit %d\n%s", code, stdout)
	}
	code, _, stderr = runCmd(t, "unlock", "--repo", "acme/infra", "--env", "prod", "--reason", "again")
	if code != 1 || !strings.Contains(stderr, "acme/infra/prod is not locked") {
		t.Errorf("second unlock: exit %d, stderr %q", code, stderr)
	}

	st, err := store.OpenSQLite(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, err := st.LockHistory(context.Background(), "acme/infra")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].Env != "prod" || h[0].RunID != 7 || h[0].Reason != "unlocked by operator: holder crashed" {
		t.Errorf("lock history = %+v", h)
	}
}

func TestLocksWithoutDatabase(t *testing.T) {
	dir := t.TempDir()
	for _, cmd := range [][]string{
		{"locks", "--data-dir", dir},
		{"unlock", "--data-dir", dir, "--repo", "a/b", "--env", "dev", "--reason", "x"},
	} {
		code, _, stderr := runCmd(t, cmd...)
		if code != 1 || !strings.Contains(stderr, "no runner database in "+dir) {
			t.Errorf("%v: exit %d, stderr %q", cmd, code, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "runner.db")); err == nil {
		t.Error("a database was created by a read-only command")
	}
}

func TestServeRefusesToStartWithoutSecret(t *testing.T) {
	for _, k := range []string{"RUNNER_WEBHOOK_SECRET", "RUNNER_ALLOWED_REPOS", "RUNNER_LISTEN", "RUNNER_DATA_DIR"} {
		t.Setenv(k, "")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	code, _, stderr := runCmd(t, "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	for _, w := range []string{"runner serve: invalid configuration", "RUNNER_WEBHOOK_SECRET is required", "RUNNER_ALLOWED_REPOS is empty"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if _, err := os.Stat(dataDir); err == nil {
		t.Error("serve created its data dir before validating its configuration")
	}
}

// `plan --sandbox` plans as a pull request is planned: isolated (the configuration cannot read a
// file of the caller's, nor its environment) and on a copy (nothing is written to the checkout).
func TestPlanSandbox(t *testing.T) {
	terraform(t)
	if os.Geteuid() != 0 {
		t.Skip("isolation needs root (CI runs as root)")
	}
	repo := goodRepo(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("caller-secret-7Hq2"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CALLER_CANARY", "caller-env-3Kd9")
	writeFiles(t, repo, map[string]string{"environments/dev/peek.tf": fmt.Sprintf(
		"output \"file\" {\n  value = try(file(%q), \"denied\")\n}\noutput \"env\" {\n  value = try(file(\"/proc/self/environ\"), \"denied\")\n}\n", secret)})
	code, stdout, stderr := runCmd(t, "plan", "--repo", repo, "--env", "dev", "--sandbox", "-v")
	if code != 0 {
		t.Fatalf("exit code = %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "as a pull request is planned") || !strings.Contains(stderr, "denied") {
		t.Errorf("stderr does not show an isolated plan:\n%s", stderr)
	}
	for _, canary := range []string{"caller-secret-7Hq2", "caller-env-3Kd9"} {
		if strings.Contains(stdout+stderr, canary) {
			t.Errorf("the sandboxed plan read %q", canary)
		}
	}
	if _, err := os.Stat(filepath.Join(repo, "environments", "dev", ".terraform")); err == nil {
		t.Error("plan --sandbox wrote into the checkout")
	}
}
