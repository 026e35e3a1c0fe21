package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/plancheck"
)

// A runner whose files are an image's (an ECS task) gets its policies as text: the OPA policies are
// written where the policy step reads them, what an earlier start left is gone, and a policy that does not
// compile stops the start.
func TestWritePolicies(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "server-policies")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dropped.rego"), []byte("package dropped\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := writePolicies(dir, map[string]string{
		"tags.rego":   "package main\n\ndeny contains msg if {\n\tinput.resource_changes[_].type == \"aws_s3_bucket\"\n\tmsg := \"no buckets\"\n}\n",
		"public.rego": "package public\n\nwarn contains \"looked\" if { true }\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	modules, err := plancheck.Load(got, got)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range modules {
		names = append(names, m.Path)
	}
	if strings.Join(names, ",") != "public.rego,tags.rego" {
		t.Errorf("policies loaded from %s: %v, want public.rego and tags.rego only", got, names)
	}

	for name, src := range map[string]string{
		"syntax": "package broken\n\ndeny contains msg if {\n",
		"denied": "package net\n\ndeny contains msg if { http.send({\"method\": \"get\", \"url\": \"http://x\"}); msg := \"x\" }\n",
	} {
		if _, err := writePolicies(dir, map[string]string{name + ".rego": src}); err == nil || !strings.Contains(err.Error(), "RUNNER_POLICIES_JSON") {
			t.Errorf("%s: err %v, want the start refused, naming RUNNER_POLICIES_JSON", name, err)
		}
	}
}

// The repository policy given as text is read like the file, and its problems name the variable.
func TestLoadPolicyFromText(t *testing.T) {
	p, err := loadPolicy(config.Server{ReposConfigYAML: "repos:\n  - match: [acme/*]\n    defaults:\n      drift_check: \"0 * * * *\"\n"})
	if err != nil {
		t.Fatal(err)
	}
	if p.For("acme/infra").DriftSchedule("prod") == nil {
		t.Error("the policy's drift_check is not applied")
	}
	if _, err := loadPolicy(config.Server{ReposConfigYAML: "repos:\n  - match: [acme/*]\n    defaults:\n      drift_check: often\n"}); err == nil ||
		!strings.Contains(err.Error(), "RUNNER_REPOS_CONFIG_YAML") || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("err %v, want the problem's line, naming RUNNER_REPOS_CONFIG_YAML", err)
	}
}
