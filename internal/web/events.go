package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gitops-runner/runner/internal/store"
)

// logEvents streams a stage's log as Server-Sent Events.
//
// Each line is one "line" event whose id is the line's sequence number and whose data is JSON
// ({"seq":N,"line":"..."}), so a line's own carriage returns cannot end the event. The stream starts
// after Last-Event-ID (an EventSource resuming) or ?after=, sends the stored lines in order, then polls
// the store for new ones; when the stage is finished and every line is sent it ends with an "end"
// event carrying the stage's status. A comment every keepAlive keeps proxies from closing an idle
// stream; after maxAge the stream closes and the browser resumes where it was.
type logEvents struct {
	st        Store
	poll      time.Duration
	keepAlive time.Duration
	maxAge    time.Duration
	batch     int
	// writeTimeout bounds each write: the server's WriteTimeout would otherwise cut every stream.
	writeTimeout time.Duration
}

func newLogEvents(st Store) logEvents {
	return logEvents{st: st, poll: 250 * time.Millisecond, keepAlive: 15 * time.Second, maxAge: 30 * time.Minute,
		batch: 500, writeTimeout: 30 * time.Second}
}

// lineEvent is the data of one line event.
type lineEvent struct {
	Seq  int64  `json:"seq"`
	Line string `json:"line"`
}

func (e logEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "stage id must be a number"})
		return
	}
	after, err := resumePoint(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return
	}
	ctx := r.Context()
	if _, err := e.st.Stage(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "no such stage"})
			return
		}
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on as they come
	w.WriteHeader(http.StatusOK)
	send := func(s string) bool {
		// Extending the deadline per write is what lets a stream outlive the server's WriteTimeout.
		_ = rc.SetWriteDeadline(time.Now().Add(e.writeTimeout))
		if _, err := io.WriteString(w, s); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("retry: 1000\n\n") {
		return
	}
	deadline := time.NewTimer(e.maxAge)
	defer deadline.Stop()
	ticker := time.NewTicker(e.poll)
	defer ticker.Stop()
	lastWrite := time.Now()
	var b strings.Builder
	for {
		// The status is read before the lines: a stage that is finished has written all its lines, so
		// when none come after it, none ever will.
		stage, err := e.st.Stage(ctx, id)
		if err != nil {
			return // the client is gone, or the store is; the browser retries
		}
		done := stageDone(stage.Status)
		if !done && (stage.Status == store.StagePending || stage.Status == store.StageWaiting) {
			// A stage that never started in a run that ended never will.
			if run, err := e.st.Run(ctx, stage.RunID, 0); err == nil && store.Finished(run.Status) {
				done = true
			}
		}
		lines, err := e.st.Log(ctx, id, after, e.batch)
		if err != nil {
			return
		}
		b.Reset()
		for _, l := range lines {
			data, _ := json.Marshal(lineEvent{Seq: l.ID, Line: l.Line})
			fmt.Fprintf(&b, "id: %d\nevent: line\ndata: %s\n\n", l.ID, data)
			after = l.ID
		}
		if b.Len() > 0 {
			if !send(b.String()) {
				return
			}
			lastWrite = time.Now()
		}
		if len(lines) == e.batch {
			continue // more are waiting
		}
		if done && len(lines) == 0 {
			data, _ := json.Marshal(map[string]string{"status": stage.Status})
			send(fmt.Sprintf("event: end\ndata: %s\n\n", data))
			return
		}
		if time.Since(lastWrite) >= e.keepAlive {
			if !send(": keep-alive\n\n") {
				return
			}
			lastWrite = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-ticker.C:
		}
	}
}

// resumePoint is the line after which a stream starts: Last-Event-ID when the browser resumes, else
// ?after=, else the start.
func resumePoint(r *http.Request) (int64, error) {
	for _, v := range []string{r.Header.Get("Last-Event-ID"), r.URL.Query().Get("after")} {
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, errors.New("Last-Event-ID and after must be a line's sequence number")
		}
		return n, nil
	}
	return 0, nil
}
