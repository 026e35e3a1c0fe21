package tf

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds on what ParseDiagnostics keeps: Terraform's output is as long as the configuration is broken.
const (
	maxDiagnostics     = 100
	maxDiagnosticBytes = 4 << 10 // of one Detail
)

// Diagnostic is one error or warning Terraform reported, with where, when it said.
type Diagnostic struct {
	Severity string // error or warning
	Summary  string
	Detail   string
	// File is the file as Terraform printed it, relative to the root module's directory
	// ("modules/net/main.tf"); empty, and Line 0, when Terraform named no place.
	File string
	Line int
}

var (
	// ansiCodes are the colour and style sequences Terraform writes unless run with -no-color.
	ansiCodes = regexp.MustCompile("\x1b\\[[0-9;?]*[ -/]*[@-~]")
	// diagHeader is the first line of a diagnostic.
	diagHeader = regexp.MustCompile(`^(Error|Warning): *(.*)$`)
	// diagSubject is where a diagnostic is: "on main.tf line 12, in resource "x" "y":" or "on main.tf line 5:".
	// The file is taken greedily, so a path with spaces (or with " line " in it) stays whole.
	diagSubject = regexp.MustCompile(`^\s*on (.+) line ([0-9]+)(?:, in .*)?:\s*$`)
)

// ParseDiagnostics reads the diagnostics out of Terraform's human-readable output (what terraform-exec returns
// as an error: the CLI's stderr), with or without colour and the box drawn around each diagnostic. Lines it
// does not understand are skipped; it never fails. It keeps at most 100 diagnostics and 4 KiB of each Detail.
// Without the box (-no-color), text printed after the last diagnostic may end up in its Detail.
func ParseDiagnostics(text string) []Diagnostic {
	text = ansiCodes.ReplaceAllString(strings.ToValidUTF8(text, "\uFFFD"), "")
	var out []Diagnostic
	var cur *diagBuilder
	flush := func() {
		if cur != nil {
			out = append(out, cur.done())
			cur = nil
		}
	}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		line, boxEdge := unbox(line)
		if boxEdge {
			flush()
			if len(out) >= maxDiagnostics {
				break
			}
			continue
		}
		if m := diagHeader.FindStringSubmatch(line); m != nil {
			flush()
			if len(out) >= maxDiagnostics {
				break
			}
			cur = &diagBuilder{d: Diagnostic{Severity: strings.ToLower(m[1]), Summary: strings.TrimSpace(m[2])}}
			continue
		}
		if cur == nil {
			continue
		}
		if isRule(line) { // the rule Terraform draws under a plan ends a boxless diagnostic too
			flush()
			continue
		}
		cur.add(line)
	}
	flush()
	if len(out) > maxDiagnostics {
		out = out[:maxDiagnostics]
	}
	return out
}

// unbox strips the box Terraform draws around a diagnostic: "╷" opens it, "│ " starts each line inside, "╵"
// closes it. It reports whether line was an opening or closing edge. Only column 0 counts: the source snippet's
// "├──" and "│ var.x is ..." lines are indented.
func unbox(line string) (string, bool) {
	if t := strings.TrimSpace(line); t == "╷" || t == "╵" {
		return "", true
	}
	if rest, ok := strings.CutPrefix(line, "│"); ok {
		return strings.TrimPrefix(rest, " "), false
	}
	return line, false
}

// isRule reports a line drawn of "─" only.
func isRule(line string) bool {
	t := strings.TrimSpace(line)
	return t != "" && strings.Trim(t, "─") == ""
}

// diagBuilder gathers one diagnostic's lines: first its place and source snippet, then the detail.
type diagBuilder struct {
	d       Diagnostic
	started bool // a non-blank line after the header was seen
	snippet bool // inside the source snippet that follows "on FILE line N"
	detail  []string
	size    int
}

func (b *diagBuilder) add(line string) {
	blank := strings.TrimSpace(line) == ""
	if !b.started {
		if blank {
			return
		}
		b.started = true
		if m := diagSubject.FindStringSubmatch(line); m != nil {
			file := strings.TrimSpace(m[1])
			if n, err := strconv.Atoi(m[2]); err == nil && n > 0 && file != "" {
				b.d.File, b.d.Line = file, n
				b.snippet = true
				return
			}
		}
	}
	if b.snippet {
		if blank {
			b.snippet = false
		}
		return
	}
	if b.size > maxDiagnosticBytes {
		return
	}
	b.detail = append(b.detail, strings.TrimRight(line, " \t"))
	b.size += len(line) + 1
}

func (b *diagBuilder) done() Diagnostic {
	b.d.Detail = strings.Trim(strings.Join(b.detail, "\n"), "\n")
	if len(b.d.Detail) > maxDiagnosticBytes {
		b.d.Detail = cutUTF8(b.d.Detail, maxDiagnosticBytes-len("…")) + "…"
	}
	return b.d
}

// cutUTF8 is the longest prefix of s of at most n bytes that ends on a rune boundary.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
