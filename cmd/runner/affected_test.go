package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

var update = flag.Bool("update", false, "rewrite the golden files of runner affected")

// liveRepo is a typical "live" layout (environments/<env>/<region>/<component>) with modules, a
// template read through templatefile, a symlinked auto.tfvars and a root no project lists yet.
var liveBase = map[string]string{
	".runner.yaml": `environments:
  - name: dev
    order: 1
    roots: ["environments/dev/**"]
  - name: prod
    order: 2
    projects:
      - name: prod-network
        dir: environments/prod/us-east-1/network
      - name: prod-app
        dir: environments/prod/us-east-1/app
        depends_on: [prod-network]
        var_files: [../../prod.tfvars]
      - name: prod-ops
        dir: environments/prod/us-east-1/app
        workspace: ops
        when_modified: ["../../../../config/*.yaml"]
`,
	"README.md":                                     "# live\n",
	"modules/net/main.tf":                           "resource \"terraform_data\" \"vpc\" {}\n",
	"modules/net/README.md":                         "# net\n",
	"modules/app/main.tf":                           "module \"net\" {\n  source = \"../net\"\n}\n",
	"templates/user_data.tpl":                       "#!/bin/sh\n",
	"environments/common.auto.tfvars":               "region = \"us-east-1\"\n",
	"environments/prod/prod.tfvars":                 "size = 3\n",
	"config/alarms.yaml":                            "a: 1\n",
	"environments/dev/us-east-1/network/main.tf":    "module \"net\" {\n  source = \"../../../../modules/net\"\n}\n",
	"environments/prod/us-east-1/network/main.tf":   "module \"net\" {\n  source = \"../../../../modules/net\"\n}\n",
	"environments/prod/us-east-1/app/main.tf":       "module \"app\" {\n  source = \"../../../../modules/app\"\n}\n\nresource \"terraform_data\" \"ud\" {\n  input = templatefile(\"../../../../templates/user_data.tpl\", {})\n}\n",
	"environments/prod/us-east-1/app/variables.tf":  "variable \"region\" {\n  type = string\n}\n",
	"environments/prod/us-east-1/network/notes.txt": "x\n",
}

// liveLinks are symlinks of the base commit: link -> target.
var liveLinks = map[string]string{
	"environments/prod/us-east-1/app/common.auto.tfvars": "../../../common.auto.tfvars",
}

func commitFiles(t *testing.T, repo *git.Repository, dir string, files map[string]string, links map[string]string, msg string) string {
	t.Helper()
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, files)
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(l))); err != nil {
			t.Fatal(err)
		}
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "t", Email: "t@example.com", When: time.Unix(1700000000, 0)}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func TestAffectedGolden(t *testing.T) {
	tests := []struct {
		name    string
		changed map[string]string
		args    []string
	}{
		{name: "module", changed: map[string]string{"modules/net/main.tf": "resource \"terraform_data\" \"vpc2\" {}\n"}},
		{name: "docs-only", changed: map[string]string{"README.md": "# changed\n", "modules/net/README.md": "# changed\n"}},
		{name: "reads-links-varfiles-globs", changed: map[string]string{
			"templates/user_data.tpl":         "#!/bin/sh\necho hi\n",
			"environments/common.auto.tfvars": "region = \"eu-west-1\"\n",
			"environments/prod/prod.tfvars":   "size = 4\n",
			"config/alarms.yaml":              "a: 2\n",
		}},
		{name: "new-root", changed: map[string]string{"environments/qa/main.tf": "terraform {}\n", "environments/prod/us-east-1/network/notes.txt": "y\n"}},
		{name: "module-json", changed: map[string]string{"modules/app/main.tf": "module \"net\" {\n  source = \"../net\"\n}\n# x\n"}, args: []string{"--json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			repo, err := git.PlainInit(dir, false)
			if err != nil {
				t.Fatal(err)
			}
			base := commitFiles(t, repo, dir, liveBase, liveLinks, "base")
			head := commitFiles(t, repo, dir, tt.changed, nil, "change")
			code, stdout, stderr := runCmd(t, append([]string{"affected", "--repo", dir, "--base", base[:10]}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			got := strings.NewReplacer(base, "BASE", head, "HEAD", base[:12], "BASE", head[:12], "HEAD").Replace(stdout)
			ext := ".txt"
			if len(tt.args) > 0 {
				ext = ".json"
			}
			golden := filepath.Join("testdata", "affected", tt.name+ext)
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (-update rewrites it):\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestAffectedArguments(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--repo", dir}, "runner affected: --base is required"},
		{[]string{"--repo", dir, "--base", "HEAD~1"}, "open the repository at"},
	} {
		code, _, stderr := runCmd(t, append([]string{"affected"}, tc.args...)...)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tc.args, code, stderr, tc.want)
		}
	}
}
