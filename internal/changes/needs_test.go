package changes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/repofs"
)

func TestNeeds(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		abs := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(abs, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("envs/dev/main.tf", `module "a" { source = "../../mods/a" }
resource "terraform_data" "x" { input = file("${path.module}/../shared/x.txt") }
resource "terraform_data" "y" { input = fileset("${path.root}/../../pol", "**/*.json") }
`)
	write("mods/a/main.tf", `module "b" { source = "../b" }`)
	write("mods/b/main.tf", `resource "terraform_data" "b" { input = file("${path.module}/tpl/b.txt") }`)
	write("envs/prod/main.tf", `resource "terraform_data" "p" { input = file(var.where) }
variable "where" { type = string }`)
	cfg := &config.Repo{Environments: []config.Environment{
		{Name: "dev", Projects: []config.Project{{Name: "dev", Dir: "envs/dev", VarFiles: []string{"../dev.tfvars"}, BackendConfig: []string{"backend.hcl", "key=v"}}}},
		{Name: "prod", Projects: []config.Project{{Name: "prod", Dir: "envs/prod"}}},
	}}
	tests := []struct {
		envs     []string
		want     string
		complete bool
		why      string
	}{
		{[]string{"dev"}, ".runner.yaml,envs/dev,envs/dev.tfvars,envs/shared/x.txt,mods/a,mods/b,pol", true, ""},
		{[]string{"prod"}, "", false, "not known statically"},
		{[]string{"qa"}, "", false, "no environment"},
	}
	for _, tc := range tests {
		got, complete, why := Needs(repofs.Dir(root), cfg, tc.envs)
		if strings.Join(got, ",") != tc.want || complete != tc.complete || !strings.Contains(why, tc.why) {
			t.Errorf("Needs(%v) = %v, %v, %q; want %s, %v, %q", tc.envs, got, complete, why, tc.want, tc.complete, tc.why)
		}
	}
}

func TestGlobBaseAndCompact(t *testing.T) {
	for in, want := range map[string]string{"files/*.json": "files", "**/x": ".", "a/b/c.txt": "a/b/c.txt", "a/{b,c}/d": "a"} {
		if got := globBase(in); got != want {
			t.Errorf("globBase(%q) = %q, want %q", in, got, want)
		}
	}
	got := compact(map[string]bool{"a": true, "a-b": true, "a/x": true, "b/c/": true, "b/c/d": true})
	if strings.Join(got, ",") != "a,a-b,b/c" {
		t.Errorf("compact = %v", got)
	}
	if got := compact(map[string]bool{".": true, "a": true}); strings.Join(got, ",") != "." {
		t.Errorf("compact with the root = %v", got)
	}
}
