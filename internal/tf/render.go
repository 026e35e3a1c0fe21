package tf

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"code":   codeSpan,
	"md":     escapeMarkdown,
	"mdval":  markdownValue,
	"reason": reasonText,
}).ParseFS(templateFS, "templates/*.tmpl"))

// maxMarkdownItems bounds each action's list in a PR comment (GitHub caps a comment at 65,536
// characters); the CLI text lists everything.
const maxMarkdownItems = 100

// Markdown renders the summary for a PR comment: destroys and replacements called out first, the counts,
// the resources by action and the outputs that change.
func (s Summary) Markdown() string { return s.render("plan.md.tmpl", maxMarkdownItems) }

// Text renders the summary for the CLI.
func (s Summary) Text() string { return s.render("plan.txt.tmpl", 0) }

type summaryView struct {
	Summary
	Warning    string
	Groups     []actionGroup
	DriftShown []DriftedResource // the drift listed (bounded like each action's list)
	DriftMore  int
}

type actionGroup struct {
	Title  string
	Symbol string
	Count  int
	Items  []ResourceChange
	More   int
}

// groupOrder puts what can lose data first.
var groupOrder = []struct{ action, title, symbol string }{
	{ActionDelete, "Destroy", "-"},
	{ActionReplace, "Replace", "-/+"},
	{ActionForget, "Forget (removed from state, not destroyed)", "."},
	{ActionCreate, "Create", "+"},
	{ActionUpdate, "Update in place", "~"},
	{ActionImport, "Import", "<-"},
	{ActionMove, "Move", "->"},
	{ActionRead, "Read during apply", "<="},
}

func (s Summary) render(name string, maxItems int) string {
	v := summaryView{Summary: s, Warning: warning(s), DriftShown: s.Drift}
	if maxItems > 0 && len(s.Drift) > maxItems {
		v.DriftShown, v.DriftMore = s.Drift[:maxItems], len(s.Drift)-maxItems
	}
	for _, g := range groupOrder {
		ag := actionGroup{Title: g.title, Symbol: g.symbol}
		for _, r := range s.Resources {
			if r.Action != g.action {
				continue
			}
			ag.Count++
			if maxItems > 0 && len(ag.Items) == maxItems {
				ag.More++
				continue
			}
			ag.Items = append(ag.Items, r)
		}
		if ag.Count > 0 {
			v.Groups = append(v.Groups, ag)
		}
	}
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, v); err != nil {
		// The templates are fixed and tested; an error here is a bug, not bad input.
		return fmt.Sprintf("rendering plan summary for %s: %v\n", s.Environment, err)
	}
	return buf.String()
}

func warning(s Summary) string {
	var parts []string
	if s.Destroy > 0 {
		parts = append(parts, "destroys "+resources(s.Destroy))
	}
	if s.Replace > 0 {
		parts = append(parts, "replaces "+resources(s.Replace))
	}
	return strings.Join(parts, " and ")
}

func resources(n int) string {
	if n == 1 {
		return "1 resource"
	}
	return fmt.Sprintf("%d resources", n)
}

var reasonTexts = map[string]string{
	"replace_because_cannot_update":     "an argument that cannot be updated in place changed",
	"replace_because_tainted":           "tainted",
	"replace_by_request":                "replacement requested",
	"replace_by_triggers":               "replace_triggered_by changed",
	"delete_because_no_resource_config": "removed from the configuration",
	"delete_because_wrong_repetition":   "count/for_each changed",
	"delete_because_count_index":        "index beyond count",
	"delete_because_each_key":           "key no longer in for_each",
	"delete_because_no_module":          "module removed",
	"delete_because_no_move_target":     "move target missing",
	"read_because_config_unknown":       "configuration known only after apply",
	"read_because_dependency_pending":   "depends on pending changes",
}

func reasonText(r string) string {
	if t, ok := reasonTexts[r]; ok {
		return t
	}
	return r
}

// codeSpan quotes s as inline Markdown code, using a backtick fence longer than any run inside s.
func codeSpan(s string) string {
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

var markdownEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", `\<`, ">", `\>`,
	"|", `\|`, "#", `\#`, "~", `\~`, "\n", " ",
)

func escapeMarkdown(s string) string { return markdownEscaper.Replace(s) }

// markdownValue shows an output value as code, and a placeholder in italics so it cannot be mistaken
// for a string value.
func markdownValue(s string) string {
	if s == SensitiveValue || s == UnknownValue {
		return "_" + s + "_"
	}
	return codeSpan(s)
}

// Pad right-aligns an action symbol in the CLI text.
func (summaryView) Pad(symbol string) string { return fmt.Sprintf("%5s", symbol) }
