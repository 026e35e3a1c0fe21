package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/redact"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
)

// What a pull request's plan prints is hostile: a configured secret and a token it found (wrapped over two
// lines, as a terminal would) are redacted before the stage log is stored.
func TestPlanOutputIsRedactedBeforeItIsStored(t *testing.T) {
	const secret = "webhook-s3cret-value"
	const token = "github_pat_11ABCDEFG0123456789abc_defghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	ctx := context.Background()
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true},
		func(o *Options) { o.Secrets = []string{secret} }, nil)
	h.tf.onPlan = func(ctx context.Context, req PlanRequest) {
		fmt.Fprintf(req.Log, "data.external.env: Reading... env=%s\n", secret)
		fmt.Fprintf(req.Log, "  token = %s\n          %s\n", token[:50], token[50:])
	}
	base, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	head := h.commit("feature", map[string]string{"environments/dev/a.tf": tfFile("a")})
	id := h.pullRequest(3, head, base, "feature")
	if err := h.e.Execute(ctx, id); err != nil {
		t.Fatal(err)
	}
	lines, err := h.st.Log(ctx, h.stage(id, "dev", StagePlan).ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	for _, l := range lines {
		log = append(log, l.Line)
	}
	text := strings.Join(log, "\n")
	for _, leak := range []string{secret, token[:20], token[50:70]} {
		if strings.Contains(text, leak) {
			t.Errorf("stored log leaks %q:\n%s", leak, text)
		}
	}
	for _, want := range []string{"env=[redacted: secret]", "  token = [redacted: github-token]\n          [redacted: github-token]"} {
		if !strings.Contains(text, want) {
			t.Errorf("stored log lacks %q:\n%s", want, text)
		}
	}
}

// A run redacts with its own redactor: the engine's secrets, then what the run adds, counted for the run.
func TestRunRedactorLearnsTheRunsSecrets(t *testing.T) {
	e := &Engine{redactor: redact.New(redact.Secret{Value: "engine-secret"})}
	w := &work{e: e, run: store.Run{ID: 1}, redactor: e.redactor.With()}
	w.redactor.String("engine-secret")
	w.addSecrets(redact.Secret{Kind: "aws-session", Value: "session-value-1"})
	if got := w.redactor.String("engine-secret session-value-1"); got != "[redacted: secret] [redacted: aws-session]" {
		t.Errorf("run redactor: %q", got)
	}
	if got := e.redactor.String("session-value-1"); got != "session-value-1" {
		t.Errorf("the engine learned a run's secret: %q", got)
	}
	if w.redactions() != 3 || e.redactor.Total() != 0 {
		t.Errorf("run counted %d, engine %d; want 3 and 0", w.redactions(), e.redactor.Total())
	}
}
