package config

import (
	"os"
	"strings"
	"testing"
)

// FuzzParseRepo: .runner.yaml comes from pull requests, so parsing must never panic, and what it
// accepts must satisfy the invariants the rest of the runner relies on.
func FuzzParseRepo(f *testing.F) {
	if data, err := os.ReadFile("testdata/example.runner.yaml"); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"", "environments:\n  - {name: dev, dir: environments/dev}\n", "apps:\n  - {name: a, path: a, kind: image}\n",
		"a: &x [*x]\n", "environments: [{name: dev, dir: x, refresh: {timeout: 1h}}]\n", "notify: {github: {comments: false}}\n",
		"environments:\n  - name: dev\n    dir: x\n    vars: {a: 1, b: [1]}\n",
		"environments:\n  - name: prod\n    projects:\n      - {name: net, dir: p/net, workspace: ops, var_files: [a.tfvars], backend_config: [b.hcl, key=x], " +
			"terraform_version: 1.5.7, when_modified: [\"../m/**\"], depends_on: [vpc], workflow: w}\n      - {name: vpc, dir: p/vpc}\n" +
			"workflows:\n  w:\n    plan:\n      steps: [init, {run: make}, tflint, plan, {policy: {paths: [pol]}}]\n    apply: {steps: [apply]}\n",
		"environments: [{name: prod, roots: [\"environments/prod/**\"]}]\nignore: [\"docs/**\"]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRepo(data)
		if err != nil {
			if r != nil {
				t.Fatal("non-nil Repo with an error")
			}
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		names, projects := map[string]bool{}, map[string]bool{}
		for _, e := range r.Environments {
			if e.Name == "" || names[e.Name] || (len(e.Projects) == 0) == (len(e.Roots) == 0) {
				t.Fatalf("accepted bad environment %+v", e)
			}
			for _, p := range e.Projects {
				if !ValidProjectName(p.Name) || projects[p.Name] || p.Dir == "" || strings.HasPrefix(p.Dir, "/") ||
					strings.HasPrefix(p.Dir, "..") || p.Workspace == "" || p.Env != e.Name {
					t.Fatalf("accepted bad project %+v", p)
				}
				projects[p.Name] = true
				if _, ok := r.Workflow(p.Workflow); !ok {
					t.Fatalf("project %s: workflow %q missing", p.Name, p.Workflow)
				}
				for _, f := range append(append([]string(nil), p.VarFiles...), p.WhenModified...) {
					if c := p.RepoPath(f); strings.HasPrefix(f, "/") || c == ".." || strings.HasPrefix(c, "../") {
						t.Fatalf("project %s: path %q leaves the repository", p.Name, f)
					}
				}
			}
			if dependencyCycle(e.Projects) != nil {
				t.Fatalf("accepted a dependency cycle in %+v", e.Projects)
			}
			names[e.Name] = true
			if e.Refresh.Timeout <= 0 || e.Refresh.MinHealthyPercentage < 0 || e.Refresh.MinHealthyPercentage > 100 ||
				(e.Refresh.InProgress != RefreshWait && e.Refresh.InProgress != RefreshCancel) || e.Branch == "" || e.APIURL == "" {
				t.Fatalf("accepted bad environment %+v", e)
			}
		}
		for _, a := range r.Apps {
			if a.Kind != AppKindImage && a.Kind != AppKindBundle || a.Path == "" || strings.HasPrefix(a.Path, "..") {
				t.Fatalf("accepted bad app %+v", a)
			}
			if a.Kind == AppKindImage && (a.Repository == "" || len(a.Platforms) == 0 || a.BaseImage == "") {
				t.Fatalf("image app without defaults %+v", a)
			}
		}
	})
}
