package tf

import (
	"context"
	"errors"
	"path/filepath"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// span starts the span of one command; end records whether it failed and ends it. The error's text is not
// recorded: Terraform's output on unreviewed code may hold anything (the stage's span has the redacted text).
func (w *Workspace) span(ctx context.Context, verb string) (context.Context, func(error)) {
	if w.opts.Tracer == nil {
		return ctx, func(error) {}
	}
	name := spanVerb(verb)
	dir := w.opts.Dir
	if w.opts.WorkTree != "" {
		if rel, err := filepath.Rel(w.opts.WorkTree, w.opts.Dir); err == nil && !strings.HasPrefix(rel, "..") {
			dir = rel
		}
	}
	ws := w.opts.Workspace
	if ws == "" {
		ws = "default"
	}
	ctx, span := w.opts.Tracer.Start(ctx, "terraform "+name, trace.WithAttributes(
		attribute.String("terraform.command", name),
		attribute.String("terraform.dir", dir),
		attribute.String("runner.env", w.name),
		attribute.String("terraform.workspace", ws),
	))
	return ctx, func(err error) {
		switch {
		case err == nil:
		case errors.Is(err, ErrTimeout):
			span.SetStatus(codes.Error, "terraform "+name+" timed out")
		case ctx.Err() != nil:
			span.SetStatus(codes.Error, "terraform "+name+" stopped: "+ctx.Err().Error())
		default:
			span.SetStatus(codes.Error, "terraform "+name+" failed")
		}
		span.End()
	}
}

// spanVerb is the command without its arguments: "workspace select", "show", "force-unlock".
func spanVerb(verb string) string {
	f := strings.Fields(verb)
	switch {
	case len(f) == 0:
		return "command"
	case f[0] == "workspace" && len(f) > 1:
		return f[0] + " " + f[1]
	}
	return f[0]
}
