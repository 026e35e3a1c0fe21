package tf

import (
	"strings"
	"sync"
	"testing"
)

func TestLineWriter(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"whole lines pass through", []string{"a\nb\n"}, "a\nb\n"},
		{"partial line waits for its newline", []string{"par", "tial", " line\n"}, "partial line\n"},
		{"unterminated tail is flushed with a newline", []string{"a\nb"}, "a\nb\n"},
		{"empty lines kept", []string{"\n\n"}, "\n\n"},
		{"overlong unterminated run is written as its own line", []string{strings.Repeat("x", maxLine-1), "yy", "z\n"},
			strings.Repeat("x", maxLine-1) + "yy\nz\n"},
		// The stage log masks secrets line by line: a token must not straddle the cut.
		{"overlong run is cut after its last blank, not inside a word", []string{strings.Repeat("x", maxLine-8) + " ghp_0123", "456789abcdef rest\n"},
			strings.Repeat("x", maxLine-8) + " \nghp_0123456789abcdef rest\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			w := newLineWriter(&stageLog{w: &b})
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			w.Flush()
			if b.String() != tt.want {
				t.Errorf("got %.200q (%d bytes), want %.200q (%d bytes)", b.String(), b.Len(), tt.want, len(tt.want))
			}
		})
	}
}

// Two streams writing byte by byte into one stage log must still produce whole lines.
func TestLineWritersNeverInterleavePartialLines(t *testing.T) {
	var b strings.Builder
	log := &stageLog{w: &b}
	streams := map[string]*lineWriter{"out": newLineWriter(log), "err": newLineWriter(log)}
	var wg sync.WaitGroup
	for name, w := range streams {
		wg.Go(func() {
			for range 200 {
				for _, c := range []byte(name + "-line-content\n") {
					_, _ = w.Write([]byte{c})
				}
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 400 {
		t.Fatalf("%d lines, want 400", len(lines))
	}
	for _, l := range lines {
		if l != "out-line-content" && l != "err-line-content" {
			t.Fatalf("mixed line %q", l)
		}
	}
}
