package pipeline

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
)

// tracedTerraform makes the span Terraform's own adapter would, from the context the stage gives it.
type tracedTerraform struct {
	*fakeTerraform
	tracer trace.Tracer
}

func (t tracedTerraform) Plan(ctx context.Context, req PlanRequest) (PlanResult, error) {
	_, span := t.tracer.Start(ctx, "terraform plan")
	defer span.End()
	return t.fakeTerraform.Plan(ctx, req)
}

func spanAttr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.Emit()
		}
	}
	return ""
}

func TestRunAndStageSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, nil, nil)
	h.with(func(d *Deps) {
		d.Tracer = tp.Tracer("pipeline")
		d.Terraform = tracedTerraform{fakeTerraform: h.tf, tracer: tp.Tracer("tf")}
	})
	initial, _ := h.repo.Head()
	sha := h.commit("main", map[string]string{"environments/dev/a.tf": tfFile("a")})
	id := h.push(sha, initial)
	if err := h.e.Execute(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if r := h.run(id); r.Status != store.StatusSucceeded {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
	spans := exp.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = s
	}
	run, ok := byName["run"]
	if !ok {
		t.Fatalf("no run span among %v", spanNames(spans))
	}
	if spanAttr(run, "runner.run.kind") != "deploy" || spanAttr(run, "runner.repo") != testRepo ||
		spanAttr(run, "vcs.ref.head.name") != "main" || spanAttr(run, "vcs.ref.head.revision") != sha ||
		spanAttr(run, "runner.run.status") != store.StatusSucceeded {
		t.Errorf("run span attributes = %v", run.Attributes)
	}
	for _, name := range []string{"stage checkout", "stage plan", "stage apply"} {
		s, ok := byName[name]
		if !ok {
			t.Fatalf("no %q span among %v", name, spanNames(spans))
		}
		if s.Parent.SpanID() != run.SpanContext.SpanID() {
			t.Errorf("%s is not a child of the run", name)
		}
		if spanAttr(s, "runner.stage.outcome") != store.StageSucceeded {
			t.Errorf("%s attributes = %v", name, s.Attributes)
		}
	}
	if spanAttr(byName["stage plan"], "runner.env") != "dev" {
		t.Errorf("stage plan attributes = %v", byName["stage plan"].Attributes)
	}
	tfSpan, ok := byName["terraform plan"]
	if !ok || tfSpan.Parent.SpanID() != byName["stage plan"].SpanContext.SpanID() {
		t.Errorf("terraform plan span is not under stage plan: %v", spanNames(spans))
	}
}

func TestFailedStageSpanRecordsTheError(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, nil, nil)
	h.with(func(d *Deps) { d.Tracer = tp.Tracer("pipeline") })
	initial, _ := h.repo.Head()
	id := h.push(strings.Repeat("b", 40), initial) // no such commit: checkout fails
	if err := h.e.Execute(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	var stage, run tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		switch s.Name {
		case "stage checkout":
			stage = s
		case "run":
			run = s
		}
	}
	if stage.Status.Code != codes.Error || spanAttr(stage, "runner.stage.outcome") != store.StageFailed || stage.Status.Description == "" {
		t.Errorf("checkout span status %+v attributes %v", stage.Status, stage.Attributes)
	}
	if run.Status.Code != codes.Error || spanAttr(run, "runner.run.status") != store.StatusFailed {
		t.Errorf("run span status %+v attributes %v", run.Status, run.Attributes)
	}
}

func spanNames(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
