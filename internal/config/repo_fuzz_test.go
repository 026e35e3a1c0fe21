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
		names := map[string]bool{}
		for _, e := range r.Environments {
			if e.Name == "" || names[e.Name] || e.Dir == "" || strings.HasPrefix(e.Dir, "/") || strings.HasPrefix(e.Dir, "..") {
				t.Fatalf("accepted bad environment %+v", e)
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
