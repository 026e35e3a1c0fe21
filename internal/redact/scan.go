package redact

import (
	"sort"
	"strings"
)

// scan is one text being searched.
type scan struct {
	text  string
	spans []span
	exact []span // configured values found, merged: shapes treat them as separators
	keyID []span // AWS access key ids found, for the secret keys next to them
}

func (s *scan) add(start, end int, kind string) {
	s.spans = append(s.spans, span{start: start, end: end, kind: kind})
}

// addWhole adds a credential of fixed length.
func (s *scan) addWhole(start, end int, kind string) {
	s.spans = append(s.spans, span{start: start, end: end, kind: kind, whole: true})
}

// each calls fn with the position of every occurrence of lit; fn returns where to look on from (past a
// match it found, so that a long run of repeats costs no more than one).
func (s *scan) each(lit string, fn func(i int) (next int)) {
	for i := 0; i < len(s.text); {
		j := strings.Index(s.text[i:], lit)
		if j < 0 {
			return
		}
		i = max(fn(i+j), i+j+1)
	}
}

// inExact reports whether byte i is part of a configured value. The output replaces those with a marker, so
// a shape must end where one starts: otherwise redacting the output again would find more.
func (s *scan) inExact(i int) bool {
	if len(s.exact) == 0 {
		return false
	}
	k := sort.Search(len(s.exact), func(k int) bool { return s.exact[k].end > i })
	return k < len(s.exact) && s.exact[k].start <= i
}

// in reports whether byte i exists, is of class c and is no part of a configured value.
func (s *scan) in(i int, c *class) bool {
	return i >= 0 && i < len(s.text) && c[s.text[i]] && !s.inExact(i)
}

// runEnd returns the end of the run of class c that starts at i.
func (s *scan) runEnd(i int, c *class) int { return s.runEndMax(i, c, len(s.text)) }

// runEndMax is runEnd for runs of at most n bytes: a longer run ends after n.
func (s *scan) runEndMax(i int, c *class, n int) int {
	for end := min(len(s.text), i+n); i < end && s.in(i, c); {
		i++
	}
	return i
}

// runStart returns the start of the run of class c that ends just before i, at most n bytes before.
func (s *scan) runStart(i int, c *class, n int) int {
	for lo := i - n; i > lo && s.in(i-1, c); {
		i--
	}
	return i
}

type class [256]bool

func newClass(ranges string) *class {
	var c class
	for i := 0; i < len(ranges); i++ {
		if i+2 < len(ranges) && ranges[i+1] == '-' {
			for b := ranges[i]; b <= ranges[i+2]; b++ {
				c[b] = true
			}
			i += 2
			continue
		}
		c[ranges[i]] = true
	}
	return &c
}

// Character classes; never modified after start-up.
var (
	alnum     = newClass("A-Za-z0-9")
	letter    = newClass("A-Za-z")
	upperNum  = newClass("A-Z0-9")
	word      = newClass("A-Za-z0-9_")
	b64       = newClass("A-Za-z0-9+/")
	b64pad    = newClass("A-Za-z0-9+/=")
	b64url    = newClass("A-Za-z0-9_-")
	slackChar = newClass("A-Za-z0-9-")
	hookChar  = newClass("A-Za-z0-9/_-")
	tokenChar = newClass("A-Za-z0-9._~+/=-")
	scheme    = newClass("A-Za-z0-9+.-")
	blank     = newClass(" \t")
	quote     = newClass("\"'\\`")
	// authority is what a URL's authority (userinfo@host:port) may hold: printable ASCII but for the
	// delimiters and what a URL does not carry raw.
	authority = func() *class {
		c := newClass("\x21-\x7e")
		for _, b := range []byte("/?#@[]\"'<>\\`{}|^") {
			c[b] = false
		}
		c['@'] = true
		return c
	}()
)
