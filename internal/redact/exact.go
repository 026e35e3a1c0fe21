package redact

import (
	"encoding/base64"
	"net/url"
	"strings"
)

// minBase64 is the shortest base64 form of a secret that is looked for; shorter ones could be ordinary text.
const minBase64 = 8

// needle is one exact byte string to redact.
type needle struct {
	value, kind string
}

// matcher finds many needles in one pass: it keeps the last k bytes of the text as a number, and only where
// a bit filter over their hash says some needle may start there does it compare needles.
type matcher struct {
	needles []needle
	k       int                // bytes of the rolling key: the shortest needle's length, at most 8
	first   map[uint64][]int32 // needles by their first k bytes
	filter  []uint64           // bit set over hash(first k bytes)
}

const filterBits = 14

// newMatcher prepares the needles of secrets: each value (each line of a multi-line value), its URL-encoded
// forms and its base64 forms. A value within a larger base64 blob is encoded one of three ways, depending on
// its offset mod 3; each way's characters that depend on the value alone are a needle.
func newMatcher(secrets []Secret) *matcher {
	m := &matcher{first: map[uint64][]int32{}, filter: make([]uint64, 1<<filterBits/64)}
	seen := map[string]bool{}
	add := func(v, kind string) {
		if !seen[v] {
			seen[v] = true
			m.needles = append(m.needles, needle{v, kind})
		}
	}
	var values []needle
	for _, s := range secrets {
		for line := range strings.Lines(s.Value) {
			if v := strings.TrimSpace(line); len(v) >= MinSecretLen {
				values = append(values, needle{v, kindName(s.Kind)})
			}
		}
	}
	// Plain values first: a value that is also another's encoding keeps its own kind.
	for _, v := range values {
		add(v.value, v.kind)
	}
	for _, v := range values {
		add(url.QueryEscape(v.value), v.kind)
		add(url.PathEscape(v.value), v.kind)
		for _, b := range base64Forms(v.value) {
			add(b, v.kind+"-base64")
		}
	}
	if len(m.needles) == 0 {
		return nil
	}
	m.k = 8
	for _, n := range m.needles {
		m.k = min(m.k, len(n.value))
	}
	for i, n := range m.needles {
		key := pack(n.value[:m.k])
		m.first[key] = append(m.first[key], int32(i))
		h := hash(key)
		m.filter[h/64] |= 1 << (h % 64)
	}
	return m
}

func pack(s string) uint64 {
	var x uint64
	for i := 0; i < len(s); i++ {
		x = x<<8 | uint64(s[i])
	}
	return x
}

func hash(key uint64) uint64 { return (key * 0x9E3779B97F4A7C15) >> (64 - filterBits) }

// find calls add for every occurrence of every needle, overlapping ones included.
func (m *matcher) find(text string, add func(start, end int, kind string)) {
	if m == nil || len(text) < m.k {
		return
	}
	mask := ^uint64(0)
	if m.k < 8 {
		mask = 1<<(8*m.k) - 1
	}
	var x uint64
	for i := 0; i < len(text); i++ {
		x = x<<8 | uint64(text[i])
		if i+1 < m.k {
			continue
		}
		key := x & mask
		h := hash(key)
		if m.filter[h/64]&(1<<(h%64)) == 0 {
			continue
		}
		start := i + 1 - m.k
		for _, ni := range m.first[key] {
			if n := m.needles[ni]; strings.HasPrefix(text[start:], n.value) {
				add(start, start+len(n.value), n.kind)
			}
		}
	}
}

// base64Forms returns, for each offset of v mod 3 within a base64-encoded blob, the characters of the
// encoding that depend on v alone (in the standard and the URL alphabet), when long enough to be unambiguous.
func base64Forms(v string) []string {
	var out []string
	for off := range 3 {
		buf := make([]byte, off+len(v)+2)
		copy(buf[off:], v)
		enc := base64.StdEncoding.EncodeToString(buf)
		// Character k carries bits [6k, 6k+6); v has bits [8off, 8(off+len)).
		from, to := (8*off+5)/6, 8*(off+len(v))/6
		if to-from < minBase64 {
			continue
		}
		s := enc[from:to]
		out = append(out, s)
		if u := strings.NewReplacer("+", "-", "/", "_").Replace(s); u != s {
			out = append(out, u)
		}
	}
	return out
}
