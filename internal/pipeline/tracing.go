package pipeline

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
)

// Spans: one per execution of a run (a run resumed by another process, or after waiting, is a new span of a
// new trace), a child per stage attempt. Attributes are bounded identifiers and the branch and SHA; never a
// pull request's title, comment or any other free text, never a secret.

func (e *Engine) startRunSpan(ctx context.Context, run store.Run) (context.Context, trace.Span) {
	ev := run.Event
	attrs := []attribute.KeyValue{
		attribute.Int64("runner.run.id", run.ID),
		attribute.Int("runner.run.attempt", run.Attempts),
		attribute.String("runner.run.kind", ev.Kind),
		attribute.String("runner.repo", ev.Repo),
		attribute.String("runner.event", ev.Name),
		attribute.String("vcs.ref.head.revision", ev.SHA),
	}
	if b := event.Branch(ev.Ref); b != "" {
		attrs = append(attrs, attribute.String("vcs.ref.head.name", b))
	}
	if ev.PR != 0 {
		attrs = append(attrs, attribute.Int("runner.pr", ev.PR))
	}
	return e.deps.Tracer.Start(ctx, "run", trace.WithAttributes(attrs...))
}

// endRunSpan ends a run's span with its outcome; errText must be redacted.
func endRunSpan(span trace.Span, status, errText string) {
	span.SetAttributes(attribute.String("runner.run.status", status))
	if status == store.StatusFailed {
		span.SetStatus(codes.Error, firstLine(errText))
	}
	span.End()
}

func (w *work) startStageSpan(ctx context.Context, key store.StageKey, attempt int) (context.Context, trace.Span) {
	return w.e.deps.Tracer.Start(ctx, "stage "+key.Name, trace.WithAttributes(
		attribute.Int64("runner.run.id", w.run.ID),
		attribute.String("runner.env", key.Env),
		attribute.String("runner.stage", key.Name),
		attribute.Int("runner.stage.attempt", attempt),
	))
}

// endStageSpan ends a stage's span with its outcome; the error's text is redacted before it is recorded.
func (w *work) endStageSpan(span trace.Span, status string, interrupted bool, err error) {
	if interrupted {
		status = "interrupted"
	}
	span.SetAttributes(attribute.String("runner.stage.outcome", status))
	if err != nil && !interrupted && !errors.Is(err, context.Canceled) {
		span.SetStatus(codes.Error, firstLine(w.redactor.String(err.Error())))
	}
	span.End()
}
