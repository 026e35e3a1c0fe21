package changes

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gitops-runner/runner/internal/repofs"
)

// A repository with the shapes that make change detection read through symlinks and module calls.
var (
	sameFiles = map[string]string{
		"environments/dev/main.tf": `module "app" { source = "../../modules/app" }` + "\n",
		"modules/app/main.tf": `module "net" { source = "../net" }
locals { policy = file("${path.module}/files/policy.json") }
`,
		"modules/app/files/policy.json": "{}\n",
		"modules/net/main.tf":           `resource "terraform_data" "n" {}` + "\n",
		"modules/web/main.tf":           "",
		"shared/common.auto.tfvars":     "a = 1\n",
		"environments/prod/main.tf":     `module "web" { source = "./web" }` + "\n",
		"environments/qa/main.tf":       `module "l" { source = "./loop" }` + "\n",
		"modules/odd/main.tf":           `locals { a = file("a.txt") }` + "\n",
	}
	sameLinks = map[string]string{ // link -> target, as written
		"environments/dev/common.auto.tfvars": "../../shared/common.auto.tfvars",
		"environments/prod/web":               "../../modules/web",
		"environments/prod/dangling":          "gone.tfvars",
		"environments/prod/absolute":          "/etc/hostname",
		"environments/prod/above":             "../../../outside.tfvars",
		"environments/prod/loop-a":            "loop-b",
		"environments/prod/loop-b":            "loop-a",
		"environments/qa/loop":                "loop",
		"modules/odd/outside.tf":              "/etc/hostname",
	}
	sameYAML = "environments:\n  - {name: dev, dir: environments/dev}\n  - {name: prod, dir: environments/prod}\n" +
		"  - {name: qa, dir: environments/qa}\n"
)

// TestSameOverDiskAndMemory runs detection over a checkout on disk and over the same commit held in
// memory: each must give the same answer, since the runner uses either.
func TestSameOverDiskAndMemory(t *testing.T) {
	cfg := repoOf(t, sameYAML)
	affected := func(changed ...string) func(repofs.FS) string {
		return func(fsys repofs.FS) string {
			res, err := Affected(fsys, cfg, changed)
			if err != nil {
				return "error: " + err.Error()
			}
			var b strings.Builder
			for _, env := range res.Environments {
				fmt.Fprintf(&b, "%s: %s\n", env, strings.Join(res.Reasons[env], "; "))
				if p := res.Problems[env]; len(p) > 0 {
					fmt.Fprintf(&b, "%s problems: %s\n", env, strings.Join(p, "; "))
				}
			}
			return b.String()
		}
	}
	tests := []struct {
		name string
		run  func(repofs.FS) string
		want string
	}{
		{name: "a module called through another module",
			run:  affected("modules/net/main.tf"),
			want: "dev: modules/net/main.tf → module net → module app → environments/dev\n"},
		{name: "a file read with file()",
			run:  affected("modules/app/files/policy.json"),
			want: "dev: modules/app/files/policy.json → file at modules/app/main.tf:2 → module app → environments/dev\n"},
		{name: "a symlinked module folder",
			run:  affected("modules/web/main.tf"),
			want: "prod: modules/web/main.tf → symlink environments/prod/web → environments/prod\n"},
		{name: "a symlinked var file",
			run:  affected("shared/common.auto.tfvars"),
			want: "dev: shared/common.auto.tfvars → symlink environments/dev/common.auto.tfvars → environments/dev\n"},
		{name: "a module folder that loops is a problem, and its project still counts",
			run: affected("environments/qa/main.tf"),
			want: "qa: environments/qa/main.tf → environments/qa\n" +
				"qa problems: environments/qa/loop: resolve environments/qa/loop: too many levels of symbolic links; " +
				"listing the Terraform files of module environments/qa/loop: resolve environments/qa/loop: too many levels of symbolic links\n"},
		{name: "links that dangle, loop or lead outside are left out",
			run: func(fsys repofs.FS) string {
				links, err := Links(fsys, "environments/prod")
				return fmt.Sprint(links, err)
			},
			want: "[{environments/prod/web modules/web}] <nil>"},
		{name: "reads of a module, for the project calling it",
			run: func(fsys repofs.FS) string {
				reads, unresolved, err := Reads(fsys, "modules/app", "environments/dev")
				return fmt.Sprint(reads, unresolved, err)
			},
			want: "[{modules/app/files/policy.json false file modules/app/main.tf:2}] [] <nil>"},
		{name: "what one environment needs",
			run: func(fsys repofs.FS) string {
				paths, complete, why := Needs(fsys, cfg, []string{"dev"})
				return fmt.Sprintf("%v %v %q", paths, complete, why)
			},
			want: `[.runner.yaml environments/dev modules/app modules/net shared/common.auto.tfvars] true ""`},
		{name: "what an environment with a symlinked module needs",
			run: func(fsys repofs.FS) string {
				paths, complete, why := Needs(fsys, cfg, []string{"prod"})
				return fmt.Sprintf("%v %v %q", paths, complete, why)
			},
			want: `[.runner.yaml environments/prod modules/web] true ""`},
		{name: "a configuration file linked outside the repository is not read",
			run: func(fsys repofs.FS) string {
				reads, _, err := Reads(fsys, "modules/odd", "modules/odd")
				return fmt.Sprint(reads, err)
			},
			want: "[{modules/odd/a.txt false file modules/odd/main.tf:1}] modules/odd/outside.tf: leads outside the repository"},
	}
	trees := map[string]repofs.FS{"disk": diskTree(t, sameFiles, sameLinks), "memory": memoryTree(sameFiles, sameLinks)}
	for _, tt := range tests {
		for kind, fsys := range trees {
			t.Run(tt.name+"/"+kind, func(t *testing.T) {
				if got := tt.run(fsys); got != tt.want {
					t.Errorf("got\n%s\nwant\n%s", got, tt.want)
				}
			})
		}
	}
}

// diskTree writes files and symlinks into a temporary checkout.
func diskTree(t *testing.T, files, links map[string]string) repofs.FS {
	t.Helper()
	root := t.TempDir()
	writeTree(t, root, files)
	for link, target := range links {
		p := filepath.Join(root, filepath.FromSlash(link))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.FromSlash(target), p); err != nil {
			t.Fatal(err)
		}
	}
	return repofs.Dir(root)
}

// memoryTree is the same tree in memory: a symlink is an entry of mode fs.ModeSymlink holding its target.
func memoryTree(files, links map[string]string) repofs.FS {
	m := fstest.MapFS{}
	for name, content := range files {
		m[name] = &fstest.MapFile{Data: []byte(content), Mode: 0o644}
	}
	for link, target := range links {
		m[link] = &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink | 0o777}
	}
	return m
}
