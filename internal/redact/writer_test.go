package redact

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a strings.Builder safe to read while a Writer writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

func write(t *testing.T, w *Writer, s string) {
	t.Helper()
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

// Text without credentials comes out byte for byte, however it is cut into writes: long lines, CRLF,
// lines that end like a wrapped token, no final newline.
func TestWriterLosesNothing(t *testing.T) {
	var b strings.Builder
	for i := range 2000 {
		switch i % 7 {
		case 4:
			if i%500 == 4 { // a few lines longer than the Writer holds
				b.WriteString(strings.Repeat("word ", maxLine/4) + "\n")
			}
		case 0:
			fmt.Fprintf(&b, "  # aws_instance.web[%d] will be created\n", i)
		case 1:
			b.WriteString("  + resource \"aws_instance\" \"web\" {\r\n")
		case 2:
			b.WriteString("      + ami = \"ami-0c55b159cbfafe1f0\"\n")
		case 3:
			b.WriteString("\n")
		case 5:
			b.WriteString("Still creating... [10s elapsed]\n")
		default:
			b.WriteString("    tags.Name = web-" + fmt.Sprint(i) + "\n")
		}
	}
	b.WriteString("no final newline")
	in := b.String()
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 3 {
		var out strings.Builder
		w := New(Secret{Value: configured}).Writer(&out)
		for rest := in; rest != ""; {
			n := min(len(rest), 1+rng.IntN(300<<round))
			write(t, w, rest[:n])
			rest = rest[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if out.String() != in {
			t.Fatalf("round %d: output differs from input (%d vs %d bytes)", round, out.Len(), len(in))
		}
	}
}

// Lines of a private key are redacted as they come, without waiting for the END line, and every line up to
// END is redacted: a BEGIN without END redacts to the end of the stream without holding lines back.
func TestWriterPrivateKeyStreams(t *testing.T) {
	for _, end := range []bool{true, false} {
		t.Run(fmt.Sprintf("end %t", end), func(t *testing.T) {
			var out syncBuffer
			r := New()
			w := r.Writer(&out)
			write(t, w, "before\n-----BEGIN OPENSSH PRIVATE KEY-----\n")
			for i := range 500 {
				write(t, w, fmt.Sprintf("  b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAB%04d\n", i))
				if got := strings.Count(out.String(), "\n"); got != i+3 {
					t.Fatalf("after key line %d: %d lines out, want %d (lines held back)", i, got, i+3)
				}
			}
			if end {
				write(t, w, "-----END OPENSSH PRIVATE KEY----- "+ghp+" trailing\nafter\n")
			} else {
				write(t, w, "after\n")
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if want := map[bool]int{true: 504, false: 503}[end]; len(lines) != want || lines[0] != "before" {
				t.Fatalf("%d lines, first %q", len(lines), lines[0])
			}
			for i, l := range lines[1:502] {
				if strings.TrimSpace(l) != m(KindPrivateKey) {
					t.Fatalf("line %d not redacted: %q", i+1, l)
				}
			}
			last := lines[len(lines)-2:]
			want := []string{m(KindPrivateKey) + " " + m(KindGitHubToken) + " trailing", "after"}
			if !end {
				want = []string{"  " + m(KindPrivateKey), m(KindPrivateKey)}
			}
			if strings.Join(last, "|") != strings.Join(want, "|") {
				t.Fatalf("last lines %q, want %q", last, want)
			}
			if got := r.Counts()[KindPrivateKey]; got != 1 {
				t.Errorf("%d private keys counted, want 1", got)
			}
		})
	}
}

// A line that may go on in the next is held until that line, Flush or Close.
func TestWriterHoldsAWrappableLine(t *testing.T) {
	var out syncBuffer
	w := New().Writer(&out)
	write(t, w, "done.\n")
	if out.String() != "" {
		t.Fatalf("written before the next line: %q", out.String())
	}
	write(t, w, "(next)\n")
	if out.String() != "done.\n(next)\n" {
		t.Fatalf("got %q", out.String())
	}
	write(t, w, "last line\n")
	if err := w.Flush(); err != nil || out.String() != "done.\n(next)\nlast line\n" {
		t.Fatalf("after Flush: %q, %v", out.String(), err)
	}
}

// After Flush wrote a line out, a token wrapped from it is still redacted on the next line, and counted once.
func TestWriterRedactsTheRestOfAFlushedToken(t *testing.T) {
	var out syncBuffer
	r := New()
	w := r.Writer(&out)
	write(t, w, "GH_TOKEN="+pat[:50]+"\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	write(t, w, pat[50:]+"\n}")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "GH_TOKEN=" + m(KindGitHubToken) + "\n" + m(KindGitHubToken) + "\n}"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
	if r.Total() != 1 {
		t.Errorf("counts %v, want one token", r.Counts())
	}
}

func TestWriterConcurrentWriters(t *testing.T) {
	var out syncBuffer
	r := New(Secret{Value: configured})
	w := r.Writer(&out)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				fmt.Fprintf(w, "g%d line %d %s\n", g, i, configured)
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), configured) || strings.Count(out.String(), "\n") != 400 || r.Total() != 400 {
		t.Fatalf("%d lines, %d redactions, leak %t", strings.Count(out.String(), "\n"), r.Total(), strings.Contains(out.String(), configured))
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestWriterErrors(t *testing.T) {
	boom := errors.New("disk full")
	w := New().Writer(failWriter{boom})
	if _, err := w.Write([]byte("(line)\n")); !errors.Is(err, boom) {
		t.Errorf("Write: %v, want %v", err, boom)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Errorf("Close: %v, want %v", err, boom)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}
