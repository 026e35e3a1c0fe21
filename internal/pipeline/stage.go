package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gitops-runner/runner/internal/redact"
	"github.com/gitops-runner/runner/internal/store"
)

// Stage names.
const (
	StageCheckout = "checkout"
	StagePlan     = "plan"
	StageApply    = "apply"
	StageImage    = "image"   // per image app: "image:<app>"
	StageBundle   = "bundle"  // per bundle app and environment: "bundle:<app>"
	StageMigrate  = "migrate" // per environment: the image app's database migrations, before the apply
	StageService  = "ecs"
	StageRefresh  = "refresh"
)

// errSkip marks a stage that had nothing to do; the detail says why.
type skipError struct{ why string }

func (s skipError) Error() string { return s.why }

func skip(format string, a ...any) error { return skipError{fmt.Sprintf(format, a...)} }

// stageFunc does a stage's work, writing progress to log. It returns a one-line
// detail and outputs kept with the stage (read by later stages and re-runs).
type stageFunc func(ctx context.Context, log io.Writer) (detail string, out map[string]string, err error)

// runStage executes one stage: it records start, streams the log, applies the
// stage timeout and records the outcome. A stage that already succeeded (a re-run
// after a crash) is not run again unless force is set.
func (w *work) runStage(ctx context.Context, key store.StageKey, force bool, fn stageFunc) (out map[string]string, err error) {
	st, ok := w.stage(key)
	if !ok {
		return nil, fmt.Errorf("stage %s/%s was never created", key.Env, key.Name)
	}
	if st.Status == store.StageSucceeded && !force {
		return st.Output, nil
	}
	bg := context.WithoutCancel(ctx)
	if err := w.e.deps.Store.StartStage(ctx, st.ID); err != nil {
		return nil, err
	}
	att, err := w.beginAttempt(ctx, st, w.nextAttempt(key))
	if err != nil {
		_ = w.e.deps.Store.FinishStage(bg, st.ID, store.StagePending, "could not record the attempt; will be re-run", nil)
		return nil, err
	}
	interrupted := false
	defer func() {
		// An attempt stopped with the runner stays open: if its Terraform outlived the grace period and was
		// killed holding a lock, the next execution treats the attempt as dead and may release that lock.
		if !interrupted {
			w.endAttempt(bg, att)
		}
	}()
	w.setStage(key, store.StageRunning, "")
	var status string
	ctx, span := w.startStageSpan(ctx, key, att.Attempt)
	defer func() { w.endStageSpan(span, status, interrupted, err) }()
	lw := newLogWriter(w.e.deps.Store, st.ID, w.redactor, w.e.opts.LogTailLines)
	sctx, cancel := context.WithTimeout(withAttempt(ctx, att), w.e.opts.StageTimeout)
	start := time.Now()
	detail, out, err := fn(sctx, lw)
	cancel()
	var sk skipError
	status = store.StageSucceeded
	switch {
	case err == nil:
	case errors.As(err, &sk):
		status, detail = store.StageSkipped, sk.why
		err = nil
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), errLockLost):
		status, detail = store.StageFailed, errLockLost.Error()
		err = errLockLost
	case ctx.Err() != nil:
		// The runner is stopping: leave the stage to be re-run.
		interrupted = true
		fmt.Fprintf(lw, "stage interrupted (%v); it will be re-run when the run resumes\n", ctx.Err())
		lw.Close(bg)
		_ = w.e.deps.Store.FinishStage(bg, st.ID, store.StagePending, "interrupted; will be re-run", nil)
		return nil, ctx.Err()
	case errors.Is(err, context.DeadlineExceeded) && sctx.Err() != nil:
		status, detail = store.StageFailed, fmt.Sprintf("timed out after %s", w.e.opts.StageTimeout)
		err = fmt.Errorf("%s: %s", key.Name, detail)
	default:
		status = store.StageFailed
		detail = firstLine(w.redactor.String(err.Error()))
	}
	if err != nil {
		fmt.Fprintf(lw, "error: %s\n", w.redactor.String(err.Error()))
	}
	fmt.Fprintf(lw, "stage %s: %s in %s\n", key.Name, status, time.Since(start).Round(time.Millisecond))
	lw.Close(bg)
	detail = w.redactor.String(detail) // stored, shown on the dashboard and in Slack
	if ferr := w.e.deps.Store.FinishStage(bg, st.ID, status, detail, out); ferr != nil {
		return nil, ferr
	}
	w.setStage(key, status, detail)
	w.e.deps.Observer.StageFinished(w.run.Event.Kind, key.Name, key.Env, status, time.Since(start))
	if status == store.StageFailed {
		w.failed(key, detail, lw.Tail())
	}
	return out, err
}

// skipStage marks a stage skipped without running it.
func (w *work) skipStage(ctx context.Context, key store.StageKey, why string) {
	st, ok := w.stage(key)
	if !ok || st.Status == store.StageSucceeded || st.Status == store.StageSkipped {
		return
	}
	_ = w.e.deps.Store.FinishStage(context.WithoutCancel(ctx), st.ID, store.StageSkipped, why, nil)
	w.setStage(key, store.StageSkipped, why)
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// logSink is where stage log lines go.
type logSink interface {
	AppendLog(ctx context.Context, stageID int64, lines []string) error
}

// logWriter redacts output, cuts it into lines and writes lines to the store in small batches (at most every
// flushEvery) so long output streams while the stage runs. It keeps the last lines for failure reports.
type logWriter struct {
	sink    logSink
	stageID int64
	red     *redact.Writer // redacts output on its way to the collector

	mu      sync.Mutex
	partial []byte
	pending []string
	tail    []string
	tailN   int
	wrote   bool // since the last tick
	done    chan struct{}
	wg      sync.WaitGroup
}

const flushEvery = 250 * time.Millisecond

func newLogWriter(sink logSink, stageID int64, red *redact.Redactor, tailN int) *logWriter {
	lw := &logWriter{sink: sink, stageID: stageID, tailN: tailN, done: make(chan struct{})}
	lw.red = red.Writer(collector{lw})
	lw.wg.Add(1)
	go lw.loop()
	return lw
}

func (lw *logWriter) loop() {
	defer lw.wg.Done()
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-lw.done:
			return
		case <-t.C:
			lw.mu.Lock()
			idle := !lw.wrote
			lw.wrote = false
			lw.mu.Unlock()
			if idle {
				// The redactor holds a line that might go on in the next; nothing came for a tick, so show it.
				_ = lw.red.Flush()
			}
			lw.flush(context.Background())
		}
	}
}

func (lw *logWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	lw.wrote = true
	lw.mu.Unlock()
	return lw.red.Write(p)
}

// collector receives the redacted output.
type collector struct{ lw *logWriter }

func (c collector) Write(p []byte) (int, error) {
	lw := c.lw
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.partial = append(lw.partial, p...)
	for {
		i := bytes.IndexByte(lw.partial, '\n')
		if i < 0 {
			break
		}
		lw.addLine(string(bytes.TrimRight(lw.partial[:i], "\r")))
		lw.partial = lw.partial[i+1:]
	}
	return len(p), nil
}

func (lw *logWriter) addLine(l string) {
	lw.pending = append(lw.pending, l)
	lw.tail = append(lw.tail, l)
	if len(lw.tail) > lw.tailN {
		lw.tail = lw.tail[len(lw.tail)-lw.tailN:]
	}
}

func (lw *logWriter) flush(ctx context.Context) {
	lw.mu.Lock()
	lines := lw.pending
	lw.pending = nil
	lw.mu.Unlock()
	if len(lines) > 0 {
		_ = lw.sink.AppendLog(ctx, lw.stageID, lines)
	}
}

// Close writes what is left, including a last line without newline.
func (lw *logWriter) Close(ctx context.Context) {
	close(lw.done)
	lw.wg.Wait()
	_ = lw.red.Close() // it writes to the collector, which never fails
	lw.mu.Lock()
	if len(lw.partial) > 0 {
		lw.addLine(string(lw.partial))
		lw.partial = nil
	}
	lw.mu.Unlock()
	lw.flush(ctx)
}

// Tail returns the last lines written.
func (lw *logWriter) Tail() []string {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return append([]string(nil), lw.tail...)
}
