package redact

import "strings"

// Credentials wrapped over lines (terminals, base64 -w76, log formatters): where a line ends with a token
// character and the next line goes on with one after its indentation, the lines are joined and scanned again,
// and what crosses a join is redacted on both lines. A credential at the very end of a line thus also takes
// the first word of the next line when that could continue it: safe, if not pretty.

const (
	joinBefore = 80       // bytes before the first line's last run: context such as a key name
	joinAfter  = 64       // bytes after the last line's first run: context such as a URL's host
	maxRun     = 4 << 10  // of a run at either end of a joined window
	maxWindow  = 16 << 10 // bytes of one joined window; a longer wrapped run makes windows that overlap
)

// joinChar continues a token across a line break.
var joinChar = newClass("A-Za-z0-9_+/=.%-")

// piece is a part of the text copied into a joined window at offset at.
type piece struct{ start, end, at int }

// joinedSpans adds to spans what only shows once wrapped lines are joined.
func joinedSpans(m *matcher, text string, spans []span) []span {
	var pieces []piece
	for i := 0; ; {
		k := strings.IndexByte(text[i:], '\n')
		if k < 0 {
			return spans
		}
		nl := i + k
		if !isJoin(text, nl) {
			i = nl + 1
			continue
		}
		pieces, i = joinPieces(text, nl, pieces[:0])
		spans = scanJoined(m, text, pieces, spans)
	}
}

// isJoin reports whether the line break at nl may split a token.
func isJoin(t string, nl int) bool {
	e := nl
	if e > 0 && t[e-1] == '\r' {
		e--
	}
	if e == 0 || !joinChar[t[e-1]] {
		return false
	}
	start, end := lead(t, nl+1)
	return end > start
}

// lead returns the run of join characters that starts the line at i, after its indentation; none when the
// line starts with a diff or list marker ("+ ", "- "), as plans and logs start so many lines with.
func lead(t string, i int) (start, end int) {
	for i < len(t) && blank[t[i]] {
		i++
	}
	if i+1 < len(t) && (t[i] == '+' || t[i] == '-') && blank[t[i+1]] {
		return i, i
	}
	end = i
	for end < len(t) && joinChar[t[end]] {
		end++
	}
	return i, end
}

// joinPieces collects the window of the join at nl: the end of its line, then the leading run of each next
// line while that run fills its line and joins the next. It returns where to look for joins on from: the
// last line, or, when the window was full, its middle line, so that windows overlap by half.
func joinPieces(t string, nl int, pieces []piece) ([]piece, int) {
	lineStart := strings.LastIndexByte(t[:nl], '\n') + 1
	e := nl
	if e > lineStart && t[e-1] == '\r' {
		e--
	}
	run := e
	for run > lineStart && joinChar[t[run-1]] && e-run < maxRun {
		run--
	}
	pieces = append(pieces, piece{start: max(lineStart, run-joinBefore), end: e})
	size := e - pieces[0].start
	for {
		q := nl + 1
		for q < len(t) && blank[t[q]] {
			q++
		}
		qe := q
		for qe < len(t) && joinChar[t[qe]] && qe-q < maxRun {
			qe++
		}
		next := strings.IndexByte(t[q:], '\n')
		le := len(t)
		if next >= 0 {
			next += q
			le = next
			if le > q && t[le-1] == '\r' {
				le--
			}
		}
		size += qe - q
		if next >= 0 && qe == le && isJoin(t, next) {
			if size < maxWindow {
				pieces = append(pieces, piece{start: q, end: qe})
				nl = next
				continue
			}
			// Full: the next window starts at the middle line of this one.
			h := 1
			for rest := size; h < len(pieces)-1 && rest > maxWindow/2; h++ {
				rest -= pieces[h].end - pieces[h].start
			}
			pieces = append(pieces, piece{start: q, end: qe})
			return pieces, strings.LastIndexByte(t[:pieces[h].start], '\n') + 1
		}
		pieces = append(pieces, piece{start: q, end: min(le, qe+joinAfter)})
		return pieces, nl + 1
	}
}

// scanJoined scans the joined window of pieces and adds the spans that cross a join, mapped onto text.
func scanJoined(m *matcher, text string, pieces []piece, spans []span) []span {
	var b strings.Builder
	for i := range pieces {
		pieces[i].at = b.Len()
		b.WriteString(text[pieces[i].start:pieces[i].end])
	}
	window := b.String()
	toText := func(off int) int {
		j := len(pieces) - 1
		for j > 0 && pieces[j].at > off {
			j--
		}
		return pieces[j].start + off - pieces[j].at
	}
	for _, s := range scanText(m, window) {
		if s.open {
			continue // a key block's BEGIN is found in the text itself
		}
		for _, p := range pieces[1:] {
			if s.start < p.at && s.end > p.at {
				s.start, s.end = toText(s.start), toText(s.end-1)+1
				spans = append(spans, s)
				break
			}
		}
	}
	return spans
}
