package tf

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitops-runner/runner/internal/sandbox"
)

// Every command of a sandboxed workspace goes through the launcher, as another user, with only the
// explicit environment.
func TestSandboxedWorkspace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("isolation needs root (CI runs as root)")
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "runner-own-secret")
	f := newFake(t)
	run := filepath.Join(f.dir, "run")
	record := filepath.Join(run, "record")
	sb, err := sandbox.New(context.Background(), sandbox.Config{Dir: filepath.Join(f.dir, "sandbox")})
	if err != nil {
		t.Fatal(err)
	}
	if !sb.Isolated() {
		t.Skipf("no isolation here: %s", sb.Reason())
	}
	dir := filepath.Join(run, "src", "prod")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f.record = record
	// With Versions, the front runs outside the sandbox and starts the launcher; the version is asked
	// of the binary by the runner, never inside the sandbox.
	for _, versions := range []*Versions{nil, NewVersions(filepath.Join(f.dir, "fronts"))} {
		if err := os.Remove(record); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		w, err := New(Options{
			Bin: f.bin, Dir: dir, Environment: "prod", Sandbox: sb, WorkTree: run, Versions: versions,
			BaseEnv: map[string]string{"PATH": "/usr/bin:/bin", "FAKE_TF_RECORD": record, "AWS_ACCESS_KEY_ID": "ASIASESSION"},
		})
		if err != nil {
			t.Fatal(err)
		}
		checkSandboxed(t, f, w, run, versions != nil)
	}
}

func checkSandboxed(t *testing.T, f *fake, w *Workspace, run string, versions bool) {
	t.Helper()
	ctx := context.Background()
	if err := w.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Plan(ctx, filepath.Join(run, "plans", "prod.tfplan"), nil); err != nil {
		t.Fatal(err)
	}
	invs := f.invocations(t)
	if len(invs) < 2 {
		t.Fatalf("%d invocations recorded", len(invs))
	}
	for _, inv := range invs {
		if versions && inv.args[0] == "version" {
			t.Errorf("with Versions, the sandbox ran %v", inv.args)
		}
		if inv.env["AWS_ACCESS_KEY_ID"] != "ASIASESSION" {
			t.Errorf("%v: the explicit environment did not reach Terraform: %v", inv.args, inv.env)
		}
		if _, ok := inv.env["AWS_SECRET_ACCESS_KEY"]; ok {
			t.Errorf("%v: the runner's own AWS key reached Terraform", inv.args)
		}
		if _, ok := inv.env["RUNNER_SANDBOX_SPEC"]; ok {
			t.Errorf("%v: the launcher's spec reached Terraform", inv.args)
		}
		if home := inv.env["HOME"]; filepath.Dir(filepath.Dir(home)) != run {
			t.Errorf("%v: HOME=%q is not private to the run", inv.args, home)
		}
		if uid := inv.env["FAKE_TF_UID"]; uid == "0" || uid == "" {
			t.Errorf("%v ran as root", inv.args)
		}
	}
}
