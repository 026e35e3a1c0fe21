package plancheck

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxMarkdownLength is the most bytes Report.Markdown writes: rows past it are counted, not shown, so the
// section fits a pull request comment beside the plan.
const MaxMarkdownLength = 12 << 10

// Report is what the policies said about a plan.
type Report struct {
	// Results are failures first, then warnings, each sorted by package, rule and message; at most MaxResults.
	Results []Result
	// Omitted counts the results past MaxResults, left out (warnings before failures).
	Omitted int
	// Policies counts the packages that have a deny, violation or warn rule: the policies checked.
	Policies int
}

// Result is one message of a deny, violation or warn rule. Package and Message come from the policy and the
// plan: escape them to show them (Report.Markdown does).
type Result struct {
	Package string // e.g. "terraform.s3_encryption"
	Rule    string // deny, violation or warn, or one of those with a suffix: deny_public_acl
	Message string // at most MaxMessageLength characters
	Fail    bool   // deny and violation rules fail the check, warn rules do not
}

// Failed tells whether a policy denied the plan.
func (r Report) Failed() bool {
	return len(r.Failures()) > 0
}

// Failures returns the results of deny and violation rules.
func (r Report) Failures() []Result { return r.filter(true) }

// Warnings returns the results of warn rules.
func (r Report) Warnings() []Result { return r.filter(false) }

func (r Report) filter(fail bool) []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Fail == fail {
			out = append(out, res)
		}
	}
	return out
}

// finish orders the results and keeps MaxResults of them, failures first.
func (r *Report) finish() {
	sort.SliceStable(r.Results, func(i, j int) bool {
		a, b := r.Results[i], r.Results[j]
		switch {
		case a.Fail != b.Fail:
			return a.Fail
		case a.Package != b.Package:
			return a.Package < b.Package
		case a.Rule != b.Rule:
			return a.Rule < b.Rule
		}
		return a.Message < b.Message
	})
	if len(r.Results) > MaxResults {
		r.Omitted += len(r.Results) - MaxResults
		r.Results = r.Results[:MaxResults:MaxResults]
	}
}

// Markdown returns the report as a section of a pull request comment: a heading with the counts and a table
// of the failures and warnings, or "All N policies passed." Every piece of policy text is escaped: it shows
// as itself, with no markup, HTML, mentions or issue links. At most MaxMarkdownLength bytes.
func (r Report) Markdown() string {
	failures, warnings := len(r.Failures()), len(r.Warnings())
	var b strings.Builder
	switch {
	case len(r.Results) == 0 && r.Omitted == 0 && r.Policies == 0:
		return "#### Policy check\n\nNo policies: no package has a deny, violation or warn rule.\n"
	case len(r.Results) == 0 && r.Omitted == 0:
		return fmt.Sprintf("#### Policy check\n\nAll %s passed.\n", plural(r.Policies, "policy", "policies"))
	case failures > 0:
		fmt.Fprintf(&b, "#### Policy check failed: %s", plural(failures, "failure", "failures"))
		if warnings > 0 {
			fmt.Fprintf(&b, ", %s", plural(warnings, "warning", "warnings"))
		}
	default:
		fmt.Fprintf(&b, "#### Policy check passed with %s", plural(warnings, "warning", "warnings"))
	}
	if r.Omitted > 0 {
		fmt.Fprintf(&b, " (and %d more)", r.Omitted)
	}
	b.WriteString("\n\n| | Policy | Message |\n| --- | --- | --- |\n")
	const note = "\n_%d more not shown._\n"
	notShown := r.Omitted
	for i, res := range r.Results {
		row := fmt.Sprintf("| %s | %s | %s |\n", mark(res), escapeMarkdown(res.Package+"."+res.Rule), orDash(escapeMarkdown(res.Message)))
		if b.Len()+len(row)+len(note)+20 > MaxMarkdownLength {
			notShown += len(r.Results) - i
			break
		}
		b.WriteString(row)
	}
	if notShown > 0 {
		fmt.Fprintf(&b, note, notShown)
	}
	return b.String()
}

func mark(res Result) string {
	if res.Fail {
		return "❌ fail"
	}
	return "⚠️ warn"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// markdownEscaper makes text literal in GitHub Markdown, table cells included: punctuation that is markup
// is backslash-escaped, HTML is written as entities, and a zero-width space after @ and # keeps mentions
// and issue references from linking (GitHub finds those in the rendered text, after escapes are undone).
var markdownEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "|", `\|`, "*", `\*`, "_", `\_`, "~", `\~`, "[", `\[`, "]", `\]`, "(", `\(`, ")", `\)`,
	"!", `\!`, "&", "&amp;", "<", "&lt;", ">", "&gt;", "@", "@\u200b", "#", "#\u200b",
)

// escapeMarkdown makes s, text from a policy or a plan, read as itself in a table cell of GitHub Markdown:
// one line, no markup, no HTML, no mentions.
func escapeMarkdown(s string) string { return markdownEscaper.Replace(oneLine(s)) }

// oneLine turns white space (line breaks included) into spaces and removes other control characters,
// formatting characters (bidirectional overrides, zero-width spaces) and invalid UTF-8.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, s)
}
