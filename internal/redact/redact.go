// Package redact removes credentials from every text the runner shows: configured secret values (also
// base64- and URL-encoded) and credential-shaped strings, each replaced by "[redacted: <kind>]" and counted.
package redact

import (
	"slices"
	"strings"
	"sync"
)

// MinSecretLen is the shortest configured value that is redacted. Shorter values ("prod", "1234") occur in
// ordinary text, which redacting them would mangle, and are no credential anyway.
const MinSecretLen = 6

// Secret is a known secret value and the kind its redactions are shown and counted as. Each line of a
// multi-line value is a secret of its own; its base64 forms show as "<kind>-base64".
type Secret struct {
	Kind  string // e.g. "secret", "github-token"; empty means "secret"
	Value string
}

// Secrets returns values as Secrets of one kind.
func Secrets(kind string, values ...string) []Secret {
	out := make([]Secret, 0, len(values))
	for _, v := range values {
		out = append(out, Secret{Kind: kind, Value: v})
	}
	return out
}

// Redactor redacts text. It is safe for concurrent use; its only mutable state is its counts.
// A nil *Redactor still redacts credential-shaped strings, but counts nothing.
type Redactor struct {
	secrets []Secret // as given, for With
	exact   *matcher // immutable once built
	counts  *counter
}

// New returns a Redactor of the given secrets and every credential shape.
func New(secrets ...Secret) *Redactor {
	return &Redactor{secrets: slices.Clone(secrets), exact: newMatcher(secrets), counts: &counter{}}
}

// With returns a Redactor that also redacts more, e.g. one run's session credentials. It shares nothing
// mutable with r and counts its own redactions, starting at zero.
func (r *Redactor) With(more ...Secret) *Redactor {
	var all []Secret
	if r != nil {
		all = slices.Clone(r.secrets)
	}
	return New(append(all, more...)...)
}

// String returns s with every secret and credential replaced by "[redacted: <kind>]". A redaction that
// spans lines keeps the line breaks: each of its lines shows the marker (after its indentation).
func (r *Redactor) String(s string) string {
	spans := r.find(s)
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	render(&b, s, spans)
	r.count(spans)
	return b.String()
}

// Err returns err with its text redacted; errors.Is and errors.As still see err. Nil stays nil, and an error
// with nothing to redact is returned as it is.
func (r *Redactor) Err(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := r.String(msg); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Counts returns how many redactions r made, by kind.
func (r *Redactor) Counts() map[string]int {
	if r == nil {
		return map[string]int{}
	}
	r.counts.mu.Lock()
	defer r.counts.mu.Unlock()
	out := make(map[string]int, len(r.counts.n))
	for k, v := range r.counts.n {
		out[k] = v
	}
	return out
}

// Total returns how many redactions r made.
func (r *Redactor) Total() int {
	n := 0
	for _, v := range r.Counts() {
		n += v
	}
	return n
}

type counter struct {
	mu sync.Mutex
	n  map[string]int
}

// count records one redaction per span that starts here (a span continued from an earlier line was counted
// there).
func (r *Redactor) count(spans []span) {
	if r == nil {
		return
	}
	r.counts.mu.Lock()
	defer r.counts.mu.Unlock()
	for _, s := range spans {
		if s.cont {
			continue
		}
		if r.counts.n == nil {
			r.counts.n = map[string]int{}
		}
		r.counts.n[s.kind]++
	}
}

// span is a byte range of a text to redact.
type span struct {
	start, end int
	kind       string
	exact      bool // a configured value: its kind wins over a shape's for the same range
	open       bool // a private key block without its END line: it runs to the end of the text
	cont       bool // continues a span from an earlier line (Writer only): neither counted nor re-indented
	whole      bool // a credential of fixed length, complete: a wrapped line does not go on with it
}

// marker is what a redaction shows.
func marker(kind string) string { return "[redacted: " + kind + "]" }

const markerPrefix = "[redacted: "

// render writes text with its spans (sorted, apart) redacted.
func render(b *strings.Builder, text string, spans []span) {
	last := 0
	for _, s := range spans {
		b.WriteString(text[last:s.start])
		writeSpan(b, text[s.start:s.end], s.kind, s.cont)
		last = s.end
	}
	b.WriteString(text[last:])
}

// writeSpan writes the marker in place of part, once per line of part: line breaks stay, and so does the
// indentation of each line after the first (or of the first, when it continues an earlier span).
func writeSpan(b *strings.Builder, part, kind string, cont bool) {
	m := marker(kind)
	for i := 0; ; i++ {
		line, rest, more := strings.Cut(part, "\n")
		cr := strings.HasSuffix(line, "\r")
		if cr {
			line = line[:len(line)-1]
		}
		if i > 0 || cont {
			ws := len(line) - len(strings.TrimLeft(line, " \t"))
			b.WriteString(line[:ws])
			line = line[ws:]
		}
		if line != "" {
			b.WriteString(m)
		}
		if cr {
			b.WriteByte('\r')
		}
		if !more {
			return
		}
		b.WriteByte('\n')
		part = rest
	}
}

// merge sorts spans and joins overlapping ones. A joined span takes the kind of the one that starts first
// (the longest of those, a configured value before a shape).
func merge(spans []span) []span {
	if len(spans) < 2 {
		return spans
	}
	slices.SortFunc(spans, func(a, b span) int {
		switch {
		case a.start != b.start:
			return a.start - b.start
		case a.end != b.end:
			return b.end - a.end
		case rank(a) != rank(b):
			return rank(a) - rank(b)
		}
		return strings.Compare(a.kind, b.kind)
	})
	out := spans[:1]
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if s.start < last.end {
			last.end = max(last.end, s.end)
			last.open = last.open || s.open
			continue
		}
		out = append(out, s)
	}
	return out
}

// rank orders kinds for the same range: a configured value, then specific shapes, then generic ones.
func rank(s span) int {
	switch {
	case s.exact:
		return 0
	case s.kind == KindBearer || s.kind == KindAuthorization:
		return 2
	}
	return 1
}

// find returns the merged spans to redact in text: configured values, credential shapes, and both of those
// split over line breaks.
func (r *Redactor) find(text string) []span {
	var m *matcher
	if r != nil {
		m = r.exact
	}
	spans := scanText(m, text)
	spans = joinedSpans(m, text, spans)
	return merge(spans)
}

// scanText finds configured values and credential shapes in text, unmerged.
func scanText(m *matcher, text string) []span {
	s := &scan{text: text}
	m.find(text, func(start, end int, kind string) {
		s.exact = append(s.exact, span{start: start, end: end, kind: kind, exact: true, whole: true})
	})
	s.exact = dropInMarkers(text, merge(s.exact))
	s.spans = append(s.spans, s.exact...)
	for _, d := range detectors {
		d(s)
	}
	return s.spans
}

// dropInMarkers drops matches inside the markers of an earlier redaction, so that redacting twice changes
// nothing even for a configured value that is part of a marker's text.
func dropInMarkers(text string, spans []span) []span {
	if !strings.Contains(text, markerPrefix) {
		return spans
	}
	spans = merge(spans)
	out := spans[:0]
	mStart, mEnd := -1, -1 // the last marker found
	for _, s := range spans {
		for mEnd < s.end && mStart < len(text) {
			mStart, mEnd = nextMarker(text, mStart+1)
		}
		if s.start >= mStart && s.end <= mEnd {
			continue
		}
		out = append(out, s)
	}
	return out
}

// nextMarker returns the first marker at or after i, or (len(text), len(text)).
func nextMarker(text string, i int) (int, int) {
	for {
		j := strings.Index(text[i:], markerPrefix)
		if j < 0 {
			return len(text), len(text)
		}
		start := i + j
		end := start + len(markerPrefix)
		for end < len(text) && end-start < 80 && kindChar(text[end]) {
			end++
		}
		if end < len(text) && text[end] == ']' {
			return start, end + 1
		}
		i = start + 1
	}
}

func kindChar(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' }

// kindName makes a configured kind fit a marker: lower case letters, digits and dashes.
func kindName(k string) string {
	if k == "" {
		return "secret"
	}
	b := []byte(strings.ToLower(k))
	for i, c := range b {
		if !kindChar(c) {
			b[i] = '-'
		}
	}
	return string(b)
}
