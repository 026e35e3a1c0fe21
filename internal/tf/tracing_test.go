package tf

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestCommandSpansAreChildrenOfTheCaller(t *testing.T) {
	f := newFake(t)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	w, _ := f.workspace(t, "dev", "", func(o *Options) { o.Tracer = tp.Tracer("tf"); o.Workspace = "blue" })
	ctx, parent := tp.Tracer("test").Start(context.Background(), "stage plan")
	if err := w.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Show(ctx, "plan.out"); err == nil {
		t.Log("show of the fake's JSON parsed")
	}
	parent.End()
	var got []string
	for _, s := range exp.GetSpans() {
		if s.Name == "stage plan" {
			continue
		}
		got = append(got, s.Name)
		if s.Parent.SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s is not a child of the stage", s.Name)
		}
		attrs := map[string]string{}
		for _, a := range s.Attributes {
			attrs[string(a.Key)] = a.Value.Emit()
		}
		if attrs["runner.env"] != "dev" || attrs["terraform.workspace"] != "blue" || attrs["terraform.dir"] == "" {
			t.Errorf("%s attributes = %v", s.Name, attrs)
		}
	}
	want := map[string]bool{"terraform init": false, "terraform workspace select": false, "terraform show": false}
	for _, n := range got {
		if _, ok := want[n]; ok {
			want[n] = true
		}
	}
	for n, seen := range want {
		if !seen {
			t.Errorf("no %q span among %v", n, got)
		}
	}
}

func TestFailedCommandSpanHasNoTerraformOutput(t *testing.T) {
	f := newFake(t)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	w, _ := f.workspace(t, "dev", "", func(o *Options) { o.Tracer = tp.Tracer("tf"); o.Bin = "/bin/false" })
	if err := w.Init(context.Background()); err == nil {
		t.Fatal("init with /bin/false succeeded")
	}
	spans := exp.GetSpans()
	if len(spans) == 0 || spans[0].Status.Code != codes.Error || spans[0].Status.Description != "terraform init failed" {
		t.Fatalf("spans = %+v", spans)
	}
}

func TestSpanVerb(t *testing.T) {
	for verb, want := range map[string]string{"init": "init", "output -json": "output", "workspace select blue": "workspace select",
		"force-unlock -force 1234": "force-unlock", "": "command"} {
		if got := spanVerb(verb); got != want {
			t.Errorf("spanVerb(%q) = %q, want %q", verb, got, want)
		}
	}
}
