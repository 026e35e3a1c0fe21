package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/pipeline"
)

// terraformBin is the binary the end-to-end suites use; the test skips without it.
func terraformBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("RUNNER_TERRAFORM_BIN")
	if bin == "" {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, ".cache", "gitops-runner", "tf", "1.5.7", "terraform")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no terraform binary (%v): set RUNNER_TERRAFORM_BIN or run make test once", err)
	}
	return bin
}

// The pipeline names the plan file relative to the runner's working directory (RUNNER_DATA_DIR defaults to
// ./runner-data) and creates its directory there; Terraform runs inside the environment's directory, so the
// path must reach it resolved, or plan cannot write the file and apply cannot find it.
func TestTerraformRelativePlanFile(t *testing.T) {
	bin := terraformBin(t)
	t.Setenv("TF_CLI_CONFIG_FILE", os.DevNull)
	t.Chdir(t.TempDir())
	envDir := filepath.Join("runner-data", "runs", "run-1", "src", "environments", "dev")
	plans := filepath.Join("runner-data", "runs", "run-1", "plans")
	for _, d := range []string{envDir, plans} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	main := `resource "terraform_data" "x" { input = "a" }` + "\n" + `output "x" { value = terraform_data.x.input }` + "\n"
	if err := os.WriteFile(filepath.Join(envDir, "main.tf"), []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	tfr, err := NewTerraform(TerraformOptions{Bin: bin, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	planFile := filepath.Join(plans, "dev.tfplan")
	res, err := tfr.Plan(context.Background(), pipeline.PlanRequest{Env: "dev", Dir: envDir, PlanFile: planFile, Log: &log})
	if err != nil {
		t.Fatalf("plan: %v\nlog:\n%s", err, log.String())
	}
	if !strings.Contains(res.Text, "terraform_data.x will be created") {
		t.Errorf("plan text lacks the resource:\n%s", res.Text)
	}
	if _, err := os.Stat(planFile); err != nil {
		t.Fatalf("plan file not where the pipeline looks for it: %v", err)
	}
	outs, err := tfr.Apply(context.Background(), pipeline.ApplyRequest{Env: "dev", Dir: envDir, PlanFile: planFile, Log: &log})
	if err != nil {
		t.Fatalf("apply: %v\nlog:\n%s", err, log.String())
	}
	if outs["x"] != "a" {
		t.Errorf("outputs = %v, want x=a", outs)
	}
}

// A project pinning terraform_version runs that version's binary, or fails saying which versions this
// runner has.
func TestTerraformVersionPerProject(t *testing.T) {
	r := &terraformRunner{bin: "/opt/tf/1.5.7/terraform", version: "1.5.7", versions: map[string]string{"1.8.5": "/opt/tf/1.8.5/terraform"}}
	for _, tc := range []struct{ want, bin, err string }{
		{"", "/opt/tf/1.5.7/terraform", ""},
		{"1.5.7", "/opt/tf/1.5.7/terraform", ""},
		{"1.8.5", "/opt/tf/1.8.5/terraform", ""},
		{"1.9.0", "", "project net needs Terraform 1.9.0; this runner has 1.5.7, 1.8.5 (an operator adds versions with RUNNER_TERRAFORM_BINS)"},
	} {
		bin, err := r.binFor("net", tc.want)
		if bin != tc.bin || (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
			t.Errorf("binFor(%q) = %q, %v; want %q, %q", tc.want, bin, err, tc.bin, tc.err)
		}
	}
}
