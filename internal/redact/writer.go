package redact

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
)

// maxLine bounds how much of an unterminated line is held; a longer one is redacted in pieces, each cut
// after a blank so that no token straddles a cut.
const maxLine = 64 << 10

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("redact: write after close")

// Writer redacts a stream of lines on their way to another writer. Each line is redacted with the line
// before it as context, so that a credential wrapped onto the next line is redacted on both. A line that
// ends as a wrapped credential would is held until the next line arrives, Flush or Close. From a private key's
// BEGIN line, every line is redacted until the END line, however many come, without holding them. Nothing
// is lost or reordered. It is safe for concurrent use.
type Writer struct {
	r *Redactor
	w io.Writer

	mu       sync.Mutex
	partial  []byte
	prev     string // the line before, as written: context for the next
	hasPrev  bool
	held     bool   // prev is not written out yet
	heldSpan []span // spans of prev found so far
	prevOut  []span // spans prev was written out with
	contKind string // the kind of a span that fills prev to its end and may go on in the next line
	prevKey  bool   // prev has an AWS access key id, whose secret key may be on the next line
	inKey    bool   // between a private key's BEGIN and END lines
	closed   bool
	err      error
	buf      []byte
}

// Writer returns a Writer that redacts what it writes to w. Close flushes it (it does not close w).
func (r *Redactor) Writer(w io.Writer) *Writer { return &Writer{r: r, w: w} }

// Write redacts the complete lines in p and passes them on; the rest waits for its newline.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	w.partial = append(w.partial, p...)
	rest := w.partial
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		w.line(string(rest[:i]), true)
		rest = rest[i+1:]
	}
	for len(rest) > maxLine {
		cut := bytes.LastIndexAny(rest[:maxLine], " \t") + 1
		if cut == 0 {
			cut = maxLine
		}
		w.line(string(rest[:cut]), false)
		rest = rest[cut:]
	}
	w.partial = append(w.partial[:0], rest...)
	return len(p), w.err
}

// Flush writes out a held line. A credential wrapped from it onto a later line is then redacted only there.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushHeld()
	return w.err
}

// Close redacts and writes what is left, a last line without newline included.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	w.closed = true
	if len(w.partial) > 0 {
		w.line(string(w.partial), false)
		w.partial = nil
	}
	w.flushHeld()
	return w.err
}

func (w *Writer) flushHeld() {
	if w.held {
		w.prevOut = merge(w.heldSpan)
		w.emit(w.prev, w.prevOut, true)
		w.held, w.heldSpan = false, nil
	}
}

// line redacts one line (nl: it ended with a newline).
func (w *Writer) line(l string, nl bool) {
	var own []span // spans of l, in its coordinates
	// The line before is context only where something can span both: a line that ends as a wrapped token
	// would, or one with an access key id.
	ctx, hasCtx := w.prev, w.hasPrev && (w.prevKey || endsJoin(w.prev))
	if w.inKey {
		end := pemEnd(l, 0)
		if end < 0 {
			w.flushHeld()
			w.prevOut = []span{{start: 0, end: len(l), kind: KindPrivateKey, cont: true}}
			w.emit(l, w.prevOut, nl)
			w.prev, w.hasPrev, w.contKind, w.prevKey = l, true, "", false
			return
		}
		own = append(own, span{start: 0, end: end, kind: KindPrivateKey, cont: true})
		w.inKey, hasCtx = false, false // the key's lines are no context
	}
	window, off := l, 0
	if hasCtx {
		window, off = ctx+"\n"+l, len(ctx)+1
	}
	var prevSpans []span
	for _, s := range w.r.find(window) {
		switch {
		case s.end <= off:
			prevSpans = append(prevSpans, s)
		case s.start < off: // wrapped from prev onto l
			if !w.held && !overlaps(w.prevOut, s.start, len(ctx)) {
				w.r.count([]span{s}) // prev went out before this showed
			}
			prevSpans = append(prevSpans, span{start: s.start, end: len(ctx), kind: s.kind, exact: s.exact})
			own = append(own, span{start: 0, end: s.end - off, kind: s.kind, open: s.open, whole: s.whole, cont: true})
		default:
			s.start, s.end = s.start-off, s.end-off
			own = append(own, s)
		}
	}
	if w.contKind != "" && hasCtx {
		if q, e := lead(l, 0); e > q {
			own = append(own, span{start: q, end: e, kind: w.contKind, cont: true})
		}
	}
	if w.held {
		w.heldSpan = append(w.heldSpan, prevSpans...)
		w.flushHeld()
	}
	own = merge(own)
	w.prev, w.hasPrev, w.contKind, w.prevKey = l, true, "", false
	body := strings.TrimSuffix(l, "\r")
	for _, s := range own {
		w.inKey = w.inKey || s.open
		w.prevKey = w.prevKey || s.kind == KindAWSKeyID
		if s.end >= len(body) && openEnded(s.kind) && !s.whole {
			w.contKind = s.kind
		}
	}
	if nl && !w.inKey && endsJoin(l) {
		w.held, w.heldSpan = true, own
		return
	}
	w.prevOut = own
	w.emit(l, own, nl)
}

func endsJoin(l string) bool {
	l = strings.TrimSuffix(l, "\r")
	return l != "" && joinChar[l[len(l)-1]]
}

func overlaps(spans []span, start, end int) bool {
	for _, s := range spans {
		if s.start < end && s.end > start {
			return true
		}
	}
	return false
}

// openEnded reports whether a shape has no fixed end, so that a wrapped line may go on with it.
func openEnded(kind string) bool {
	switch kind {
	case KindGitHubToken, KindSlackToken, KindSlackWebhook, KindJWT, KindAWSSession, KindAWSSecretKey, KindBearer,
		KindAuthorization:
		return true
	}
	return false
}

// emit writes l out with spans redacted, and counts them.
func (w *Writer) emit(l string, spans []span, nl bool) {
	if w.err != nil {
		return
	}
	if len(spans) == 0 {
		w.buf = append(w.buf[:0], l...)
		if nl {
			w.buf = append(w.buf, '\n')
		}
		_, w.err = w.w.Write(w.buf)
		return
	}
	var b strings.Builder
	render(&b, l, spans)
	if nl {
		b.WriteByte('\n')
	}
	w.r.count(spans)
	_, w.err = io.WriteString(w.w, b.String())
}
