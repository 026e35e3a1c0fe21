package gitrepo

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// maxProgressLine bounds one line of the server's progress text kept for the log.
const maxProgressLine = 200

// percentLine is a progress report of git's: "Compressing objects:  45% (9/20)" and the final
// "Counting objects: 100% (20/20), done.".
var percentLine = regexp.MustCompile(`^([A-Za-z][A-Za-z ]{0,40}):\s+(\d{1,3})% \((\d+)/(\d+)\)`)

// progressFilter turns the sideband progress text a Git server sends during a fetch into a few lines of
// the stage log: "git: Counting objects: 40% (8/20)" at most every `every` or each tenth per phase,
// and every line that is not a percentage (the "done." of a phase, "Enumerating objects: 5, done.").
// The text is the server's, so untrusted: control characters (carriage returns, escape sequences)
// are dropped and lines are cut to maxProgressLine.
type progressFilter struct {
	mu    sync.Mutex
	w     io.Writer
	every time.Duration
	now   func() time.Time
	buf   []byte
	phase string // the phase of the last percentage line seen
	tens  int    // its last reported tenth
	last  time.Time
}

func newProgressFilter(w io.Writer, every time.Duration, now func() time.Time) *progressFilter {
	if now == nil {
		now = time.Now
	}
	return &progressFilter{w: w, every: every, now: now, tens: -1}
}

// Write takes sideband text: lines end with "\n", or with "\r" where git redraws a percentage.
func (f *progressFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range p {
		if b == '\n' || b == '\r' {
			f.line(string(f.buf))
			f.buf = f.buf[:0]
			continue
		}
		if len(f.buf) < 4*maxProgressLine {
			f.buf = append(f.buf, b)
		}
	}
	return len(p), nil
}

// Flush logs an unterminated last line.
func (f *progressFilter) Flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.buf) > 0 {
		f.line(string(f.buf))
		f.buf = f.buf[:0]
	}
}

func (f *progressFilter) line(raw string) {
	l := strings.TrimPrefix(sanitize(raw), "remote: ") // the git CLI's prefix to the server's lines
	if l == "" {
		return
	}
	now := f.now()
	if m := percentLine.FindStringSubmatch(l); m != nil && !strings.HasSuffix(l, "done.") {
		pct, _ := strconv.Atoi(m[2])
		tens := pct / 10
		if m[1] == f.phase && tens <= f.tens && now.Sub(f.last) < f.every {
			return
		}
		f.phase, f.tens = m[1], tens
	} else {
		f.phase, f.tens = "", -1
	}
	f.last = now
	fmt.Fprintf(f.w, "git: %s\n", l)
}

// sanitize drops control and other non-printing characters (the server's escape sequences among
// them), collapses blanks and bounds the length.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if unicode.IsControl(r) || !unicode.IsPrint(r) && r != ' ' || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ") // git pads percentages for redrawing in place
	if len(s) > maxProgressLine {
		s = strings.ToValidUTF8(s[:maxProgressLine], "") + "..."
	}
	return s
}
