package demo

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while the heartbeat writes.
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

func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHeartbeatSaysWhatIsStillRunningDuringSilence(t *testing.T) {
	t.Parallel()
	out := &syncBuffer{}
	p := &printer{w: out}
	h := startHeartbeat(context.Background(), p, 20*time.Millisecond, "starting the stand-ins")
	waitFor(t, out, "   ... still starting the stand-ins (")
	h.set("running dev/plan in run 1")
	waitFor(t, out, "   ... still running dev/plan in run 1 (")
	h.end()
	after := out.String()
	time.Sleep(60 * time.Millisecond)
	if out.String() != after {
		t.Errorf("the heartbeat printed after end:\n%s", strings.TrimPrefix(out.String(), after))
	}
	if !strings.Contains(after, " elapsed)\n") {
		t.Errorf("beats do not say the elapsed time:\n%s", after)
	}
}

func TestHeartbeatStaysQuietWhileTheStoryPrints(t *testing.T) {
	t.Parallel()
	out := &syncBuffer{}
	p := &printer{w: out}
	h := startHeartbeat(context.Background(), p, 200*time.Millisecond, "working")
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		p.info("stage transition")
		time.Sleep(10 * time.Millisecond)
	}
	h.end()
	if strings.Contains(out.String(), "still") {
		t.Errorf("a heartbeat interrupted a story that was printing:\n%s", out.String())
	}
}

func TestHeartbeatEndsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	h := startHeartbeat(ctx, &printer{w: &syncBuffer{}}, time.Hour, "waiting")
	cancel()
	select {
	case <-h.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the heartbeat goroutine outlived its context")
	}
	h.end() // still safe
}

func TestFinish(t *testing.T) {
	t.Parallel()
	const base = "http://127.0.0.1:4321"
	for _, tc := range []struct {
		name     string
		keep     bool
		wantLast string
		wantNot  string
	}{
		{"stopped: says how to keep the dashboard up", false,
			"   The runner has stopped. To keep its dashboard up after the story: runner demo -keep (or make demo KEEP=1)", base},
		{"kept: points at the dashboard", true, "   Dashboard: " + base + "/ (serving until interrupted: Ctrl-C)", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := &syncBuffer{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- finish(ctx, &printer{w: out}, tc.keep, base) }()
			waitFor(t, out, tc.wantLast)
			if tc.keep {
				select {
				case err := <-done:
					t.Fatalf("finish returned (%v) before the interrupt: the dashboard went down", err)
				case <-time.After(50 * time.Millisecond):
				}
				cancel() // Ctrl-C or SIGTERM after a successful story
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("finish = %v, want nil: an interrupt after success exits 0", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("finish did not return")
			}
			lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
			if last := lines[len(lines)-1]; last != tc.wantLast {
				t.Errorf("last line %q, want %q", last, tc.wantLast)
			}
			if tc.wantNot != "" && strings.Contains(out.String(), tc.wantNot) {
				t.Errorf("points at %s, which is down:\n%s", tc.wantNot, out.String())
			}
		})
	}
}
