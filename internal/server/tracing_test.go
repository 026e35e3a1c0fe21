//go:build e2e

package server_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/server"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/testenv/otlpcollector"
)

// One push deploys dev with every outside system a stand-in and OTEL_EXPORTER_OTLP_ENDPOINT pointing at a
// fake collector: the run's span holds the stages', the stages' hold Terraform's, and the calls to GitHub
// are spans of the trace.
func TestPushDeployIsTraced(t *testing.T) {
	col := otlpcollector.Start()
	t.Cleanup(col.Close)
	getenv := func(k string) string {
		if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
			return col.URL()
		}
		return os.Getenv(k)
	}
	h, st := newStackHarnessWith(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, server.Collaborators{Getenv: getenv},
		func(c *config.Server) { c.SlackChannel = "C0DEPLOYS" })
	before, _ := h.repo.Head()
	if err := h.repo.WriteFiles(map[string]string{"environments/dev/extra.tf": "resource \"terraform_data\" \"extra\" {\n  input = 1\n}\n"}); err != nil {
		t.Fatal(err)
	}
	sha, err := h.repo.Commit("Infrastructure only")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.repo.Push("main"); err != nil {
		t.Fatal(err)
	}
	st.GitHub.SeedPull(repoName, fakegithub.Pull{Number: 3, Title: "extra", State: "closed", Merged: true, MergeCommitSHA: sha, HeadSHA: sha, BaseRef: "main", HeadRef: "extra"})
	run := h.waitRun(h.accept("push", h.pushPayload(before, sha)), 3*time.Minute)
	if run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("deploy %s: %s", run.Status, run.Error)
	}
	h.stop() // flushes the spans

	spans := col.Spans()
	tree := otlpcollector.Tree(spans)
	runs := otlpcollector.Named(spans, "run")
	if len(runs) != 1 {
		t.Fatalf("run spans = %d; tree:\n%s", len(runs), tree)
	}
	root := runs[0]
	if root.Service != "gitops-runner" || root.Attributes["runner.run.kind"] != "deploy" || root.Attributes["vcs.ref.head.revision"] != sha ||
		root.Attributes["runner.repo"] != repoName || root.ParentSpanID != "" {
		t.Errorf("run span = %+v", root)
	}
	byID := otlpcollector.ByID(spans)
	stages := otlpcollector.WithPrefix(spans, "stage ")
	names := map[string]bool{}
	for _, s := range stages {
		names[s.Name] = true
		if s.ParentSpanID != root.SpanID || s.TraceID != root.TraceID {
			t.Errorf("%s is not a child of the run; tree:\n%s", s.Name, tree)
		}
	}
	if !names["stage checkout"] || !names["stage apply"] {
		t.Errorf("stage spans %v; tree:\n%s", names, tree)
	}
	tfApply := 0
	for _, s := range otlpcollector.WithPrefix(spans, "terraform ") {
		parent, ok := byID[s.ParentSpanID]
		if !ok || !strings.HasPrefix(parent.Name, "stage ") {
			t.Errorf("%s is not under a stage; tree:\n%s", s.Name, tree)
		}
		if s.Name == "terraform apply" && parent.Name == "stage apply" && s.Attributes["runner.env"] == "dev" {
			tfApply++
		}
	}
	if tfApply != 1 {
		t.Errorf("terraform apply spans under stage apply = %d; tree:\n%s", tfApply, tree)
	}
	github := 0
	for _, s := range otlpcollector.WithPrefix(spans, "github ") {
		if s.Kind != "SPAN_KIND_CLIENT" {
			t.Errorf("%s kind %s", s.Name, s.Kind)
		}
		if p, ok := byID[s.ParentSpanID]; ok && s.TraceID == root.TraceID && (p.Name == "run" || strings.HasPrefix(p.Name, "stage ")) {
			github++
		}
		if strings.Contains(s.Attributes["url.full"], "acme") {
			t.Errorf("%s url.full %q holds the repository's name", s.Name, s.Attributes["url.full"])
		}
	}
	if github == 0 {
		t.Errorf("no GitHub call span under the run; tree:\n%s", tree)
	}
	if len(otlpcollector.WithPrefix(spans, "slack ")) == 0 {
		t.Errorf("no Slack call span; tree:\n%s", tree)
	}
	t.Logf("span tree:\n%s", tree)
}
