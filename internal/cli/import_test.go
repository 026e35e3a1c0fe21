package cli_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/cli"
	"github.com/gitops-runner/runner/internal/config"
)

// exitCode is the code cmd/runner exits with for a command's error.
func exitCode(err error) int {
	var exit cli.ExitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &exit):
		return exit.Code
	}
	return 1
}

const atlantisYAML = `version: 3
automerge: true
projects:
- name: network
  dir: environments/prod/network
  apply_requirements: [approved, mergeable]
- dir: environments/dev/network
`

func TestImport(t *testing.T) {
	t.Parallel()
	repo := writeRepo(t, map[string]string{
		"atlantis.yaml":         atlantisYAML,
		"ops/custom.yaml":       "version: 3\nprojects:\n- dir: infra\n  workspace: staging\n",
		"bad.yaml":              "version: 3\nprojects: [\n",
		"old.yaml":              "version: 1\n",
		"huge.yaml":             "version: 3\n#" + strings.Repeat("x", 1<<20),
		"empty/.gitkeep":        "",
		"environments/x/run.tf": mainTF,
	})
	outside := filepath.Join(t.TempDir(), "elsewhere.yaml")
	if err := os.WriteFile(outside, []byte("version: 3\nprojects: [{dir: a, workspace: qa}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		wantStdout []string // also: stdout parses as .runner.yaml when the code is 0
		wantStderr []string
	}{
		{"default file in --repo", []string{"--repo", repo}, 0,
			[]string{"- name: dev", "- name: prod", "require_approval: true", "name: environments/dev/network"},
			[]string{filepath.Join(repo, "atlantis.yaml") + ":2: automerge true: not mapped:",
				filepath.Join(repo, "atlantis.yaml") + ":6: projects[0].apply_requirements [mergeable]: not mapped:",
				"runner import: 2 project(s) in 2 environment(s); 2 not mapped, 0 error(s), 0 note(s), 0 warning(s)"}},
		{"--file relative to --repo", []string{"--repo", repo, "--file", "ops/custom.yaml"}, 0,
			[]string{"- name: staging", "workspace: staging"}, []string{"1 project(s) in 1 environment(s); 0 not mapped"}},
		{"absolute --file", []string{"--file", outside}, 0, []string{"- name: qa"}, nil},
		{"missing file", []string{"--repo", filepath.Join(repo, "empty")}, 1, nil, nil},
		{"a directory", []string{"--repo", repo, "--file", "empty"}, 1, nil, nil},
		{"invalid YAML", []string{"--repo", repo, "--file", "bad.yaml"}, 1, nil, nil},
		{"unsupported version", []string{"--repo", repo, "--file", "old.yaml"}, 1, nil, nil},
		{"too large", []string{"--repo", repo, "--file", "huge.yaml"}, 1, nil, nil},
		{"unknown flag", []string{"--repo", repo, "--env", "prod"}, 2, nil, []string{"flag provided but not defined: -env", "usage: runner import"}},
		{"an argument", []string{repo}, 2, nil, []string{"unexpected argument", "usage: runner import"}},
		{"help", []string{"-h"}, 0, nil, []string{"usage: runner import [--file atlantis.yaml] [--repo DIR]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, stdout, stderr := newEnv(nil)
			err := cli.Import(context.Background(), env, tc.args)
			if got := exitCode(err); got != tc.code {
				t.Fatalf("Import(%v) = %v (exit %d), want exit %d\nstderr: %s", tc.args, err, got, tc.code, stderr)
			}
			if tc.code != 0 && stdout.Len() > 0 {
				t.Errorf("printed a configuration on exit %d:\n%s", tc.code, stdout)
			}
			if tc.code == 0 && len(tc.wantStdout) > 0 {
				if _, err := config.ParseRepo(stdout.Bytes()); err != nil {
					t.Errorf("stdout does not parse as .runner.yaml: %v\n%s", err, stdout)
				}
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

// TestImportErrorsSayWhere: errors name the file and, for content, its line.
func TestImportErrorsSayWhere(t *testing.T) {
	t.Parallel()
	repo := writeRepo(t, map[string]string{"atlantis.yaml": "version: 3\nprojects:\n- dir: a\n  dir: b\n"})
	env, _, _ := newEnv(nil)
	err := cli.Import(context.Background(), env, []string{"--repo", repo})
	if want := filepath.Join(repo, "atlantis.yaml") + ":4: key \"dir\" is given twice"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Import = %v, want an error containing %q", err, want)
	}
	err = cli.Import(context.Background(), env, []string{"--repo", filepath.Join(repo, "nope")})
	if err == nil || !strings.Contains(err.Error(), "read the Atlantis config") {
		t.Errorf("Import = %v, want it to say it was reading the Atlantis config", err)
	}
}
