package changes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

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

// A cache shared by detections of successive commits answers each commit by its own files: a module
// folder whose files changed is parsed again, one that did not comes from the cache.
func TestNeedsWithACacheFollowsEachCommit(t *testing.T) {
	cfg := &config.Repo{Environments: []config.Environment{
		{Name: "dev", Projects: []config.Project{{Name: "dev", Dir: "envs/dev"}}},
	}}
	commit := func(aCalls, bReads string) fstest.MapFS {
		return fstest.MapFS{
			"envs/dev/main.tf": {Data: []byte(`module "a" { source = "../../mods/a" }`)},
			"mods/a/main.tf":   {Data: []byte(`module "x" { source = "../` + aCalls + `" }`)},
			"mods/b/main.tf":   {Data: []byte(`resource "terraform_data" "b" { input = file("${path.module}/../files/` + bReads + `") }`)},
			"mods/c/main.tf":   {Data: []byte(`# c`)},
		}
	}
	cache := NewCache()
	for _, tc := range []struct {
		fsys fstest.MapFS
		want string
	}{
		{commit("b", "one.txt"), ".runner.yaml,envs/dev,mods/a,mods/b,mods/files/one.txt"},
		{commit("b", "one.txt"), ".runner.yaml,envs/dev,mods/a,mods/b,mods/files/one.txt"},
		{commit("b", "two.txt"), ".runner.yaml,envs/dev,mods/a,mods/b,mods/files/two.txt"},
		{commit("c", "two.txt"), ".runner.yaml,envs/dev,mods/a,mods/c"},
		{commit("b", "one.txt"), ".runner.yaml,envs/dev,mods/a,mods/b,mods/files/one.txt"},
	} {
		got, complete, why := NeedsWith(tc.fsys, cfg, []string{"dev"}, Options{Cache: cache})
		uncached, _, _ := Needs(tc.fsys, cfg, []string{"dev"})
		if strings.Join(got, ",") != tc.want || !complete || strings.Join(uncached, ",") != tc.want {
			t.Errorf("NeedsWith = %v, %v, %q; without the cache %v; want %s", got, complete, why, uncached, tc.want)
		}
	}
	if n := len(cache.modules); n != 6 { // envs/dev; mods/a twice (calling b, c); mods/b twice (one, two); mods/c
		t.Errorf("the cache holds %d modules, want 6", n)
	}
}
