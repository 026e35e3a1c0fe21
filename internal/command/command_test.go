package command

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gitops-runner/runner/internal/action"
)

func TestParseFindsTheCommand(t *testing.T) {
	plan := Command{Name: action.KindPlan}
	approveProd := Command{Name: action.KindApprove, Env: "prod"}
	tests := []struct {
		name   string
		prefix string
		body   string
		want   Command
		ok     bool
	}{
		{name: "alone", body: "/runner plan", want: plan, ok: true},
		{name: "case of prefix and name", body: "/Runner PLAN", want: plan, ok: true},
		{name: "indented, trailing space", body: "  \t/runner plan   ", want: plan, ok: true},
		{name: "after text", body: "Looks good.\n\n/runner approve prod\nthanks", want: approveProd, ok: true},
		{name: "first command wins", body: "/runner approve prod\n/runner reject prod no", want: approveProd, ok: true},
		{name: "windows line endings", body: "hi\r\n/runner approve prod\r\nbye\r\n", want: approveProd, ok: true},
		{name: "lone carriage return ends a line", body: "hi\r/runner approve prod", want: approveProd, ok: true},
		{name: "byte order mark", body: "\ufeff/runner approve prod", want: approveProd, ok: true},
		{name: "no-break space separates", body: "/runner\u00a0approve\u00a0prod", want: approveProd, ok: true},
		{name: "custom prefix", prefix: "@deploy-bot", body: "@Deploy-Bot approve prod", want: approveProd, ok: true},
		{name: "empty prefix is the default", prefix: "", body: "/runner approve prod", want: approveProd, ok: true},
		{name: "default prefix unused under a custom one", prefix: "@deploy-bot", body: "/runner approve prod"},
		{name: "not addressed", body: "please plan again"},
		{name: "empty", body: ""},
		{name: "prefix glued to name", body: "/runnerplan"},
		{name: "prefix not first", body: "x /runner plan"},
		{name: "prefix inside a word", body: "see/runner plan"},
		{name: "quoted", body: "> /runner plan\n\nsure"},
		{name: "quoted, indented", body: "  > /runner plan"},
		{name: "nested quote", body: ">> /runner plan"},
		{name: "after a quote", body: "> /runner plan\n/runner approve prod", want: approveProd, ok: true},
		{name: "in backtick fence", body: "Try:\n```\n/runner plan\n```"},
		{name: "in tilde fence", body: "~~~\n/runner plan\n~~~"},
		{name: "in fence with info string", body: "```sh\n/runner plan\n```"},
		{name: "after a fence", body: "```\n/runner plan\n```\n/runner approve prod", want: approveProd, ok: true},
		{name: "in an unclosed fence", body: "```\n/runner plan"},
		{name: "shorter fence does not close", body: "````\n```\n/runner plan\n````"},
		{name: "other fence character does not close", body: "```\n~~~\n/runner plan\n```"},
		{name: "fence with text after closing run does not close", body: "```\n``` x\n/runner plan\n```"},
		{name: "longer fence closes", body: "```\n`````\n/runner approve prod", want: approveProd, ok: true},
		{name: "inline code is not a fence", body: "```x``` and then\n/runner approve prod", want: approveProd, ok: true},
		{name: "in fence in a list item", body: "- ```\n  /runner plan\n  ```"},
		{name: "in fence in an ordered list item", body: "1. ```\n   /runner plan\n   ```"},
		{name: "quoted fence does not open", body: "> ```\n/runner approve prod", want: approveProd, ok: true},
		{name: "in an HTML comment", body: "<!--\n/runner plan\n-->"},
		{name: "after an HTML comment", body: "<!-- hidden -->\n/runner approve prod", want: approveProd, ok: true},
		{name: "after a multi-line HTML comment", body: "<!--\nx\n-->\n/runner approve prod", want: approveProd, ok: true},
		{name: "beyond the first 64 KiB", body: strings.Repeat("a\n", MaxBody/2) + "/runner plan"},
		{name: "within the first 64 KiB", body: strings.Repeat("a\n", MaxBody/2-8) + "/runner plan", want: plan, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := tt.prefix
			if prefix == "" && !strings.HasPrefix(tt.name, "empty prefix") {
				prefix = DefaultPrefix
			}
			got, ok, err := Parse(prefix, tt.body)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseArguments(t *testing.T) {
	envs := make([]string, MaxEnvs)
	for i := range envs {
		envs[i] = fmt.Sprintf("e%d", i)
	}
	longReason := strings.Repeat("é", MaxReason) // 2 bytes a rune: cut must not split one
	tests := []struct {
		name string
		body string
		want Command
	}{
		{"plan all", "/runner plan", Command{Name: action.KindPlan}},
		{"plan named, duplicates removed, order kept", "/runner plan prod dev prod staging dev", Command{Name: action.KindPlan, Envs: []string{"prod", "dev", "staging"}}},
		{"plan the most environments", "/runner plan " + strings.Join(envs, " ") + " e0 e1", Command{Name: action.KindPlan, Envs: envs}},
		{"plan name of 63 characters", "/runner plan " + strings.Repeat("a", 63), Command{Name: action.KindPlan, Envs: []string{strings.Repeat("a", 63)}}},
		{"plan names with - and _", "/runner plan eu-west_1 0dev", Command{Name: action.KindPlan, Envs: []string{"eu-west_1", "0dev"}}},
		{"unlock", "/runner unlock prod", Command{Name: action.KindUnlock, Env: "prod"}},
		{"approve", "/runner approve prod", Command{Name: action.KindApprove, Env: "prod"}},
		{"reject without reason", "/runner reject prod", Command{Name: action.KindReject, Env: "prod"}},
		{"fix with a reason", "/runner fix prod sg opened in the console", Command{Name: action.KindFix, Env: "prod", Reason: "sg opened in the console"}},
		{"fix without a reason", "/runner FIX prod", Command{Name: action.KindFix, Env: "prod"}},
		{"reject with reason", "/runner reject prod   too risky -- see #12, `x`  ", Command{Name: action.KindReject, Env: "prod", Reason: "too risky -- see #12, `x`"}},
		{"reject reason loses control characters", "/runner reject prod\tnot\x00 \x1b[31mnow\u2028", Command{Name: action.KindReject, Env: "prod", Reason: "not [31mnow"}},
		{"reject reason is one line", "/runner reject prod first\nsecond line", Command{Name: action.KindReject, Env: "prod", Reason: "first"}},
		{"reject reason cut on a rune", "/runner reject prod " + longReason, Command{Name: action.KindReject, Env: "prod", Reason: strings.Repeat("é", MaxReason/2)}},
		{"reject reason may start with a dash", "/runner reject prod - not now", Command{Name: action.KindReject, Env: "prod", Reason: "- not now"}},
		{"rollback to previous by default", "/runner rollback prod", Command{Name: action.KindRollback, Env: "prod"}},
		{"rollback to previous", "/runner rollback prod Previous", Command{Name: action.KindRollback, Env: "prod", To: RollbackPrevious}},
		{"rollback to a short sha", "/runner rollback prod abc1234", Command{Name: action.KindRollback, Env: "prod", To: "abc1234"}},
		{"rollback to a full sha, lowered", "/runner rollback prod " + strings.Repeat("AB", 20), Command{Name: action.KindRollback, Env: "prod", To: strings.Repeat("ab", 20)}},
		{"help", "/runner HELP", Command{Name: action.KindHelp}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := Parse(DefaultPrefix, tt.body)
			if err != nil || !ok {
				t.Fatalf("Parse = %v, %v", ok, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse = %#v\nwant    %#v", got, tt.want)
			}
			if !utf8.ValidString(got.Reason) || len(got.Reason) > MaxReason {
				t.Fatalf("reason %q", got.Reason)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	many := make([]string, MaxEnvs+1)
	for i := range many {
		many[i] = fmt.Sprintf("e%d", i)
	}
	tests := []struct {
		name string
		body string
		want string // the whole error
	}{
		{"nothing after the prefix", "/runner", "say what to do after `/runner`, for example `/runner plan [env…]`"},
		{"unknown command", "/runner deploy prod", "`deploy` is not a command; `/runner help` lists the commands"},
		{"flag instead of a command", "/runner -p plan", "flags such as `-p` are not supported; `/runner help` lists the commands"},
		{"flag to plan", "/runner plan -d environments/prod", "flags such as `-d` are not supported: `/runner plan [env…]`"},
		{"flag after an environment", "/runner plan dev --lock=false", "flags such as `--lock=false` are not supported: `/runner plan [env…]`"},
		{"flag to approve", "/runner approve -e prod", "flags such as `-e` are not supported: `/runner approve <env>`"},
		{"flag to reject", "/runner reject -e prod why", "flags such as `-e` are not supported: `/runner reject <env> [reason…]`"},
		{"approve without environment", "/runner approve", "`approve` needs an environment: `/runner approve <env>`"},
		{"unlock without environment", "/runner unlock  ", "`unlock` needs an environment: `/runner unlock <env>`"},
		{"reject without environment", "/runner reject", "`reject` needs an environment: `/runner reject <env> [reason…]`"},
		{"rollback without environment", "/runner rollback", "`rollback` needs an environment: `/runner rollback <env> [sha|previous]`"},
		{"approve two", "/runner approve prod staging", "`approve` takes one environment, so `staging` is one too many: `/runner approve <env>`"},
		{"unlock with a reason", "/runner unlock prod because", "`unlock` takes one environment, so `because` is one too many: `/runner unlock <env>`"},
		{"help with arguments", "/runner help me", "`help` takes no arguments, so `me` is one too many: `/runner help`"},
		{"rollback too much", "/runner rollback prod abc1234 now", "`rollback` takes an environment and at most one commit, so `now` is one too many: `/runner rollback <env> [sha|previous]`"},
		{"rollback to a word", "/runner rollback prod latest", "`latest` is not a commit: give 7 to 40 hex characters or `previous`, as in `/runner rollback <env> [sha|previous]`"},
		{"rollback to a short sha", "/runner rollback prod abc123", "`abc123` is not a commit: give 7 to 40 hex characters or `previous`, as in `/runner rollback <env> [sha|previous]`"},
		{"rollback to a long sha", "/runner rollback prod " + strings.Repeat("a", 41), "`" + strings.Repeat("a", 40) + "` is not a commit: give 7 to 40 hex characters or `previous`, as in `/runner rollback <env> [sha|previous]`"},
		{"upper-case environment", "/runner approve Prod", "`Prod` is not an environment name: use lowercase letters, digits, `-` and `_`, starting with a letter or digit, at most 63 characters"},
		{"environment starting with an underscore", "/runner plan dev _x", "`_x` is not an environment name: use lowercase letters, digits, `-` and `_`, starting with a letter or digit, at most 63 characters"},
		{"environment too long", "/runner plan " + strings.Repeat("a", 64), "`" + strings.Repeat("a", 40) + "` is not an environment name: use lowercase letters, digits, `-` and `_`, starting with a letter or digit, at most 63 characters"},
		{"hostile environment", "/runner approve `@org/team`<img\x1b[2J\u202e>" + strings.Repeat("x", 80), "`@org/team<img[2J>" + strings.Repeat("x", 23) + "` is not an environment name: use lowercase letters, digits, `-` and `_`, starting with a letter or digit, at most 63 characters"},
		{"hostile command", "/runner ``` ", "`?` is not a command; `/runner help` lists the commands"},
		{"too many environments", "/runner plan " + strings.Join(many, " "), "at most 20 environments can be planned at once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := Parse(DefaultPrefix, tt.body)
			if !ok || err == nil {
				t.Fatalf("Parse = %+v, %v, %v; want an error", got, ok, err)
			}
			if err.Error() != tt.want {
				t.Fatalf("error\n%s\nwant\n%s", err, tt.want)
			}
			if !reflect.DeepEqual(got, Command{}) {
				t.Fatalf("command %+v with an error", got)
			}
		})
	}
}

func TestParseErrorsUseTheConfiguredPrefix(t *testing.T) {
	_, _, err := Parse("@deploy-bot", "@deploy-bot approve")
	if want := "`approve` needs an environment: `@deploy-bot approve <env>`"; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"prod", "prod"},
		{"a`b``c", "abc"},
		{"line\nbreak\r\ttab", "linebreaktab"},
		{"esc\x1b[31m", "esc[31m"},
		{"bidi\u202eoverride\u200bzero", "bidioverridezero"},
		{"line\u2028sep\u2029para", "lineseppara"},
		{"no\u00a0break", "no break"},
		{"bad\xffutf8", "badutf8"},
		{strings.Repeat("x", 50), strings.Repeat("x", 40)},
		{strings.Repeat("x", 39) + "é", strings.Repeat("x", 39)},
		{strings.Repeat("é", 30), strings.Repeat("é", 20)},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUsage(t *testing.T) {
	tests := []struct{ name, want string }{
		{action.KindPlan, "plan [env…]"},
		{action.KindUnlock, "unlock <env>"},
		{action.KindApprove, "approve <env>"},
		{action.KindReject, "reject <env> [reason…]"},
		{action.KindRollback, "rollback <env> [sha|previous]"},
		{action.KindHelp, "help"},
		{"deploy", ""},
		{"PLAN", ""},
	}
	for _, tt := range tests {
		if got := Usage(tt.name); got != tt.want {
			t.Errorf("Usage(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestHelpListsEveryCommandOnALine(t *testing.T) {
	for _, prefix := range []string{DefaultPrefix, "@deploy-bot"} {
		help := Help(prefix)
		for _, k := range kinds {
			line := "- `" + prefix + " " + Usage(k) + "`: "
			n := strings.Count(help, line)
			if n != 1 {
				t.Fatalf("help for %s lists %q %d times:\n%s", prefix, line, n, help)
			}
			rest, _, _ := strings.Cut(help[strings.Index(help, line):], "\n")
			if !strings.Contains(rest, "Needs ") {
				t.Errorf("%q says no permission", rest)
			}
		}
		for _, want := range []string{
			"`" + prefix + " plan [env…]`: plan again: the environments named, or every environment the pull request affects. Needs write access.",
			"`" + prefix + " approve <env>`: approve the deploy waiting for approval on the environment. Needs maintain access, or to be one of the environment's approvers.",
		} {
			if !strings.Contains(help, want) {
				t.Errorf("help lacks %q:\n%s", want, help)
			}
		}
	}
	if Help("") != Help(DefaultPrefix) {
		t.Error("empty prefix is not the default in help")
	}
}
