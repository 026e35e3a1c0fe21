package review

import (
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/tf"
)

func TestEscapeMarkdown(t *testing.T) {
	tests := []struct{ in, want string }{
		{"aws_s3_bucket.logs", `aws\_s3\_bucket.logs`},
		{`aws_s3_bucket.x["a|b` + "`" + `<img src=x>@team"]`, `aws\_s3\_bucket.x\["a\|b` + "\\`" + `&lt;img src=x&gt;@` + "\u200b" + `team"\]`},
		{`module.m["<script>alert(1)</script>"]`, `module.m\["&lt;script&gt;alert\(1\)&lt;/script&gt;"\]`},
		{`x["[click](https://evil.example)"]`, `x\["\[click\]\(https://evil.example\)"\]`},
		{`x["![i](https://evil.example/i.png)"]`, `x\["\!\[i\]\(https://evil.example/i.png\)"\]`},
		{`x["**bold** _it_ ~~strike~~"]`, `x\["\*\*bold\*\* \_it\_ \~\~strike\~\~"\]`},
		{`x["\|"]`, `x\["\\\|"\]`},
		{`x["&lt;b&gt;"]`, `x\["&amp;lt;b&amp;gt;"\]`},
		{`x["@org/team #12 owner/repo#3"]`, "x\\[\"@\u200borg/team #\u200b12 owner/repo#\u200b3\"\\]"},
		{"x[\"line\nbreak\r\n| added | fake |\"]", `x\["line break  \| added \| fake \|"\]`},
		{"x[\"bidi\u202eeuq\u200b\x00\x1b[2J\"]", `x\["bidieuq\[2J"\]`},
		{"bad\xffutf8", "badutf8"},
	}
	for _, tt := range tests {
		if got := escapeMarkdown(tt.in); got != tt.want {
			t.Errorf("escapeMarkdown(%q)\n= %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

// Whatever the addresses hold, each change is one table row of four cells, with no HTML but the runner's
// own and no mention.
func TestMarkdownRowsHoldHostileAddresses(t *testing.T) {
	hostile := []string{
		`aws_s3_bucket.x["a|b` + "`" + `<img src=x>@team"]`,
		`x["\|\\|\\\|"]`,
		"x[\"a\nb\r| c |\u2028d\"]",
		"x[\"</code><script>x</script><code>\"]",
		"x[\"```\"]",
		`x["@@org/team"]`,
	}
	var d Diff
	for _, a := range hostile {
		d.Added = append(d.Added, tf.ResourceFingerprint{Address: a, Actions: "create|<b>"})
		d.Changed = append(d.Changed, Change{Address: a, ReviewedActions: "update", AppliedActions: "delete", ValuesDiffer: true})
		d.Removed = append(d.Removed, tf.ResourceFingerprint{Address: a, Actions: "delete"})
	}
	md := d.Markdown()
	rows := 0
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "| added ") && !strings.HasPrefix(line, "| changed ") && !strings.HasPrefix(line, "| removed ") {
			continue
		}
		rows++
		if n := unescapedPipes(line); n != 5 {
			t.Errorf("row of %d cells: %s", n-1, line)
		}
		rest := strings.Replace(strings.Replace(line, "<code>", "", 1), "</code>", "", 1)
		if strings.ContainsAny(rest, "<>") {
			t.Errorf("HTML in %s", line)
		}
		if strings.Count(line, "@") != strings.Count(line, "@\u200b") {
			t.Errorf("mention in %s", line)
		}
		for i := strings.Index(line, "`"); i >= 0; i = nextIndex(line, "`", i) {
			if backslashesBefore(line, i)%2 == 0 {
				t.Errorf("unescaped backtick in %s", line)
				break
			}
		}
	}
	if rows != 3*len(hostile) {
		t.Fatalf("%d rows, want %d:\n%s", rows, 3*len(hostile), md)
	}
}

func unescapedPipes(s string) int {
	n := 0
	for i := range len(s) {
		if s[i] == '|' && backslashesBefore(s, i)%2 == 0 {
			n++
		}
	}
	return n
}

func backslashesBefore(s string, i int) int {
	n := 0
	for i--; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n
}

func nextIndex(s, sub string, after int) int {
	j := strings.Index(s[after+1:], sub)
	if j < 0 {
		return -1
	}
	return after + 1 + j
}

func TestEscapeSlack(t *testing.T) {
	tests := []struct{ in, want string }{
		{"aws_s3_bucket.logs", "aws_s3_bucket.logs"},
		{`x["<!channel> <@U123> <https://evil.example|click> a&b"]`, `x["&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.example|click&gt; a&amp;b"]`},
		{"x[\"a\nremoved: fake\u2028\x1b\"]", `x["a removed: fake "]`},
	}
	for _, tt := range tests {
		if got := escapeSlack(tt.in); got != tt.want {
			t.Errorf("escapeSlack(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzMarkdownRow: addresses come from pull-request code; whatever they hold, a change stays one row of
// four cells with no HTML but the runner's own.
func FuzzMarkdownRow(f *testing.F) {
	for _, seed := range []string{"aws_s3_bucket.x", `x["a|b` + "`" + `<img src=x>@team"]`, `x["\\|"]`, "a\nb\r\u2028c", "\xff|"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, address string) {
		d := Diff{Changed: []Change{{Address: address, ReviewedActions: address, AppliedActions: "update"}}}
		lines := strings.Split(d.Markdown(), "\n")
		if len(lines) != 6 || lines[5] != "" {
			t.Fatalf("not one row: %q", lines)
		}
		row := lines[4]
		if n := unescapedPipes(row); n != 5 {
			t.Fatalf("row of %d cells: %q", n-1, row)
		}
		rest := strings.Replace(strings.Replace(row, "<code>", "", 1), "</code>", "", 1)
		if strings.ContainsAny(rest, "<>") || strings.Count(row, "@") != strings.Count(row, "@\u200b") {
			t.Fatalf("markup in %q", row)
		}
		if text := d.Text(); strings.Count(text, "\n") != 1 || strings.ContainsAny(text, "<>") {
			t.Fatalf("text %q", text)
		}
	})
}
