package changes

import (
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gitops-runner/runner/internal/repofs"
)

const readsFixture = "testdata/reads/repo"

// TestReadsFixture reads a root and the module it calls, as change detection will.
func TestReadsFixture(t *testing.T) {
	const root = "environments/prod/us-east-1"
	tests := []struct {
		module     string
		reads      []Read
		unresolved []Unresolved
	}{
		{
			module:     root,
			reads:      []Read{{Path: "templates/banner.tpl", Func: "templatefile", At: root + "/main.tf:5"}},
			unresolved: []Unresolved{{Func: "file", At: root + "/main.tf:6", Expr: "var.ssh_keys_file"}},
		},
		{
			module: "modules/web",
			reads: []Read{
				{Path: "modules/web/policies/*.json", Glob: true, Func: "fileset", At: "modules/web/main.tf:30"},
				{Path: "modules/web/tags.json", Func: "file", At: "modules/web/main.tf:24"},
				{Path: "modules/web/templates/user_data.sh.tpl", Func: "templatefile", At: "modules/web/main.tf:15"},
			},
			unresolved: []Unresolved{{Func: "file", At: "modules/web/main.tf:32", Expr: `"${path.module}/${each.value}"`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.module, func(t *testing.T) {
			reads, unresolved, err := Reads(repofs.Dir(readsFixture), tt.module, root)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(reads, tt.reads) {
				t.Errorf("reads:\n got %#v\nwant %#v", reads, tt.reads)
			}
			if !reflect.DeepEqual(unresolved, tt.unresolved) {
				t.Errorf("unresolved:\n got %#v\nwant %#v", unresolved, tt.unresolved)
			}
			for _, r := range reads {
				if r.Glob {
					continue
				}
				if _, err := os.Stat(filepath.Join(readsFixture, filepath.FromSlash(r.Path))); err != nil {
					t.Errorf("read %s does not name a fixture file: %v", r.Path, err)
				}
			}
		})
	}
}

// FuzzReads reads the input as a module's main.tf: whatever the bytes, Reads must
// not panic and must only report clean paths inside the repository.
func FuzzReads(f *testing.F) {
	for _, p := range []string{
		readsFixture + "/modules/web/main.tf",
		readsFixture + "/environments/prod/us-east-1/main.tf",
	} {
		src, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range []string{
		`a = file("${path.module}/x")`,
		`a = fileset(format("%s/p", path.cwd), "**/*.{json,yaml}")`,
		`a = templatefile("../../../t.tpl", {x = [for i in y : file(i)]})`,
		`a = file(replace(abspath(path.root), "", "/.."))`,
		`b "c" { dynamic "d" { content { e = core::filemd5(join("/", [path.module, "f"])) } } }`,
		`a = "%{if x}${file("y")}%{endif}"`,
		"a = <<EOT\n${file(\"h\")}\nEOT\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		repo := fstest.MapFS{"modules/m/main.tf": {Data: src, Mode: 0o644}}
		reads, unresolved, _ := Reads(repo, "modules/m", "environments/prod")
		for _, r := range reads {
			if r.Path != path.Clean(r.Path) || path.IsAbs(r.Path) || r.Path == ".." || strings.HasPrefix(r.Path, "../") {
				t.Errorf("read path %q is not a clean path inside the repository", r.Path)
			}
			if !strings.HasPrefix(r.At, "modules/m/main.tf:") {
				t.Errorf("read at %q", r.At)
			}
		}
		for _, u := range unresolved {
			if len(u.Expr) > maxExprText {
				t.Errorf("unresolved expression of %d bytes", len(u.Expr))
			}
		}
	})
}
