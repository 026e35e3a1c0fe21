package changes

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/repofs"
)

// writeTree writes files (repository-relative path -> content) under root.
func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReads(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		module     string // defaults to root
		root       string
		reads      []Read
		unresolved []Unresolved
		errs       []string // substrings of the error; none means no error
	}{
		{
			name: "path.module in a module called from a root",
			files: map[string]string{
				"environments/prod/main.tf": "module \"web\" {\n  source = \"../../modules/web\"\n}\n",
				"modules/web/main.tf":       "resource \"aws_instance\" \"web\" {\n  user_data = file(\"${path.module}/templates/user_data.sh\")\n}\n",
			},
			module: "modules/web", root: "environments/prod",
			reads: []Read{{Path: "modules/web/templates/user_data.sh", Func: "file", At: "modules/web/main.tf:2"}},
		},
		{
			name: "relative path from a root three levels down",
			files: map[string]string{
				"environments/prod/us-east-1/main.tf": "locals {\n  a = templatefile(\"../../../templates/x.tpl\", {})\n  b = templatefile(\"../../templates/y.tpl\", { name = \"n\" })\n}\n",
			},
			root: "environments/prod/us-east-1",
			reads: []Read{
				{Path: "environments/templates/y.tpl", Func: "templatefile", At: "environments/prod/us-east-1/main.tf:3"},
				{Path: "templates/x.tpl", Func: "templatefile", At: "environments/prod/us-east-1/main.tf:2"},
			},
		},
		{
			name: "a relative path in a child module is relative to the root, not the module",
			files: map[string]string{
				"modules/web/main.tf": "locals {\n  a = file(\"files/a.txt\")\n  b = file(\"${path.root}/b.txt\")\n  c = file(\"${path.cwd}/c.txt\")\n  d = file(\"${abspath(path.module)}/d.txt\")\n}\n",
			},
			module: "modules/web", root: "environments/prod",
			reads: []Read{
				{Path: "environments/prod/b.txt", Func: "file", At: "modules/web/main.tf:3"},
				{Path: "environments/prod/c.txt", Func: "file", At: "modules/web/main.tf:4"},
				{Path: "environments/prod/files/a.txt", Func: "file", At: "modules/web/main.tf:2"},
				{Path: "modules/web/d.txt", Func: "file", At: "modules/web/main.tf:5"},
			},
		},
		{
			name: "format, join, replace and other string functions",
			files: map[string]string{
				"modules/web/main.tf": `locals {
  a = filebase64(format("%s/bin/%s.zip", path.module, "lambda"))
  b = filemd5(join("/", [path.module, "x.txt"]))
  c = filesha256(lower("${path.module}/Y.TXT"))
  d = file(replace("${path.module}/z-tpl", "-", "."))
  e = core::file(trimsuffix("${path.module}/w.txt.bak", ".bak"))
  f = fileexists("${dirname(path.module)}/shared/v.json")
  g = file(format("%s/%d.txt", path.module, 7))
}
`,
			},
			module: "modules/web", root: "environments/prod",
			reads: []Read{
				{Path: "modules/shared/v.json", Func: "fileexists", At: "modules/web/main.tf:7"},
				{Path: "modules/web/7.txt", Func: "file", At: "modules/web/main.tf:8"},
				{Path: "modules/web/bin/lambda.zip", Func: "filebase64", At: "modules/web/main.tf:2"},
				{Path: "modules/web/w.txt", Func: "file", At: "modules/web/main.tf:6"},
				{Path: "modules/web/x.txt", Func: "filemd5", At: "modules/web/main.tf:3"},
				{Path: "modules/web/y.txt", Func: "filesha256", At: "modules/web/main.tf:4"},
				{Path: "modules/web/z.tpl", Func: "file", At: "modules/web/main.tf:5"},
			},
		},
		{
			name: "fileset joins base and pattern into a glob",
			files: map[string]string{
				"modules/iam/main.tf": `resource "aws_iam_policy" "p" {
  for_each = fileset(path.module, "policies/*.json")
  policy   = file("${path.module}/${each.value}")
}
locals {
  confs = fileset("${path.module}/conf", "**/*.{yml,yaml}")
}
`,
			},
			module: "modules/iam", root: "environments/dev",
			reads: []Read{
				{Path: "modules/iam/conf/**/*.{yml,yaml}", Glob: true, Func: "fileset", At: "modules/iam/main.tf:6"},
				{Path: "modules/iam/policies/*.json", Glob: true, Func: "fileset", At: "modules/iam/main.tf:2"},
			},
			unresolved: []Unresolved{{Func: "file", At: "modules/iam/main.tf:3", Expr: `"${path.module}/${each.value}"`}},
		},
		{
			name: "paths built from variables, locals and resources are unresolved",
			files: map[string]string{
				"main.tf": `locals {
  a = file(var.path)
  b = templatefile("${path.module}/${local.name}.tpl", {})
  c = fileset(path.module, var.pattern)
  d = file(aws_s3_object.o.key)
  e = file(replace(path.module, "/.*/", "x"))
  f = file(upper(["a"][0]))
}
`,
			},
			root: ".",
			unresolved: []Unresolved{
				{Func: "file", At: "main.tf:2", Expr: "var.path"},
				{Func: "templatefile", At: "main.tf:3", Expr: `"${path.module}/${local.name}.tpl"`},
				{Func: "fileset", At: "main.tf:4", Expr: "var.pattern"},
				{Func: "file", At: "main.tf:5", Expr: "aws_s3_object.o.key"},
				{Func: "file", At: "main.tf:6", Expr: `replace(path.module, "/.*/", "x")`},
				{Func: "file", At: "main.tf:7", Expr: `upper(["a"][0])`},
			},
		},
		{
			name: "paths leaving the repository are dropped",
			files: map[string]string{
				"environments/prod/main.tf": `locals {
  a = file("../../../etc/passwd")
  b = file("/etc/passwd")
  c = file("~/.ssh/id_rsa")
  d = file("${path.cwd}/../../../x")
  e = fileset("../../..", "*")
  f = file("../../inside.txt")
}
`,
			},
			root:  "environments/prod",
			reads: []Read{{Path: "inside.txt", Func: "file", At: "environments/prod/main.tf:7"}},
		},
		{
			name: "a file with a syntax error does not hide the reads of another",
			files: map[string]string{
				"a.tf": "locals {\n  a = file(\"a.txt\")\n  b = = 2\n}\n",
				"b.tf": "locals {\n  c = file(\"${path.module}/b.txt\")\n}\n",
			},
			root:  ".",
			reads: []Read{{Path: "a.txt", Func: "file", At: "a.tf:2"}, {Path: "b.txt", Func: "file", At: "b.tf:2"}},
			errs:  []string{"a.tf:3: "},
		},
		{
			name: "nested and dynamic blocks and calls inside other expressions",
			files: map[string]string{
				"modules/app/main.tf": `resource "aws_launch_template" "t" {
  block_device_mappings {
    ebs {
      kms_key_id = jsondecode(file("${path.module}/ebs.json")).key
    }
  }
  dynamic "tag_specifications" {
    for_each = ["instance"]
    content {
      tags = yamldecode(filebase64sha512("${path.module}/tags.yaml"))
    }
  }
  provisioner "file" {
    content     = templatefile("${path.module}/cfg.tpl", { items = [for i in var.items : filesha1("${path.module}/${i}")] })
    destination = "/etc/cfg"
  }
}
`,
			},
			module: "modules/app", root: "environments/prod",
			reads: []Read{
				{Path: "modules/app/cfg.tpl", Func: "templatefile", At: "modules/app/main.tf:14"},
				{Path: "modules/app/ebs.json", Func: "file", At: "modules/app/main.tf:4"},
				{Path: "modules/app/tags.yaml", Func: "filebase64sha512", At: "modules/app/main.tf:10"},
			},
			unresolved: []Unresolved{{Func: "filesha1", At: "modules/app/main.tf:14", Expr: `"${path.module}/${i}"`}},
		},
		{
			name: "only .tf files directly in the module, hidden and editor files skipped, duplicates merged",
			files: map[string]string{
				"m/main.tf":         "locals {\n  a = [file(\"x.txt\"), file(\"x.txt\")]\n}\n",
				"m/main.tf.json":    `{"locals": {"b": "${file(\"json.txt\")}"}}`,
				"m/.hidden.tf":      "locals {\n  c = file(\"hidden.txt\")\n}\n",
				"m/backup.tf~":      "locals {\n  d = file(\"backup.txt\")\n}\n",
				"m/sub/main.tf":     "locals {\n  e = file(\"sub.txt\")\n}\n",
				"m/notes.md":        "file(\"md.txt\")",
				"m/z_override.tf":   "locals {\n  f = filebase64(\"x.txt\")\n}\n",
				"m/nothing.tf":      "",
				"m/only_comment.tf": "# file(\"comment.txt\")\n",
			},
			module: "m", root: ".",
			reads: []Read{
				{Path: "x.txt", Func: "file", At: "m/main.tf:2"},
				{Path: "x.txt", Func: "filebase64", At: "m/z_override.tf:2"},
			},
		},
		{
			name: "calls that read nothing",
			files: map[string]string{
				"main.tf": "locals {\n  a = file()\n  b = fileset(path.module)\n  c = filesystem(\"x\")\n  d = provider::foo::file(\"p.txt\")\n}\n",
			},
			root: ".",
		},
		{
			name: "a list expanded into the arguments is unresolved",
			files: map[string]string{
				"main.tf": "locals {\n  a = file([\"x.txt\"]...)\n}\n",
			},
			root:       ".",
			unresolved: []Unresolved{{Func: "file", At: "main.tf:2", Expr: `["x.txt"]`}},
		},
		{
			name: "huge strings are not built",
			files: map[string]string{
				"main.tf": `locals {
  a = file(format("%999999999s", "x"))
  b = file(replace(replace(replace("abcdefgh", "", "abcdefgh"), "", "abcdefgh"), "", "abcdefgh"))
  c = file(join("", [for i in [1, 2] : "x"]))
}
`,
			},
			root: ".",
			unresolved: []Unresolved{
				{Func: "file", At: "main.tf:2", Expr: `format("%999999999s", "x")`},
				{Func: "file", At: "main.tf:3", Expr: `replace(replace(replace("abcdefgh", "", "abcdefgh"), "", "abcdefgh"), "", "abcdefgh")`},
				{Func: "file", At: "main.tf:4", Expr: `join("", [for i in [1, 2] : "x"])`},
			},
		},
		{
			name: "long expressions are cut to 200 bytes",
			files: map[string]string{
				"main.tf": "locals {\n  a = file(\"${var.x}/" + strings.Repeat("é", 150) + "\")\n}\n",
			},
			root:       ".",
			unresolved: []Unresolved{{Func: "file", At: "main.tf:2", Expr: "\"${var.x}/" + strings.Repeat("é", 95)}},
		},
		{
			name: "a file nesting too deeply is refused, not parsed",
			files: map[string]string{
				"deep.tf": "a = " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000) + "\n",
				"ok.tf":   "locals {\n  a = file(\"ok.txt\")\n}\n",
			},
			root:  ".",
			reads: []Read{{Path: "ok.txt", Func: "file", At: "ok.tf:2"}},
			errs:  []string{"deep.tf:1: expressions or blocks nest deeper than 256 levels"},
		},
		{
			name:   "module outside the repository",
			module: "../x", root: ".",
			errs: []string{`directory "../x" is not inside the repository`},
		},
		{
			name:   "missing module",
			module: "modules/gone", root: ".",
			errs: []string{"listing the Terraform files of module modules/gone"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := t.TempDir()
			writeTree(t, repo, tt.files)
			module := tt.module
			if module == "" {
				module = tt.root
			}
			reads, unresolved, err := Reads(repofs.Dir(repo), module, tt.root)
			if !reflect.DeepEqual(reads, tt.reads) {
				t.Errorf("reads:\n got %#v\nwant %#v", reads, tt.reads)
			}
			if !reflect.DeepEqual(unresolved, tt.unresolved) {
				t.Errorf("unresolved:\n got %#v\nwant %#v", unresolved, tt.unresolved)
			}
			checkErr(t, err, tt.errs)
		})
	}
}

func checkErr(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Errorf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestReadsLimits(t *testing.T) {
	t.Run("at most 10000 calls are listed", func(t *testing.T) {
		repo := t.TempDir()
		var b strings.Builder
		b.WriteString("locals {\n")
		for i := range maxReads + 5 {
			fmt.Fprintf(&b, "  a%d = file(\"f%d.txt\")\n", i, i)
		}
		b.WriteString("}\n")
		writeTree(t, repo, map[string]string{"main.tf": b.String()})
		reads, unresolved, err := Reads(repofs.Dir(repo), ".", ".")
		if len(reads)+len(unresolved) != maxReads {
			t.Errorf("got %d reads and %d unresolved, want %d in all", len(reads), len(unresolved), maxReads)
		}
		checkErr(t, err, []string{"more than 10000 file function calls; 5 were not listed"})
	})
	t.Run("files over 4 MiB are not read", func(t *testing.T) {
		repo := t.TempDir()
		writeTree(t, repo, map[string]string{
			"big.tf": "locals {\n  a = file(\"big.txt\")\n}\n" + strings.Repeat("#", maxConfigFile),
			"ok.tf":  "locals {\n  a = file(\"ok.txt\")\n}\n",
		})
		reads, _, err := Reads(repofs.Dir(repo), ".", ".")
		if want := []Read{{Path: "ok.txt", Func: "file", At: "ok.tf:2"}}; !reflect.DeepEqual(reads, want) {
			t.Errorf("reads = %#v, want %#v", reads, want)
		}
		checkErr(t, err, []string{"big.tf: larger than 4194304 bytes"})
	})
	t.Run("a .tf directory is reported, not read", func(t *testing.T) {
		repo := t.TempDir()
		if err := os.Mkdir(filepath.Join(repo, "dir.tf"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, _, err := Reads(repofs.Dir(repo), ".", ".")
		checkErr(t, err, []string{"dir.tf: not a regular file"})
	})
}

// TestCheckNesting covers the shapes that overflow hclsyntax's stack when repeated, each just
// inside and just over the bound, and real configuration shapes that must pass.
func TestCheckNesting(t *testing.T) {
	deep := func(open, middle, close string, n int) string {
		return "a = " + strings.Repeat(open, n) + middle + strings.Repeat(close, n) + "\n"
	}
	tests := []struct {
		name string
		src  string
		ok   bool
	}{
		{"parentheses", deep("(", "1", ")", 250), true},
		{"too many parentheses", deep("(", "1", ")", 300), false},
		{"brackets", deep("[", "1", "]", 300), false},
		{"objects", deep("{a = ", "1", "}", 300), false},
		{"blocks", strings.Repeat("b {\n", 300) + strings.Repeat("}\n", 300), false},
		{"nots", "a = " + strings.Repeat("!", 300) + "x\n", false},
		{"negations", "a = " + strings.Repeat("-", 300) + "x\n", false},
		{"conditionals", "a = x" + strings.Repeat(" ? x : x", 300) + "\n", false},
		{"splats", "a = x" + strings.Repeat("[*]", 300) + "\n", false},
		{"namespaces", "a = x" + strings.Repeat("::x", 300) + "()\n", false},
		{"calls", deep("f(", "1", ")", 300), false},
		{"for expressions", deep("[for x in ", "y", " : x]", 300), false},
		{"template interpolations", deep(`"${`, "x", `}"`, 300), false},
		{"template directives", `a = "` + strings.Repeat("%{if x}", 300) + `"` + "\n", false},
		{"multi-line conditional in a for object", "a = {for k, v in x : k =>\n" + strings.Repeat("v ?\nv :\n", 300) + "v}\n", false},
		{"many attributes", strings.Repeat("a = -1 + 2 * (3 - x ? y : z)\n", 10000), true},
		{"long list", "a = [" + strings.Repeat("-1, {b = [1]}, ", 10000) + "]\n", true},
		{"long template", `a = "` + strings.Repeat("${x}%{if y}z%{endif}", 10000) + `"` + "\n", true},
		{"long heredoc", "a = <<EOT\n" + strings.Repeat("${x} %{for i in y}${i}%{endfor}\n", 10000) + "EOT\n", true},
		{"many blocks with nested blocks", strings.Repeat("resource \"a\" \"b\" {\n  c {\n    d = [for x in y : {e = x}]\n  }\n}\n", 10000), true},
		{"long object", "a = {\n" + strings.Repeat("  b = c + d - e\n", 10000) + "}\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkNesting([]byte(tt.src), "x.tf")
			if tt.ok && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !tt.ok && err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestCheckNestingGuardsTheParser feeds Reads shapes that, repeated 100,000 times, overflow
// hclsyntax's stack (a fatal error, not a panic): if checkNesting let one through, the test
// binary would crash.
func TestCheckNestingGuardsTheParser(t *testing.T) {
	for _, unit := range []string{"(", "[", "!", "-", "x ? x : ", "x[*]", "f(", `"${`, "{a = ", "[for x in "} {
		repo := t.TempDir()
		src := "a = " + strings.Repeat(unit, 100000) + "x\n"
		writeTree(t, repo, map[string]string{"main.tf": src})
		if _, _, err := Reads(repofs.Dir(repo), ".", "."); err == nil || !strings.Contains(err.Error(), "nest deeper") {
			t.Errorf("%q repeated: error %v, want nesting refused", unit, err)
		}
	}
}
