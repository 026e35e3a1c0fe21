package tf

import (
	"bytes"
	"io"
	"sync"
)

// maxLine bounds how much of an unterminated line is held back; a longer run is written as its own line,
// cut after its last blank.
const maxLine = 64 << 10

// stageLog serialises whole lines from several streams (Terraform's stdout and stderr) into one writer,
// so that a reader of the stage log never sees two streams' partial lines mixed together.
type stageLog struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *stageLog) writeLine(p []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.Write(p) // a broken stage log must not fail the Terraform command
}

// lineWriter buffers one stream and hands complete lines to the stage log as soon as their newline
// arrives.
type lineWriter struct {
	mu      sync.Mutex
	log     *stageLog
	buf     []byte
	observe func([]byte) // sees each line after the stage log got it (apply progress); may be nil
}

// setObserver makes f see each line from now on (nil: none).
func (w *lineWriter) setObserver(f func([]byte)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.observe = f
}

func newLineWriter(l *stageLog) *lineWriter { return &lineWriter{log: l} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			if len(w.buf) >= maxLine {
				// Cut after the last blank: the stage log masks secrets line by line, so a word (a token)
				// must not straddle the cut. A run without blanks is written whole.
				cut := bytes.LastIndexAny(w.buf, " \t") + 1
				if cut == 0 {
					cut = len(w.buf)
				}
				rest := bytes.Clone(w.buf[cut:])
				w.emit(append(w.buf[:cut], '\n'))
				w.buf = append(w.buf, rest...)
			}
			break
		}
		if len(w.buf) == 0 {
			w.emit(p[:i+1])
		} else {
			w.emit(append(w.buf, p[:i+1]...))
		}
		p = p[i+1:]
	}
	return n, nil
}

// Flush writes a trailing unterminated line, ending it with a newline.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(append(w.buf, '\n'))
	}
}

func (w *lineWriter) emit(line []byte) {
	w.log.writeLine(line)
	if w.observe != nil {
		w.observe(line)
	}
	w.buf = w.buf[:0]
}
