package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gitops-runner/runner/internal/repofs"
)

// LoadRepoFS reads a repository held in memory (a commit read from a mirror) the way LoadRepo reads
// the same files on disk: roots discovered, symlinked folders followed inside the repository and
// refused outside it.
func TestLoadRepoFSReadsLikeTheDisk(t *testing.T) {
	files := map[string]string{
		"environments/prod/us-east-1/network/main.tf": `module "m" { source = "../../modules/vpc" }`,
		"environments/prod/us-east-1/app/main.tf":     "",
		"environments/prod/modules/vpc/main.tf":       "",
		"environments/prod/.terraform/modules/x/a.tf": "",
		"stacks/dev/main.tf":                          "",
		"apps/backend/main.go":                        "package main\n",
	}
	links := map[string]string{"environments/dev": "../stacks/dev", "apps/frontend": "../../outside"}
	cases := []struct {
		name, config, wantErr string
		envs                  []string
	}{
		{"roots and a linked folder", "environments:\n  - name: prod\n    roots: [\"environments/prod/**\"]\n  - name: dev\n    dir: environments/dev\napps:\n  - {name: backend, path: apps/backend, kind: image}\n", "", []string{"prod", "dev"}},
		{"a folder linked outside", "environments:\n  - name: dev\n    dir: environments/dev\napps:\n  - {name: frontend, path: apps/frontend, kind: bundle}\n", "apps/frontend leads outside the repository", nil},
		{"no configuration", "", "", []string{"dev", "prod"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			mem := fstest.MapFS{}
			all := map[string]string{}
			for k, v := range files {
				all[k] = v
			}
			if c.config != "" {
				all[RepoFile] = c.config
			}
			for p, data := range all {
				mem[p] = &fstest.MapFile{Data: []byte(data), Mode: 0o644}
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, p), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for p, target := range links {
				mem[p] = &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink | 0o777}
				if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
					t.Fatal(err)
				}
			}
			for side, load := range map[string]func() (*Repo, error){
				"disk":   func() (*Repo, error) { return LoadRepoFS(repofs.Dir(dir)) },
				"memory": func() (*Repo, error) { return LoadRepoFS(mem) },
			} {
				r, err := load()
				if c.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), c.wantErr) {
						t.Errorf("%s: err = %v, want %q", side, err, c.wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", side, err)
				}
				var names []string
				for _, e := range r.Ordered() {
					names = append(names, e.Name)
				}
				if !reflect.DeepEqual(names, c.envs) {
					t.Errorf("%s: environments %v, want %v", side, names, c.envs)
				}
				if prod, ok := r.Environment("prod"); ok && c.config != "" {
					if got := prod.ProjectNames(); !reflect.DeepEqual(got, []string{"environments/prod/us-east-1/app", "environments/prod/us-east-1/network"}) {
						t.Errorf("%s: prod's projects %v", side, got)
					}
				}
			}
		})
	}
}
