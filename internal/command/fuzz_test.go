package command

import (
	"github.com/gitops-runner/runner/internal/config"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/gitops-runner/runner/internal/action"
)

// FuzzParse: anyone may comment, so parsing must never panic, what it accepts must be a well-formed
// command, and what it refuses must be one line that is safe to quote back in Markdown.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"", "/runner", "/runner plan", "/Runner PLAN dev prod dev", "/runner plan -d dir", "/runner approve prod",
		"/runner unlock prod extra", "/runner reject prod not today\nthanks", "/runner reject", "/runner rollback prod previous",
		"/runner rollback prod ABC1234", "/runner rollback prod xyz", "/runner help", "/runner help me", "/runner deploy",
		"x /runner plan", "/runnerplan", "> /runner plan", "```\n/runner plan\n```\n/runner approve prod",
		"~~~~\n~~~\n/runner plan", "<!--\n/runner plan\n-->", "- ```\n  /runner plan", "hi\r\n/runner approve prod\r\n",
		"/runner approve `@team`<img src=x>", "/runner plan \x00\x1b[31m\u202e", "/runner \xff\xfe", "\ufeff/runner help",
		"/runner reject prod " + strings.Repeat("é", 300), "/runner plan " + strings.Repeat("a ", 30),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		cmd, ok, err := Parse(DefaultPrefix, body)
		if !ok {
			if err != nil || cmd.Name != "" {
				t.Fatalf("not addressed, yet %+v, %v", cmd, err)
			}
			return
		}
		if err != nil {
			msg := err.Error()
			if msg == "" || strings.ContainsAny(msg, "\r\n") || strings.Count(msg, "`")%2 != 0 || !utf8.ValidString(msg) {
				t.Fatalf("unsafe error %q", msg)
			}
			for _, r := range msg {
				if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
					t.Fatalf("error %q holds %U", msg, r)
				}
			}
			if len(msg) > 300 {
				t.Fatalf("error of %d bytes: %q", len(msg), msg)
			}
			if cmd.Name != "" {
				t.Fatalf("command %+v with an error", cmd)
			}
			return
		}
		if Usage(cmd.Name) == "" {
			t.Fatalf("unknown command %q", cmd.Name)
		}
		if len(cmd.Envs) > MaxEnvs || (len(cmd.Envs) > 0 && cmd.Name != action.KindPlan) {
			t.Fatalf("environments %q for %s", cmd.Envs, cmd.Name)
		}
		seen := map[string]bool{}
		for _, e := range cmd.Envs {
			if !config.ValidEnvironmentName(e) || seen[e] {
				t.Fatalf("bad or repeated environment %q", e)
			}
			seen[e] = true
		}
		needsEnv := cmd.Name != action.KindPlan && cmd.Name != action.KindHelp
		if needsEnv != (cmd.Env != "") || (needsEnv && !config.ValidEnvironmentName(cmd.Env)) {
			t.Fatalf("environment %q for %s", cmd.Env, cmd.Name)
		}
		if cmd.To != "" && (cmd.Name != action.KindRollback || cmd.To != RollbackPrevious && !shaPattern.MatchString(cmd.To) || cmd.To != strings.ToLower(cmd.To)) {
			t.Fatalf("rollback target %q for %s", cmd.To, cmd.Name)
		}
		if cmd.Reason != "" && cmd.Name != action.KindReject {
			t.Fatalf("reason for %s", cmd.Name)
		}
		if len(cmd.Reason) > MaxReason || !utf8.ValidString(cmd.Reason) || strings.TrimSpace(cmd.Reason) != cmd.Reason {
			t.Fatalf("reason %q", cmd.Reason)
		}
		for _, r := range cmd.Reason {
			if unicode.IsControl(r) {
				t.Fatalf("reason %q holds %U", cmd.Reason, r)
			}
		}
	})
}

// FuzzQuote: whatever the text, the quote fits in inline code on one line.
func FuzzQuote(f *testing.F) {
	for _, seed := range []string{"", "prod", "a`b", "x\ny", "\xff", strings.Repeat("é", 30), "\u202e\u2028"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := Quote(s)
		if len(q) > maxQuoted || !utf8.ValidString(q) || strings.ContainsAny(q, "`\r\n") {
			t.Fatalf("Quote(%q) = %q", s, q)
		}
		for _, r := range q {
			if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
				t.Fatalf("Quote(%q) = %q holds %U", s, q, r)
			}
		}
	})
}
