package tf

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/sandbox"
)

// BenchmarkInitPlanShow measures what the sandbox adds to a pull request's Terraform: init, plan
// and show -json of a small terraform_data configuration, run directly and in each isolation mode,
// side by side, with Versions (no `terraform version` per workspace), and in each mode with each
// launcher: the runner's own executable (cmd/runner, built here) and the small one
// (cmd/runner-sandbox). Report the ratios (machine speed cancels out).
func BenchmarkInitPlanShow(b *testing.B) {
	bin := terraformBin(b)
	if os.Geteuid() != 0 {
		b.Skip("isolation needs root")
	}
	launchers := map[string]string{}
	for _, name := range []string{"runner", sandbox.LauncherName} {
		out := filepath.Join(b.TempDir(), name)
		if o, err := exec.Command("go", "build", "-o", out, "github.com/gitops-runner/runner/cmd/"+name).CombinedOutput(); err != nil {
			b.Fatalf("go build cmd/%s: %v\n%s", name, err, o)
		}
		launchers[name] = out
	}
	config := "resource \"terraform_data\" \"a\" {\n  input = \"x\"\n}\nresource \"terraform_data\" \"b\" {\n  input = terraform_data.a.output\n}\n"
	for _, name := range []string{"direct", sandbox.WantUser + "/runner", sandbox.WantUser + "/" + sandbox.LauncherName,
		sandbox.WantNamespaces + "/runner", sandbox.WantNamespaces + "/" + sandbox.LauncherName} {
		mode, launcher, _ := strings.Cut(name, "/")
		b.Run(name, func(b *testing.B) {
			bin := bin // user mode runs a copy of its own
			root := b.TempDir()
			for p := root; p != "/tmp" && p != "/"; p = filepath.Dir(p) {
				_ = os.Chmod(p, 0o755)
			}
			rc := filepath.Join(root, "terraformrc")
			if err := os.WriteFile(rc, []byte("disable_checkpoint = true\n"), 0o644); err != nil {
				b.Fatal(err)
			}
			var sb *sandbox.Sandbox
			if mode != "direct" {
				var err error
				if sb, err = sandbox.New(context.Background(), sandbox.Config{Want: mode, Dir: filepath.Join(root, "sandbox"), Launcher: launchers[launcher], ReadOnly: []string{rc}}); err != nil {
					b.Skipf("%s: %v", mode, err)
				}
				if bin, err = sb.Expose(bin); err != nil {
					b.Fatal(err)
				}
			}
			versions := NewVersions(filepath.Join(root, "fronts"))
			runs := filepath.Join(root, "runs")
			if err := os.MkdirAll(runs, 0o711); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				work, err := os.MkdirTemp(runs, "run-")
				if err != nil {
					b.Fatal(err)
				}
				dir := filepath.Join(work, "src")
				if err := os.MkdirAll(dir, 0o755); err != nil {
					b.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o644); err != nil {
					b.Fatal(err)
				}
				opts := Options{Bin: bin, Dir: dir, BaseEnv: map[string]string{"PATH": "/usr/bin:/bin", "TF_CLI_CONFIG_FILE": rc, "HOME": work},
					Versions: versions}
				if sb != nil {
					opts.Sandbox, opts.WorkTree = sb, work
				}
				w, err := New(opts)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				ctx := context.Background()
				if err := w.Init(ctx); err != nil {
					b.Fatal(err)
				}
				plan := filepath.Join(work, "plan")
				if _, err := w.Plan(ctx, plan, nil); err != nil {
					b.Fatal(err)
				}
				if _, err := w.Show(ctx, plan); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
