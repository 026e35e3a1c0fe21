package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/policy"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
)

// staticPolicy is a parsed policy file whose trigger rule lets everyone plan.
type staticPolicy struct{ p *policy.Policy }

func (s staticPolicy) MayPlan(context.Context, event.Event) (policy.Decision, error) {
	return policy.Decision{Allowed: true}, nil
}
func (s staticPolicy) For(repo string) policy.RepoPolicy { return s.p.For(repo) }

func parsePolicy(t *testing.T, text string) staticPolicy {
	t.Helper()
	p, err := policy.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return staticPolicy{p}
}

// fakeCredentials hands out one session per request and records what was asked.
type fakeCredentials struct {
	mu   sync.Mutex
	asks []string
}

func (f *fakeCredentials) Environ(_ context.Context, req CredentialsRequest) (Grant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asks = append(f.asks, req.Phase+" "+req.Env.Name)
	secret := fmt.Sprintf("session-secret-%s-%s-%d", req.Phase, req.Env.Name, len(f.asks))
	return Grant{Env: map[string]string{"AWS_SECRET_ACCESS_KEY": secret}, Secrets: []string{secret}, Note: "planned with role x"}, nil
}

// A plan gets its phase's session from Credentials; the session secret is masked out of the stage
// log even when Terraform prints it, and the note reaches the comment.
func TestPlanGetsThePhaseSessionAndMasksIt(t *testing.T) {
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, nil, nil)
	creds := &fakeCredentials{}
	h.with(func(d *Deps) { d.Credentials = creds })
	var leaked string
	h.tf.onPlan = func(_ context.Context, req PlanRequest) {
		leaked = req.Environ["AWS_SECRET_ACCESS_KEY"]
		fmt.Fprintf(req.Log, "the configuration printed %s\n", leaked)
	}
	base, _ := h.repo.Head()
	head := h.commit("feature", map[string]string{"environments/dev/a.tf": tfFile("a")})
	id := h.pullRequest(9, head, base, "feature")
	if err := h.e.Execute(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if leaked == "" || len(creds.asks) != 1 || creds.asks[0] != "plan dev" {
		t.Fatalf("credentials asked %v, terraform got %q", creds.asks, leaked)
	}
	lines, err := h.st.Log(context.Background(), h.stage(id, "dev", StagePlan).ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	for _, l := range lines {
		log.WriteString(l.Line + "\n")
	}
	if strings.Contains(log.String(), leaked) || !strings.Contains(log.String(), "the configuration printed [redacted: session-credentials]") {
		t.Errorf("stage log:\n%s", log.String())
	}
	if n := h.run(id).Redactions; n < 1 {
		t.Errorf("run counts %d redactions, want the session secret's", n)
	}
	h.prs.mu.Lock()
	defer h.prs.mu.Unlock()
	if c := strings.Join(h.prs.comments, "\n"); !strings.Contains(c, "planned with role x") {
		t.Errorf("comments %q lack the credentials note", c)
	}
}

// The runner's Terraform must be a version the policy allows for the repository.
func TestTerraformVersionOutsideThePolicyIsRefused(t *testing.T) {
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, func(o *Options) { o.TerraformVersion = "1.5.7" }, nil)
	h.with(func(d *Deps) {
		d.Policy = parsePolicy(t, "repos:\n  - match: [\"acme/*\"]\n    terraform_versions: \">= 1.6.0\"\n")
	})
	base, _ := h.repo.Head()
	head := h.commit("feature", map[string]string{"environments/dev/a.tf": tfFile("a")})
	id := h.pullRequest(10, head, base, "feature")
	if err := h.e.Execute(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if plans, _ := h.tf.calls(); len(plans) != 0 {
		t.Fatalf("planned %v with a Terraform the policy does not allow", plans)
	}
	if r := h.run(id); r.Status != store.StatusFailed || !strings.Contains(r.Error, "terraform 1.5.7 is not allowed") {
		t.Fatalf("run %s: %q", r.Status, r.Error)
	}
}

// Text from a pull request shown in a comment stays text: no markup, no mentions, no HTML.
func TestEscapeMarkdown(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain words", "plain words"},
		{"@org/team please", "@\u200borg/team please"},
		{"<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"},
		{"[click](https://evil.example)", "\\[click\\](https://evil.example)"},
		{"`code` **bold** _it_", "\\`code\\` \\*\\*bold\\*\\* \\_it\\_"},
		{"#1 | table", "\\#1 \\| table"},
	} {
		if got := escapeMarkdown(tt.in); got != tt.want {
			t.Errorf("escapeMarkdown(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A pull request that changes .runner.yaml is told what changes in effect, against its merge base.
func TestPullRequestSeesWhatItsRunnerYAMLChanges(t *testing.T) {
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, nil, nil)
	base, _ := h.repo.Head()
	yaml := "environments:\n  - name: dev\n    dir: environments/dev\n    vars:\n      greeting: hello\napps: []\n"
	head := h.commit("feature", map[string]string{".runner.yaml": yaml, "environments/dev/a.tf": tfFile("a")})
	id := h.pullRequest(11, head, base, "feature")
	if err := h.e.Execute(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	h.prs.mu.Lock()
	defer h.prs.mu.Unlock()
	var config string
	for _, c := range h.prs.comments {
		if strings.HasPrefix(c, configKey+"@") {
			config = c
		}
	}
	if !strings.Contains(config, "changes in effect") || !strings.Contains(config, "greeting") || !strings.Contains(config, "deploys read the default branch") {
		t.Errorf("configuration comment:\n%s\nall comments: %q", config, h.prs.comments)
	}
}

// A .terraform directory committed to the repository never reaches Terraform: a provider binary in
// it would pass for one Terraform installed.
func TestCommittedTerraformDirectoriesAreRemoved(t *testing.T) {
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, nil, nil)
	var seen error
	h.tf.onPlan = func(_ context.Context, req PlanRequest) {
		_, seen = os.Stat(filepath.Join(req.Dir, ".terraform", "providers", "planted"))
	}
	base, _ := h.repo.Head()
	head := h.commit("feature", map[string]string{
		"environments/dev/a.tf":                         tfFile("a"),
		"environments/dev/.terraform/providers/planted": "#!/bin/sh\n",
	})
	if err := h.e.Execute(context.Background(), h.pullRequest(12, head, base, "feature")); err != nil {
		t.Fatal(err)
	}
	if seen == nil {
		t.Fatal("the committed .terraform directory reached Terraform")
	}
}

// A project pinning a Terraform version is checked against the policy's allowed versions when it is
// planned: it fails on its own, and the environment's other projects are planned.
func TestProjectTerraformVersionOutsideThePolicy(t *testing.T) {
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, func(o *Options) { o.TerraformVersion = "1.5.7" }, nil)
	h.with(func(d *Deps) {
		d.Policy = parsePolicy(t, "repos:\n  - match: [\"acme/*\"]\n    terraform_versions: \">= 1.5.0, < 1.9.0\"\n")
	})
	base, _ := h.repo.Head()
	head := h.commit("feature", map[string]string{
		".runner.yaml": "environments:\n  - name: dev\n    projects:\n      - {name: old, dir: environments/dev}\n" +
			"      - {name: new, dir: environments/dev, workspace: next, terraform_version: 1.9.0}\n",
		"environments/dev/a.tf": tfFile("a"),
	})
	id := h.pullRequest(10, head, base, "feature")
	if err := h.e.Execute(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	plans, _ := h.tf.calls()
	if len(plans) != 1 {
		t.Fatalf("planned %v, want the project on the default version only", plans)
	}
	if r := h.run(id); r.Status != store.StatusFailed {
		t.Fatalf("run %s: %q", r.Status, r.Error)
	}
	if c := strings.Join(h.prs.comments, "\n"); !strings.Contains(c, "terraform 1.9.0 is not allowed for this repository") || !strings.Contains(c, "#### Project `old`") {
		t.Errorf("comments:\n%s", c)
	}
}
