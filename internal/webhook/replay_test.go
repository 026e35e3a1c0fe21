package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/webhook"
)

// storeAcceptor accepts into a real store, as the queue does, without a queue.
type storeAcceptor struct{ st *store.Store }

func (a storeAcceptor) Accept(ctx context.Context, ev event.Event) (event.Receipt, error) {
	return a.st.Accept(ctx, ev, nil)
}

func openStore(t *testing.T, opts ...store.Option) *store.Store {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func storeHandler(t *testing.T, st *store.Store, logs *syncBuffer) http.Handler {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if logs != nil {
		log = slog.New(slog.NewTextHandler(logs, nil))
	}
	h, err := webhook.New(webhook.Config{Secret: []byte(secret), AllowedRepos: []string{"*/*"}}, storeAcceptor{st}, log)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func countRuns(t *testing.T, st *store.Store) int {
	t.Helper()
	n, err := st.CountRuns(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The same signed body under a new delivery id is recognised and starts no second run.
func TestReplayUnderNewDeliveryID(t *testing.T) {
	tests := []struct {
		name, event, file string
	}{
		{"push", "push", "push.with-new-branch.json"},
		{"pull request synchronize", "pull_request", "pull_request.synchronize.json"},
		{"pull request opened", "pull_request", "pull_request.opened.json"},
		{"comment", "issue_comment", "issue_comment.created.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			logs := &syncBuffer{}
			h := storeHandler(t, st, logs)
			body := payload(t, tc.file)
			d := delivery{event: tc.event, id: "original", body: body, sig256: sign256(body, secret)}
			rec, first := send(t, h, d)
			if rec.Code != http.StatusAccepted {
				t.Fatalf("first delivery: %d %s", rec.Code, rec.Body)
			}
			d.id = "replayed"
			rec, got := send(t, h, d)
			if rec.Code != http.StatusOK || got["duplicate"] != true || got["replay"] != true || got["run"] != first["run"] {
				t.Fatalf("replay: %d %v; want 200 duplicate replay of run %v", rec.Code, got, first["run"])
			}
			if !strings.Contains(logs.String(), "replayed delivery") {
				t.Errorf("the replay was not logged:\n%s", logs)
			}
			// GitHub's own redelivery keeps the id: a duplicate, not a replay.
			d.id = "original"
			rec, got = send(t, h, d)
			if rec.Code != http.StatusOK || got["duplicate"] != true || got["replay"] != nil {
				t.Fatalf("redelivery: %d %v; want 200 duplicate", rec.Code, got)
			}
			if n := countRuns(t, st); n != 1 {
				t.Fatalf("runs = %d, want 1", n)
			}
		})
	}
}

// What makes two legitimate events distinct keeps them distinct: each starts its run.
func TestDistinctEventsAreNotReplays(t *testing.T) {
	push := payload(t, "push.with-new-branch.json")
	sync := payload(t, "pull_request.synchronize.json")
	back := setJSON(t, setJSON(t, setJSON(t, sync, "before", "ec26c3e57ca3a959ca5aad62de7213c562f8c821"),
		"after", "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"), "pull_request.updated_at", "2019-05-15T15:30:00Z")
	back = setJSON(t, back, "pull_request.head.sha", "f95f852bd8fca8fcc58a9a2d6c842781e32a215e")
	again := setJSON(t, sync, "pull_request.updated_at", "2019-05-15T15:40:00Z")
	st := openStore(t)
	h := storeHandler(t, st, nil)
	for i, d := range []delivery{
		{event: "push", body: push},
		{event: "push", body: setJSON(t, push, "repository.pushed_at", 1557940000)}, // the same move, pushed again later
		{event: "pull_request", body: sync},
		{event: "pull_request", body: back},  // force-pushed back to the earlier head
		{event: "pull_request", body: again}, // and forward again
		{event: "pull_request", body: setJSON(t, sync, "action", "ready_for_review")},
	} {
		d.id, d.sig256 = fmt.Sprintf("d-%d", i), sign256(d.body, secret)
		if rec, got := send(t, h, d); rec.Code != http.StatusAccepted {
			t.Fatalf("delivery %d: %d %v; want a new run", i, rec.Code, got)
		}
	}
}

// Once the window has passed, the same content starts a run again.
func TestReplayAfterTheWindowIsAccepted(t *testing.T) {
	st := openStore(t, store.WithReplayWindow(time.Nanosecond))
	h := storeHandler(t, st, nil)
	body := payload(t, "push.with-new-branch.json")
	for _, id := range []string{"first", "second"} {
		rec, got := send(t, h, delivery{event: "push", id: id, body: body, sig256: sign256(body, secret)})
		if rec.Code != http.StatusAccepted {
			t.Fatalf("delivery %s: %d %v; want a new run", id, rec.Code, got)
		}
	}
	if n := countRuns(t, st); n != 2 {
		t.Fatalf("runs = %d, want 2", n)
	}
}

// Twenty copies of one body arriving at once make exactly one run.
func TestConcurrentReplaysMakeOneRun(t *testing.T) {
	st := openStore(t)
	srv := httptest.NewServer(storeHandler(t, st, nil))
	defer srv.Close()
	body := payload(t, "pull_request.synchronize.json")
	const copies = 20
	type answer struct {
		code int
		body map[string]any
	}
	answers := make(chan answer, copies)
	var wg sync.WaitGroup
	for i := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", "pull_request")
			req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("copy-%d", i))
			req.Header.Set("X-Hub-Signature-256", sign256(body, secret))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var a answer
			a.code = resp.StatusCode
			_ = json.NewDecoder(resp.Body).Decode(&a.body)
			answers <- a
		}()
	}
	wg.Wait()
	close(answers)
	accepted, replays := 0, 0
	runs := map[any]bool{}
	for a := range answers {
		switch {
		case a.code == http.StatusAccepted:
			accepted++
		case a.code == http.StatusOK && a.body["replay"] == true:
			replays++
		default:
			t.Errorf("answer %d %v", a.code, a.body)
		}
		runs[a.body["run"]] = true
	}
	if accepted != 1 || replays != copies-1 || len(runs) != 1 {
		t.Fatalf("accepted %d, replays %d, runs named %v; want 1, %d, one run", accepted, replays, runs, copies-1)
	}
	if n := countRuns(t, st); n != 1 {
		t.Fatalf("runs stored = %d, want 1", n)
	}
}
