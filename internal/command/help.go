package command

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gitops-runner/runner/internal/action"
)

// maxQuoted is the most bytes of user text an error or answer echoes.
const maxQuoted = 40

type commandHelp struct {
	name, syntax, does, needs string
}

var commands = []commandHelp{
	{action.KindPlan, "plan [env…]",
		"plan again: the environments named, or every environment the pull request affects", "write access"},
	{action.KindUnlock, "unlock <env>",
		"release the environment's lock", "maintain access, or to be one of the environment's approvers"},
	{action.KindApprove, "approve <env>",
		"approve the deploy waiting for approval on the environment", "maintain access, or to be one of the environment's approvers"},
	{action.KindReject, "reject <env> [reason…]",
		"reject the deploy waiting for approval on the environment, saying why", "maintain access, or to be one of the environment's approvers"},
	{action.KindRollback, "rollback <env> [sha|previous]",
		"deploy an earlier commit to the environment again: the one given, or the deploy before the current one", "maintain access, or to be one of the environment's approvers"},
	{action.KindOverride, "override <env> <reason…>",
		"let the policy check failures of this pull request's last plan of the environment through when it merges, saying why",
		"maintain access, or to be one of the environment's approvers"},
	{action.KindFix, "fix <env> [reason…]",
		"apply the environment's deployed commit again, undoing drift (changes made outside Terraform), with the environment's approvals",
		"maintain access, or to be one of the environment's approvers"},
	{action.KindHelp, "help", "show this help", "nothing more than commenting"},
}

// Usage is the syntax of command name without the prefix ("approve <env>"), or "" for an unknown name.
// Write the prefix and a space before it to show it.
func Usage(name string) string {
	for _, c := range commands {
		if c.name == name {
			return c.syntax
		}
	}
	return ""
}

// Help is the help text (GitHub Markdown): every command with the prefix, one line each, with what it
// does and the permission it needs under the default policy.
func Help(prefix string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	var b strings.Builder
	b.WriteString("Commands, one per comment, on a line of their own:\n\n")
	for _, c := range commands {
		b.WriteString("- " + usageCode(prefix, c.name) + ": " + c.does + ". Needs " + c.needs + ".\n")
	}
	b.WriteString("\nThese are the defaults; the runner's server policy can change who may run each command.\n")
	return b.String()
}

// Quote makes user text safe inside inline code in Markdown (and in a one-line message): control,
// formatting and line-separator characters, invalid UTF-8 and backticks are removed, other white space
// becomes a space, and the result is cut to 40 bytes on a rune boundary.
func Quote(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '`' || r == utf8.RuneError || unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
			continue
		case unicode.IsSpace(r):
			r = ' '
		}
		if b.Len()+utf8.RuneLen(r) > maxQuoted {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// code writes s as inline code; s must already be safe (Quote, or the runner's own words).
func code(s string) string {
	if strings.Trim(s, " ") == "" {
		return "`?`"
	}
	return "`" + s + "`"
}

func usageCode(prefix, name string) string { return code(prefix + " " + Usage(name)) }
