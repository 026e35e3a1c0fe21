package atlantis_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitops-runner/runner/internal/atlantis"
	"github.com/gitops-runner/runner/internal/config"
)

// FuzzImport: atlantis.yaml comes from a checkout, so converting it must never panic, every note must say
// where it is, and whatever configuration a conversion returns must parse as .runner.yaml.
func FuzzImport(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.atlantis.yaml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"", "version: 3\n", "version: 2\nprojects: [{dir: .}]\n", "version: 3\nprojects:\n- {dir: a, workspace: a}\n- {dir: a-a}\n",
		"version: 3\nprojects:\n- {name: x, dir: a, depends_on: [y]}\n- {name: y, dir: b, depends_on: [x], execution_order_group: 1}\n",
		"version: 3\nprojects:\n- {dir: ., workflow: w}\n- {dir: b, workflow: w}\nworkflows:\n  w:\n    plan: {steps: [{plan: {extra_args: [-var-file, ../x.tfvars]}}]}\n",
		"version: 3\nprojects:\n- {dir: a, workflow: w}\nworkflows:\n  w:\n    plan: {steps: []}\n    apply: {steps: [{run: tflint}]}\n    policy_check: {steps: [policy_check]}\n",
		"version: 3\nprojects:\n- {dir: e/..., branch: /ma.n/}\n- {name: \"/\", dir: \"//\"}\n",
		"version: 3\nx: &a {dir: a}\nprojects: [*a, {<<: *a, workspace: b}]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := atlantis.Convert(data)
		if err != nil {
			var ae *atlantis.Error
			if res != nil || !errors.As(err, &ae) || err.Error() == "" {
				t.Fatalf("Convert = %v, %v: want no result and an *atlantis.Error", res, err)
			}
			return
		}
		repo, err := config.ParseRepo(res.Config)
		if err != nil {
			t.Fatalf("the output does not parse: %v\n%s\ninput:\n%s", err, res.Config, data)
		}
		if len(repo.Projects()) != res.Projects || len(repo.Environments) != res.Environments {
			t.Fatalf("counted %d projects in %d environments, the output has %d in %d", res.Projects, res.Environments, len(repo.Projects()), len(repo.Environments))
		}
		for _, n := range res.Notes {
			if n.Line < 1 || n.Path == "" || n.Msg == "" || n.Kind == "" {
				t.Fatalf("a note without its place or message: %+v", n)
			}
		}
	})
}
