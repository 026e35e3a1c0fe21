package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/cli"
	"github.com/gitops-runner/runner/internal/store"
)

// newEnv returns an Env whose variables come from vars only, and its output buffers.
func newEnv(vars map[string]string) (cli.Env, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return vars[k] }}, &stdout, &stderr
}

func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const mainTF = "resource \"terraform_data\" \"x\" {\n  input = \"x\"\n}\n"

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		files      map[string]string
		wantErr    bool
		wantStdout []string
		wantStderr []string
	}{
		{"discovered environments and apps", map[string]string{
			"environments/dev/main.tf": mainTF, "environments/prod/main.tf": mainTF,
			"apps/backend/main.go": "package main\n", "apps/frontend/package.json": "{}\n",
		}, false, []string{"environment dev", "environment prod", "app         backend", "kind image", "kind bundle", "ok\n"}, nil},
		{"configured environment", map[string]string{
			".runner.yaml":            "environments:\n  - name: live\n    dir: infra/live\n    branch: release\napps: []\n",
			"infra/live/main.tf.json": `{"resource": {"terraform_data": {"x": {}}}}`,
		}, false, []string{"environment live", "branch release", "ok\n"}, nil},
		{"unknown keys with lines", map[string]string{
			".runner.yaml":             "environments:\n  - name: dev\n    dir: environments/dev\nnotfy:\n  slack: {}\n",
			"environments/dev/main.tf": mainTF,
		}, true, nil, []string{`.runner.yaml:4: unknown key "notfy"`, "1 problem(s)"}},
		{"environment without Terraform", map[string]string{
			".runner.yaml":          "environments:\n  - name: dev\n    dir: environments/dev\n",
			"environments/dev/x.md": "docs\n",
		}, true, nil, []string{".runner.yaml:3: environment dev: environments/dev has no .tf files"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writeRepo(t, tc.files)
			env, stdout, stderr := newEnv(nil)
			err := cli.Validate(context.Background(), env, []string{dir})
			var exit cli.ExitError
			if tc.wantErr != errors.As(err, &exit) || (tc.wantErr && exit.Code != 1) || (!tc.wantErr && err != nil) {
				t.Fatalf("Validate = %v, want exit error %v\nstdout: %s\nstderr: %s", err, tc.wantErr, stdout, stderr)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestPlanUnknownEnvironmentListsEnvironments(t *testing.T) {
	t.Parallel()
	dir := writeRepo(t, map[string]string{"environments/dev/main.tf": mainTF, "environments/staging/main.tf": mainTF})
	env, _, _ := newEnv(nil)
	err := cli.Plan(context.Background(), env, []string{"--repo", dir, "--env", "prod"})
	if err == nil || err.Error() != `no environment "prod" (have: dev, staging)` {
		t.Fatalf("Plan = %v", err)
	}
}

func TestPlanTerraformFromEnvironment(t *testing.T) {
	t.Parallel()
	dir := writeRepo(t, map[string]string{"environments/dev/main.tf": mainTF})
	env, _, _ := newEnv(map[string]string{"RUNNER_TERRAFORM_BIN": filepath.Join(dir, "no-such-terraform")})
	err := cli.Plan(context.Background(), env, []string{"--repo", dir, "--env", "dev"})
	if err == nil || !strings.Contains(err.Error(), "no-such-terraform") {
		t.Fatalf("Plan = %v, want the RUNNER_TERRAFORM_BIN from Env refused", err)
	}
}

func TestLocksAndUnlockReadDataDirFromEnv(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{"dev", "prod"} {
		if ok, _, err := st.TryLock(ctx, "acme/infra", e, "run-1", 1, time.Hour); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	// An expired lease is listed as such.
	if ok, _, err := st.TryLock(ctx, "acme/api", "dev", "run-2", 2, -time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	st.Close()
	vars := map[string]string{"RUNNER_DATA_DIR": dir}

	env, stdout, _ := newEnv(vars)
	if err := cli.Locks(ctx, env, nil); err != nil {
		t.Fatalf("Locks: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "REPO") || !strings.HasPrefix(lines[1], "acme/api") ||
		!strings.Contains(lines[1], "(expired)") || strings.Contains(lines[2], "(expired)") {
		t.Errorf("Locks output:\n%s", stdout)
	}

	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no repo", []string{"--env", "dev", "--reason", "x"}, "--repo, --env and --reason are required"},
		{"no env", []string{"--repo", "acme/infra", "--reason", "x"}, "--repo, --env and --reason are required"},
		{"no reason", []string{"--repo", "acme/infra", "--env", "dev"}, "--repo, --env and --reason are required"},
		{"not locked", []string{"--repo", "acme/infra", "--env", "qa", "--reason", "x"}, "acme/infra/qa is not locked"},
		{"released", []string{"--repo", "acme/infra", "--env", "dev", "--reason", "stuck after crash"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, stdout, _ := newEnv(vars)
			err := cli.Unlock(ctx, env, tc.args)
			if tc.wantErr == "" {
				if err != nil || !strings.Contains(stdout.String(), "released acme/infra/dev (held by run 1)") {
					t.Errorf("Unlock = %v, stdout %q", err, stdout)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("Unlock = %v, want %q", err, tc.wantErr)
			}
		})
	}

	st, err = store.OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	locks, _ := st.Locks(ctx)
	if len(locks) != 2 {
		t.Errorf("locks left = %+v, want acme/api/dev and acme/infra/prod", locks)
	}
	h, _ := st.LockHistory(ctx, "acme/infra")
	if len(h) != 1 || h[0].Reason != "unlocked by operator: stuck after crash" {
		t.Errorf("history = %+v", h)
	}
}

func TestServeReportsEveryProblem(t *testing.T) {
	t.Parallel()
	env, _, _ := newEnv(map[string]string{"RUNNER_WEBHOOK_SECRET": "short", "RUNNER_WORKERS": "none"})
	err := cli.Serve(context.Background(), env, []string{"--listen", "127.0.0.1:0"})
	if err == nil {
		t.Fatal("Serve started with a bad configuration")
	}
	for _, w := range []string{"shorter than 16 characters", "RUNNER_ALLOWED_REPOS is empty", `RUNNER_WORKERS="none"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

func TestNewLogger(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		level     string
		json      bool
		wantDebug bool
		wantInfo  bool
	}{
		{"debug", false, true, true},
		{"info", true, false, true},
		{"warn", false, false, false},
		{"", false, false, true},
	} {
		var buf bytes.Buffer
		log := cli.NewLogger(&buf, tc.level, tc.json)
		log.Debug("dbg")
		log.Info("inf", "run", 1)
		out := buf.String()
		if strings.Contains(out, "dbg") != tc.wantDebug || strings.Contains(out, "inf") != tc.wantInfo {
			t.Errorf("level %q: output %q", tc.level, out)
		}
		if tc.json && tc.wantInfo {
			var m map[string]any
			if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &m); err != nil || m["run"] != float64(1) {
				t.Errorf("JSON log line %q: %v", out, err)
			}
		}
	}
}
