package policy

import (
	"os"
	"testing"

	"github.com/gitops-runner/runner/internal/config"
)

// FuzzParse: the policy file is the operator's, but a parser must still never panic, and what it accepts must
// re-validate and apply to any repository configuration without panicking.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("testdata/example.repos.yaml"); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"", "repos: []\n", "repos:\n  - match: [a/b]\n", "a: &x [*x]\n",
		"repos:\n  - match: [a/*]\n    allowed_overrides: []\n    defaults: {branch: main, require_approval: true}\n",
		"repos:\n  - match: [a/b]\n    defaults:\n      plan_role: {arn: 'arn:aws:iam::123456789012:role/x', session_duration: 1h}\n",
		"repos:\n  - match: [a/b]\n    environments:\n      - {name: prod, vars: {plan: {a: b}}, pass_env: {apply: [X]}}\n",
		"repos:\n  - match: [a/b]\n    terraform_versions: '~> 1.5'\n    plan_permission: maintain\n",
	} {
		f.Add([]byte(s))
	}
	repo, err := config.ParseRepo([]byte("environments:\n" +
		"  - {name: dev, dir: d, branch: feature, vars: {a: x, region: us-east-1}, slack_channel: c}\n" +
		"  - {name: prod, dir: p, require_approval: false, order: 9}\n"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			if p != nil {
				t.Fatal("non-nil Policy with an error")
			}
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if err := p.check(); err != nil {
			t.Fatalf("accepted a policy that does not re-validate: %v", err)
		}
		for _, name := range []string{"a/b", "acme/infra", "x/y"} {
			rp := p.For(name)
			eff, _ := rp.Apply(repo)
			if len(eff.Environments) != len(repo.Environments) {
				t.Fatalf("Apply lost environments: %+v", eff)
			}
			for _, e := range eff.Environments {
				s := rp.settings(e.Name)
				if s.requireApproval != nil && *s.requireApproval && !e.RequireApproval {
					t.Fatalf("%s: approval dropped", e.Name)
				}
				if s.branch != nil && e.Branch != *s.branch {
					t.Fatalf("%s: branch %q, policy %q", e.Name, e.Branch, *s.branch)
				}
			}
			_ = Diff(eff, eff)
		}
	})
}
