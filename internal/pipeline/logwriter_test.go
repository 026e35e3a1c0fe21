package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/redact"
)

type memSink struct {
	mu    sync.Mutex
	lines []string
}

func (m *memSink) AppendLog(_ context.Context, _ int64, lines []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lines = append(m.lines, lines...)
	return nil
}

// Stage logs are cut into whole lines, secrets are redacted before anything is
// stored, a last line without newline is kept, and the tail is bounded.
func TestLogWriter(t *testing.T) {
	const token = "ghs_0123456789abcdef"
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"whole lines", []string{"a\nb\n"}, []string{"a", "b"}},
		{"lines split across writes", []string{"hel", "lo\nwor", "ld\n"}, []string{"hello", "world"}},
		{"crlf", []string{"x\r\n"}, []string{"x"}},
		{"last line without newline", []string{"done"}, []string{"done"}},
		{"secret redacted", []string{"clone https://x-access-token:" + token + "@github.com\n"}, []string{"clone https://x-access-token:[redacted: secret]@github.com"}},
		{"secret split across writes", []string{"token=" + token[:6], token[6:] + "\n"}, []string{"token=[redacted: secret]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := &memSink{}
			lw := newLogWriter(sink, 1, redact.New(redact.Secret{Value: token}), 3)
			for _, w := range tc.writes {
				if _, err := lw.Write([]byte(w)); err != nil {
					t.Fatal(err)
				}
			}
			lw.Close(context.Background())
			if strings.Join(sink.lines, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("stored %q, want %q", sink.lines, tc.want)
			}
			for _, l := range append(sink.lines, lw.Tail()...) {
				if strings.Contains(l, token) {
					t.Fatalf("secret leaked: %q", l)
				}
			}
		})
	}
	t.Run("tail keeps the last lines", func(t *testing.T) {
		lw := newLogWriter(&memSink{}, 1, redact.New(), 3)
		for i := range 10 {
			fmt.Fprintf(lw, "line %d\n", i)
		}
		lw.Close(context.Background())
		if got := strings.Join(lw.Tail(), ","); got != "line 7,line 8,line 9" {
			t.Fatalf("tail = %s", got)
		}
	})
}

// The redactor holds back a line that may go on in the next (a wrapped token); when no more output comes, the
// line still shows within a tick or two, while the stage runs.
func TestLogWriterShowsAHeldLineWhenOutputPauses(t *testing.T) {
	sink := &memSink{}
	lw := newLogWriter(sink, 1, redact.New(), 3)
	defer lw.Close(context.Background())
	fmt.Fprint(lw, "Acquiring state lock. This may take a few moments...\n")
	deadline := time.Now().Add(5 * time.Second)
	for {
		sink.mu.Lock()
		n := len(sink.lines)
		sink.mu.Unlock()
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("held line never stored while output paused")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
