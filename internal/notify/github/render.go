package github

import (
	"bytes"
	"embed"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"unicode/utf8"
)

// MaxCommentLength is GitHub's limit on a comment body. GitHub counts characters; the runner budgets bytes,
// which are never fewer, so a rendered comment always fits.
const MaxCommentLength = 65536

// maxSummaryLength keeps room for plan output in part 1 however long a summary gets.
const maxSummaryLength = 16 << 10

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"sub": func(a, b int) int { return a - b },
}).ParseFS(templateFS, "templates/*.tmpl"))

var (
	envPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")
)

func planMarker(env string, part int) string {
	return fmt.Sprintf("<!-- gitops-runner:plan env=%s part=%d -->", env, part)
}

// parsePlanMarker returns the part number when body starts with env's plan marker.
func parsePlanMarker(body, env string) (int, bool) {
	rest, ok := strings.CutPrefix(body, "<!-- gitops-runner:plan env="+env+" part=")
	if !ok {
		return 0, false
	}
	var part int
	if _, err := fmt.Sscanf(rest, "%d -->", &part); err != nil || part < 1 {
		return 0, false
	}
	return part, true
}

func deployMarker(sha string) string {
	return fmt.Sprintf("<!-- gitops-runner:deploy sha=%s -->", sha)
}

type planPart struct {
	Marker, Env, Summary string
	Part, Parts          int
	Empty                bool
	Fence, Chunk         string
}

func execute(name string, data any) string {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		panic(fmt.Sprintf("template %s: %v", name, err)) // the templates are embedded: a failure is a bug
	}
	return b.String()
}

// renderPlan renders env's plan comment bodies, each at most limit bytes: part 1 carries the summary, and plan
// text that does not fit is cut at line boundaries (a line longer than a part is itself cut) into numbered
// continuation parts. Every part has its own fence, longer than any backtick run in the plan, so each part's
// Markdown stays balanced.
func renderPlan(env, summary, plan string, limit int) ([]string, error) {
	summary = strings.ToValidUTF8(strings.TrimSpace(summary), "\uFFFD")
	truncated := len(summary) > maxSummaryLength
	if truncated {
		summary = cutBytes(summary, maxSummaryLength)
	}
	// A fence the summary leaves open (cut above, or so given) would swallow the plan block after it.
	if f := unclosedFence(summary); f != "" {
		summary += "\n" + f
	}
	if truncated {
		summary += "\n\n_(summary truncated)_"
	}
	// Invalid UTF-8 would be re-encoded (and grow) on its way to JSON: replace it first so budgets hold.
	plan = strings.TrimRight(ansiEscape.ReplaceAllString(strings.ToValidUTF8(plan, "\uFFFD"), ""), "\n")
	fence := fenceFor(plan)
	render := func(part, parts int, chunk string, empty bool) string {
		p := planPart{Marker: planMarker(env, part), Env: env, Part: part, Parts: parts, Empty: empty, Fence: fence, Chunk: chunk}
		if part == 1 {
			p.Summary = summary
		}
		return execute("plan.md.tmpl", p)
	}
	if plan == "" {
		return []string{render(1, 1, "", true)}, nil
	}
	if one := render(1, 1, plan, false); len(one) <= limit {
		return []string{one}, nil
	}
	// The header says "part i of n", so the overhead depends on n: grow n until the split agrees with it.
	for parts := 2; parts < 10000; {
		budget := func(part int) int { return limit - len(render(part, parts, "", false)) }
		chunks, err := splitLines(plan, budget)
		if err != nil {
			return nil, err
		}
		if len(chunks) > parts {
			parts = len(chunks)
			continue
		}
		out := make([]string, len(chunks))
		for i, c := range chunks {
			out[i] = render(i+1, len(chunks), c, false)
			if len(out[i]) > limit {
				return nil, fmt.Errorf("plan comment part %d is %d bytes, over %d", i+1, len(out[i]), limit)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("plan output too large to split")
}

// splitLines packs lines into chunks no longer than budget(chunk number) bytes, joined by "\n".
func splitLines(text string, budget func(part int) int) ([]string, error) {
	var chunks []string
	var cur strings.Builder
	has := false
	b := budget(1)
	flush := func() {
		chunks = append(chunks, cur.String())
		cur.Reset()
		has = false
		b = budget(len(chunks) + 1)
	}
	for _, line := range strings.Split(text, "\n") {
		for {
			if b < 64 {
				return nil, fmt.Errorf("no room for plan output in a comment (budget %d bytes)", b)
			}
			need := len(line)
			if has {
				need++
			}
			if cur.Len()+need <= b {
				if has {
					cur.WriteByte('\n')
				}
				cur.WriteString(line)
				has = true
				break
			}
			if has {
				flush()
				continue
			}
			head := cutBytes(line, b)
			cur.WriteString(head)
			has = true
			line = line[len(head):]
			flush()
		}
	}
	if has {
		flush()
	}
	return chunks, nil
}

// cutBytes returns the longest prefix of s of at most n bytes that ends on a rune boundary.
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	if i == 0 { // not UTF-8 after all: cut at n rather than return nothing
		return s[:n]
	}
	return s[:i]
}

// fenceFor returns a backtick fence longer than any backtick run in text (at least three).
func fenceFor(text string) string {
	longest, run := 0, 0
	for i := 0; i < len(text); i++ {
		if text[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// unclosedFence returns the backtick fence left open at the end of Markdown text, or "" when none is: an
// opening fence is three or more backticks after at most three spaces, closed by a run at least as long with
// nothing after it.
func unclosedFence(text string) string {
	open := ""
	for _, line := range strings.Split(text, "\n") {
		trim := strings.TrimLeft(line, " ")
		if len(line)-len(trim) > 3 {
			continue
		}
		n := len(trim) - len(strings.TrimLeft(trim, "`"))
		switch {
		case n < 3:
		case open == "" && !strings.Contains(trim[n:], "`"):
			open = trim[:n]
		case open != "" && n >= len(open) && strings.TrimSpace(trim[n:]) == "":
			open = ""
		}
	}
	return open
}

// renderDeploy renders the sticky deploy comment for sha, cutting body to fit and closing an open fence.
func renderDeploy(sha, body string, limit int) string {
	marker := deployMarker(sha)
	body = strings.ToValidUTF8(body, "\uFFFD")
	out := execute("deploy.md.tmpl", struct{ Marker, Body string }{marker, body})
	if len(out) <= limit {
		return out
	}
	const note = "\n\n_(truncated)_"
	overhead := len(out) - len(body) + len(note) + len("\n```\n") + 16
	body = cutBytes(body, limit-overhead)
	if openFence(body) {
		body += "\n```"
	}
	return execute("deploy.md.tmpl", struct{ Marker, Body string }{marker, body + note})
}

// openFence reports whether text ends inside a ``` code block.
func openFence(text string) bool {
	open := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			open = !open
		}
	}
	return open
}

// cutMarkdown fits Markdown text into limit bytes: unchanged when it fits, else cut on a rune boundary, with a
// code fence the cut left open closed and a note saying it was cut. Invalid UTF-8 is replaced first, so the
// budget holds once the text is JSON. GitHub's limits count characters, never more than bytes.
func cutMarkdown(text string, limit int) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	if len(text) <= limit {
		return text
	}
	const note = "\n\n_(truncated)_"
	budget := limit - len(note)
	for {
		cut := cutBytes(text, max(budget, 0))
		if f := unclosedFence(cut); f != "" {
			cut += "\n" + f
		}
		if over := len(cut) + len(note) - limit; over > 0 && budget > 0 {
			budget -= over
			continue
		}
		out := cut + note
		if len(out) > limit { // no room even for the note
			return cutBytes(note, limit)
		}
		return out
	}
}
