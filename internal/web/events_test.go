package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
)

// sse is one Server-Sent Event as read from a stream.
type sse struct {
	ID, Event, Data string
}

// readEvents reads a stream's events until it ends (the server closes it after "end").
func readEvents(t *testing.T, body io.Reader) []sse {
	t.Helper()
	var (
		out []sse
		cur sse
	)
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur != (sse{}) {
				out = append(out, cur)
			}
			cur = sse{}
		case strings.HasPrefix(line, "id: "):
			cur.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.Data = strings.TrimPrefix(line, "data: ")
		}
	}
	return out
}

// stream opens a stage's event stream with an optional Last-Event-ID.
func stream(t *testing.T, url, lastEventID string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// lines decodes the line events, checking that each event's id is its line's sequence number.
func lines(t *testing.T, events []sse) (texts []string, seqs []int64, end string) {
	t.Helper()
	for _, e := range events {
		switch e.Event {
		case "line":
			var l struct {
				Seq  int64  `json:"seq"`
				Line string `json:"line"`
			}
			if err := json.Unmarshal([]byte(e.Data), &l); err != nil {
				t.Fatalf("line data %q: %v", e.Data, err)
			}
			if e.ID != strconv.FormatInt(l.Seq, 10) {
				t.Errorf("event id %q, line seq %d", e.ID, l.Seq)
			}
			texts, seqs = append(texts, l.Line), append(seqs, l.Seq)
		case "end":
			var d struct{ Status string }
			if err := json.Unmarshal([]byte(e.Data), &d); err != nil {
				t.Fatalf("end data %q: %v", e.Data, err)
			}
			end = d.Status
		}
	}
	return texts, seqs, end
}

func finishedStage(t *testing.T, f *fixture, logLines []string) (stageID int64, seqs []int64) {
	t.Helper()
	ctx := context.Background()
	run := f.accept(t, "d-events", "acme/infra")
	stages, err := f.store.EnsureStages(ctx, run, []store.StageKey{{Env: "dev", Name: "apply"}})
	if err != nil {
		t.Fatal(err)
	}
	id := stages[0].ID
	if err := f.store.StartStage(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := f.store.AppendLog(ctx, id, logLines); err != nil {
		t.Fatal(err)
	}
	if err := f.store.FinishStage(ctx, id, store.StageFailed, "", nil); err != nil {
		t.Fatal(err)
	}
	stored, err := f.store.Log(ctx, id, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range stored {
		seqs = append(seqs, l.ID)
	}
	return id, seqs
}

// A finished stage's stream sends the lines after the resume point, in order, each once, then "end".
func TestLogEventsResume(t *testing.T) {
	f := newFixture(t)
	logLines := []string{"one", "two\r\ndata: forged", "<script>three</script>"}
	id, seqs := finishedStage(t, f, logLines)
	base := fmt.Sprintf("%s/api/stages/%d/events", f.url, id)
	for _, tc := range []struct {
		name, query, lastEventID string
		want                     []string
	}{
		{name: "from the start", want: logLines},
		{name: "after Last-Event-ID", lastEventID: fmt.Sprint(seqs[0]), want: logLines[1:]},
		{name: "after ?after=", query: fmt.Sprintf("?after=%d", seqs[1]), want: logLines[2:]},
		{name: "Last-Event-ID over ?after=", query: "?after=0", lastEventID: fmt.Sprint(seqs[1]), want: logLines[2:]},
		{name: "after the last line", lastEventID: fmt.Sprint(seqs[2]), want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := stream(t, base+tc.query, tc.lastEventID)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			texts, _, end := lines(t, readEvents(t, resp.Body))
			if fmt.Sprint(texts) != fmt.Sprint(tc.want) {
				t.Errorf("lines = %q, want %q", texts, tc.want)
			}
			if end != store.StageFailed {
				t.Errorf("end status = %q, want %q", end, store.StageFailed)
			}
		})
	}
}

func TestLogEventsRefuses(t *testing.T) {
	f := newFixture(t)
	id, _ := finishedStage(t, f, []string{"x"})
	for _, tc := range []struct {
		name, path, lastEventID string
		want                    int
	}{
		{name: "no such stage", path: "/api/stages/999/events", want: http.StatusNotFound},
		{name: "a stage id that is no number", path: "/api/stages/x/events", want: http.StatusBadRequest},
		{name: "a Last-Event-ID that is no number", path: fmt.Sprintf("/api/stages/%d/events", id), lastEventID: "abc", want: http.StatusBadRequest},
		{name: "a negative after", path: fmt.Sprintf("/api/stages/%d/events?after=-1", id), want: http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := stream(t, f.url+tc.path, tc.lastEventID).StatusCode; got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
		})
	}
}

// A running stage's stream follows lines as they are written, and ends when the stage finishes.
func TestLogEventsFollow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec, err := f.store.Accept(ctx, event.Event{DeliveryID: "d-follow", Name: "push", Kind: event.KindDeploy, Repo: "acme/infra"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stages, err := f.store.EnsureStages(ctx, rec.Run, []store.StageKey{{Env: "dev", Name: "apply"}})
	if err != nil {
		t.Fatal(err)
	}
	id := stages[0].ID
	if err := f.store.StartStage(ctx, id); err != nil {
		t.Fatal(err)
	}
	resp := stream(t, fmt.Sprintf("%s/api/stages/%d/events", f.url, id), "")
	const total, batch = 1200, 100
	writeErr := make(chan error, 1)
	go func() {
		for i := 0; i < total; i += batch {
			var ls []string
			for j := i; j < i+batch; j++ {
				ls = append(ls, fmt.Sprintf("line %d", j))
			}
			if err := f.store.AppendLog(ctx, id, ls); err != nil {
				writeErr <- err
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		writeErr <- f.store.FinishStage(ctx, id, store.StageSucceeded, "", nil)
	}()
	texts, seqs, end := lines(t, readEvents(t, resp.Body))
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	if len(texts) != total {
		t.Fatalf("got %d lines, want %d", len(texts), total)
	}
	for i, l := range texts {
		if l != fmt.Sprintf("line %d", i) || (i > 0 && seqs[i] <= seqs[i-1]) {
			t.Fatalf("line %d is %q (seq %d after %d)", i, l, seqs[i], seqs[max(i-1, 0)])
		}
	}
	if end != store.StageSucceeded {
		t.Errorf("end status = %q", end)
	}
}

// A stage that never started, in a run that ended, ends its stream rather than waiting for ever.
func TestLogEventsEndForAStageThatNeverRuns(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	run := f.accept(t, "d-never", "acme/infra")
	stages, err := f.store.EnsureStages(ctx, run, []store.StageKey{{Env: "prod", Name: "apply"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.FinishRun(ctx, run, store.StatusFailed, "plan failed"); err != nil {
		t.Fatal(err)
	}
	resp := stream(t, fmt.Sprintf("%s/api/stages/%d/events", f.url, stages[0].ID), "")
	if _, _, end := lines(t, readEvents(t, resp.Body)); end != store.StagePending {
		t.Errorf("end status = %q, want %q", end, store.StagePending)
	}
}
