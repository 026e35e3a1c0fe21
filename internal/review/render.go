package review

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Markdown renders the difference for a pull request comment: a sentence, then a table of at most 30
// changes and "… and N more". Addresses come from plans of pull-request code, so they are escaped.
func (d Diff) Markdown() string {
	if d.Match() {
		return "The plan to apply " + d.Line() + ".\n"
	}
	var b strings.Builder
	b.WriteString("The plan to apply " + d.Line() + ".\n\n")
	b.WriteString("| | resource | reviewed | to apply |\n|---|---|---|---|\n")
	rows := d.rows()
	for _, r := range rows[:min(len(rows), maxRows)] {
		applied := orDash(escapeMarkdown(r.applied))
		if r.valuesDiffer {
			applied += " (planned values differ)"
		}
		fmt.Fprintf(&b, "| %s | <code>%s</code> | %s | %s |\n", r.kind, escapeMarkdown(r.address), orDash(escapeMarkdown(r.reviewed)), applied)
	}
	if len(rows) > maxRows {
		// A blank line ends the table: a line right after it would be read as one more row.
		fmt.Fprintf(&b, "\n… and %d more\n", len(rows)-maxRows)
	}
	return b.String()
}

// Text renders the difference for Slack mrkdwn and logs: the sentence, then one line per change, at most
// 30, then "… and N more".
func (d Diff) Text() string {
	var b strings.Builder
	b.WriteString("plan " + d.Line())
	rows := d.rows()
	for _, r := range rows[:min(len(rows), maxRows)] {
		b.WriteString("\n" + r.kind + ": " + escapeSlack(r.address))
		switch r.kind {
		case "added":
			b.WriteString(" (" + escapeSlack(r.applied) + ")")
		case "removed":
			b.WriteString(" (" + escapeSlack(r.reviewed) + ")")
		default:
			if r.reviewed != r.applied {
				b.WriteString(": reviewed " + escapeSlack(r.reviewed) + ", to apply " + escapeSlack(r.applied))
			} else {
				b.WriteString(" (" + escapeSlack(r.applied) + ")")
			}
			if r.valuesDiffer {
				b.WriteString(", planned values differ")
			}
		}
	}
	if len(rows) > maxRows {
		fmt.Fprintf(&b, "\n… and %d more", len(rows)-maxRows)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
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

// escapeMarkdown makes s, text from a pull request, read as itself in a line or table cell of GitHub
// Markdown: one line, no markup, no HTML, no mentions.
func escapeMarkdown(s string) string { return markdownEscaper.Replace(oneLine(s)) }

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escapeSlack makes s one line of Slack mrkdwn that mentions and links no one: Slack reads &, < and > as
// markup (<@U123>, <!channel>, <https://…|text>).
func escapeSlack(s string) string { return slackEscaper.Replace(oneLine(s)) }

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
