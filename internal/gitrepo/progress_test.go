package gitrepo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
	"unicode"
)

func TestProgressFilter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		every time.Duration
		step  time.Duration // clock advance per Write
		in    []string
		want  []string
	}{
		{"each tenth of a phase and its done line", time.Hour, time.Millisecond,
			[]string{"Counting objects:   1% (1/100)\r", "Counting objects:   5% (5/100)\r", "Counting objects:  12% (12/100)\r",
				"Counting objects:  19% (19/100)\r", "Counting objects:  25% (25/100)\r", "Counting objects: 100% (100/100), done.\n"},
			[]string{"git: Counting objects: 1% (1/100)", "git: Counting objects: 12% (12/100)", "git: Counting objects: 25% (25/100)",
				"git: Counting objects: 100% (100/100), done."}},
		{"within a tenth, every few seconds", 3 * time.Second, 2 * time.Second,
			[]string{"Compressing objects:  1% (1/200)\r", "Compressing objects:  2% (2/200)\r", "Compressing objects:  3% (3/200)\r"},
			[]string{"git: Compressing objects: 1% (1/200)", "git: Compressing objects: 3% (3/200)"}},
		{"a new phase is logged at once", time.Hour, time.Millisecond,
			[]string{"Counting objects:  50% (1/2)\r", "Compressing objects:  50% (1/2)\r"},
			[]string{"git: Counting objects: 50% (1/2)", "git: Compressing objects: 50% (1/2)"}},
		{"lines split across writes; other text kept", time.Hour, time.Millisecond,
			[]string{"Enumerating obj", "ects: 5, done.\nTotal 5 (delta 0), reused 0\n"},
			[]string{"git: Enumerating objects: 5, done.", "git: Total 5 (delta 0), reused 0"}},
		{"control characters from the server are dropped", time.Hour, time.Millisecond,
			[]string{"\x1b[31mhacked\x1b[0m\x07 text\x00\n", "\r\r\n", "ok\u202e\n"},
			[]string{"git: [31mhacked[0m text", "git: ok"}},
		{"an unterminated last line is flushed", time.Hour, time.Millisecond,
			[]string{"Counting objects: 100% (3/3), done."},
			[]string{"git: Counting objects: 100% (3/3), done."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			now := time.Unix(0, 0)
			f := newProgressFilter(&out, tc.every, func() time.Time { return now })
			for _, s := range tc.in {
				now = now.Add(tc.step)
				if n, err := f.Write([]byte(s)); err != nil || n != len(s) {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			f.Flush()
			got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("logged\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestProgressFilterBoundsLongLines(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	f := newProgressFilter(&out, time.Second, nil)
	_, _ = f.Write([]byte(strings.Repeat("é", 10_000) + "\n"))
	if l := strings.TrimSuffix(out.String(), "\n"); len(l) > len("git: ")+maxProgressLine+len("...") || !strings.HasSuffix(l, "...") {
		t.Errorf("a long line was logged as %d bytes", len(l))
	}
}

// The server's text must never put a control character or a broken line into the stage log.
func FuzzProgressFilter(f *testing.F) {
	f.Add([]byte("Counting objects:  40% (8/20)\rCounting objects: 100% (20/20), done.\n"))
	f.Add([]byte("\x1b]0;title\x07\r\n\x00remote: \u202e"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		pf := newProgressFilter(&out, time.Millisecond, nil)
		_, _ = pf.Write(in)
		pf.Flush()
		for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
			if out.Len() == 0 {
				break
			}
			if !strings.HasPrefix(l, "git: ") || len(l) > len("git: ")+maxProgressLine+3 {
				t.Fatalf("bad line %q", l)
			}
			for _, r := range l {
				if unicode.IsControl(r) {
					t.Fatalf("control character %U in %q", r, l)
				}
			}
		}
	})
}

// A clone over git http-backend logs the server's progress into the stage log.
func TestSyncProgressLogsTheServersProgress(t *testing.T) {
	eachTransport(t, testSyncProgressLogsTheServersProgress)
}

func testSyncProgressLogsTheServersProgress(t *testing.T, tr Option) {
	src := newSource(t)
	buildBase(src)
	mirrors := NewMirrors(t.TempDir(), Auth{Token: testToken}, nil, tr)
	var log bytes.Buffer
	if _, err := mirrors.SyncProgress(context.Background(), src.url, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "git: Enumerating objects:") && !strings.Contains(log.String(), "git: Counting objects:") {
		t.Errorf("no progress in the log:\n%s", log.String())
	}
	if strings.ContainsAny(log.String(), "\r\x1b") {
		t.Errorf("control characters in the log: %q", log.String())
	}
}
