// Package command reads what a pull request comment asks of the runner ("/runner plan prod"). Anyone may
// comment, so parsing is strict, looks at a bounded prefix of the body, and its errors are safe to quote back.
package command

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gitops-runner/runner/internal/action"
	"github.com/gitops-runner/runner/internal/config"
)

// DefaultPrefix starts every command unless the operator configures another.
const DefaultPrefix = "/runner"

// Limits on what a comment can ask.
const (
	MaxBody   = 64 << 10 // bytes of a comment body looked at; the rest is ignored
	MaxEnvs   = 20       // environments one plan command may name
	MaxReason = 500      // bytes of a reject reason kept
)

var shaPattern = regexp.MustCompile(`^[0-9a-fA-F]{7,40}$`)

// RollbackPrevious is the rollback target meaning the deploy before the current one.
const RollbackPrevious = "previous"

// Command is one request read from a comment.
type Command struct {
	Name   string   // action.KindPlan, KindUnlock, KindApprove, KindReject, KindRollback, KindOverride, KindFix or KindHelp
	Envs   []string // plan: the environments named, duplicates removed, in order (none: every affected one)
	Env    string   // unlock, approve, reject, rollback, override, fix
	To     string   // rollback: a lowercase hex SHA of 7 to 40 characters, RollbackPrevious, or "" when not given
	Reason string   // reject, override, fix: the rest of the line, control characters removed, trimmed, at most MaxReason bytes
}

// Parse finds the command in a comment body. ok is false when the comment is not addressed to the runner
// (no line starts with the prefix): such comments are ignored silently. When it is addressed to the runner
// but is not a valid command, err says what is wrong in one sentence fit to show back in Markdown (the
// caller answers with Help), and cmd is the zero Command. An unknown command name is an error too.
//
// The command is the first line whose first whitespace-separated token is the prefix (ASCII
// case-insensitively, as is the command name); only that line is read. Lines in fenced code blocks, in HTML
// comment blocks and in block quotes are not commands: they show examples or quote earlier comments. An
// empty prefix means DefaultPrefix. Only the first MaxBody bytes of body are looked at.
func Parse(prefix, body string) (cmd Command, ok bool, err error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	args, ok := findCommand(prefix, body)
	if !ok {
		return Command{}, false, nil
	}
	cmd, err = parseArgs(prefix, args)
	if err != nil {
		return Command{}, true, err
	}
	return cmd, true, nil
}

// findCommand returns the rest of the first command line after the prefix.
func findCommand(prefix, body string) (string, bool) {
	if len(body) > MaxBody {
		cut := MaxBody
		for cut > 0 && !utf8.RuneStart(body[cut]) {
			cut--
		}
		body = body[:cut]
	}
	body = strings.TrimPrefix(body, "\ufeff")
	// CommonMark ends lines at \n, \r\n or a lone \r.
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")

	var fence string // the opening fence while inside a fenced code block
	inComment := false
	for line := range strings.SplitSeq(body, "\n") {
		indented := strings.TrimLeft(line, " \t")
		switch {
		case fence != "":
			if closesFence(indented, fence) {
				fence = ""
			}
			continue
		case inComment:
			inComment = !strings.Contains(line, "-->")
			continue
		}
		if f := openingFence(indented); f != "" {
			fence = f
			continue
		}
		if rest, ok := strings.CutPrefix(indented, "<!--"); ok {
			inComment = !strings.Contains(rest, "-->")
			continue
		}
		if strings.HasPrefix(indented, ">") {
			continue // quoted, as a reply quotes the command it answers
		}
		first, rest := nextToken(line)
		if asciiEqualFold(first, prefix) {
			return rest, true
		}
	}
	return "", false
}

// openingFence returns the fence that line (indentation removed) opens, or "". A list item may open a fence
// too ("- ```"). A run of backticks followed by more backticks on the line is inline code, not a fence.
func openingFence(line string) string {
	line = trimListMarker(line)
	for _, c := range []byte{'`', '~'} {
		n := 0
		for n < len(line) && line[n] == c {
			n++
		}
		if n < 3 {
			continue
		}
		if c == '`' && strings.IndexByte(line[n:], '`') >= 0 {
			return ""
		}
		return line[:n]
	}
	return ""
}

// closesFence reports whether line (indentation removed) closes the block fence opened: the same character,
// at least as many, and nothing else but spaces.
func closesFence(line, fence string) bool {
	n := 0
	for n < len(line) && line[n] == fence[0] {
		n++
	}
	return n >= len(fence) && strings.Trim(line[n:], " \t") == ""
}

// trimListMarker removes a bullet ("-", "*", "+") or ordered ("1.", "1)") list marker and the spaces after it.
func trimListMarker(line string) string {
	rest := line
	switch {
	case rest == "":
		return line
	case rest[0] == '-' || rest[0] == '*' || rest[0] == '+':
		rest = rest[1:]
	default:
		n := 0
		for n < len(rest) && n < 9 && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 0 || n == len(rest) || (rest[n] != '.' && rest[n] != ')') {
			return line
		}
		rest = rest[n+1:]
	}
	if trimmed := strings.TrimLeft(rest, " \t"); len(trimmed) < len(rest) {
		return trimmed
	}
	return line
}

// nextToken returns the first whitespace-separated token of s and what follows it.
func nextToken(s string) (tok, rest string) {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	end := strings.IndexFunc(s, unicode.IsSpace)
	if end < 0 {
		return s, ""
	}
	return s[:end], s[end:]
}

// asciiEqualFold compares ignoring ASCII case only, so that no Unicode look-alike (the Kelvin sign folds to
// "k") spells a command.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

var kinds = []string{action.KindPlan, action.KindUnlock, action.KindApprove, action.KindReject, action.KindRollback,
	action.KindOverride, action.KindFix, action.KindHelp}

// parseArgs reads the command name and its arguments from what follows the prefix on the command line.
func parseArgs(prefix, line string) (Command, error) {
	word, rest := nextToken(line)
	if word == "" {
		return Command{}, fmt.Errorf("say what to do after %s, for example %s", code(prefix), usageCode(prefix, action.KindPlan))
	}
	if strings.HasPrefix(word, "-") {
		return Command{}, fmt.Errorf("flags such as %s are not supported; %s lists the commands", code(Quote(word)), usageCode(prefix, action.KindHelp))
	}
	name := ""
	for _, k := range kinds {
		if asciiEqualFold(word, k) {
			name = k
			break
		}
	}
	if name == "" {
		return Command{}, fmt.Errorf("%s is not a command; %s lists the commands", code(Quote(word)), usageCode(prefix, action.KindHelp))
	}
	c := Command{Name: name}
	if name == action.KindReject || name == action.KindOverride || name == action.KindFix {
		// The reason is free text: only the environment is a token.
		env, reason := nextToken(rest)
		if err := c.setEnv(prefix, env); err != nil {
			return Command{}, err
		}
		c.Reason = cleanReason(reason)
		if name == action.KindOverride && c.Reason == "" {
			return Command{}, fmt.Errorf("say why the policy failures may go through: %s", usageCode(prefix, name))
		}
		return c, nil
	}
	args := strings.Fields(rest)
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			return Command{}, fmt.Errorf("flags such as %s are not supported: %s", code(Quote(a)), usageCode(prefix, name))
		}
	}
	switch name {
	case action.KindPlan:
		return c, c.setEnvs(args)
	case action.KindHelp:
		return c, extra(prefix, name, args, 0)
	case action.KindUnlock, action.KindApprove:
		if err := c.setEnv(prefix, first(args)); err != nil {
			return Command{}, err
		}
		return c, extra(prefix, name, args, 1)
	default: // rollback
		if err := c.setEnv(prefix, first(args)); err != nil {
			return Command{}, err
		}
		if err := extra(prefix, name, args, 2); err != nil {
			return Command{}, err
		}
		if len(args) == 2 {
			switch to := args[1]; {
			case asciiEqualFold(to, RollbackPrevious):
				c.To = RollbackPrevious
			case shaPattern.MatchString(to):
				c.To = strings.ToLower(to)
			default:
				return Command{}, fmt.Errorf("%s is not a commit: give 7 to 40 hex characters or %s, as in %s",
					code(Quote(to)), code(RollbackPrevious), usageCode(prefix, name))
			}
		}
		return c, nil
	}
}

func first(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// extra refuses arguments beyond the first max.
func extra(prefix, name string, args []string, max int) error {
	if len(args) <= max {
		return nil
	}
	what := "no arguments"
	switch max {
	case 1:
		what = "one environment"
	case 2:
		what = "an environment and at most one commit"
	}
	return fmt.Errorf("%s takes %s, so %s is one too many: %s", code(name), what, code(Quote(args[max])), usageCode(prefix, name))
}

func (c *Command) setEnv(prefix, env string) error {
	if env == "" {
		return fmt.Errorf("%s needs an environment: %s", code(c.Name), usageCode(prefix, c.Name))
	}
	if strings.HasPrefix(env, "-") {
		return fmt.Errorf("flags such as %s are not supported: %s", code(Quote(env)), usageCode(prefix, c.Name))
	}
	if err := checkEnv(env); err != nil {
		return err
	}
	c.Env = env
	return nil
}

func (c *Command) setEnvs(args []string) error {
	seen := map[string]bool{}
	for _, env := range args {
		if err := checkEnv(env); err != nil {
			return err
		}
		if seen[env] {
			continue
		}
		if len(c.Envs) == MaxEnvs {
			return fmt.Errorf("at most %d environments can be planned at once", MaxEnvs)
		}
		seen[env] = true
		c.Envs = append(c.Envs, env)
	}
	return nil
}

func checkEnv(env string) error {
	if config.ValidEnvironmentName(env) {
		return nil
	}
	return fmt.Errorf("%s is not an environment name: use lowercase letters, digits, %s and %s, starting with a letter or digit, at most 63 characters",
		code(Quote(env)), code("-"), code("_"))
}

// cleanReason keeps a reject reason to one tidy line: control and invalid bytes removed, at most MaxReason
// bytes, cut on a rune boundary.
func cleanReason(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == utf8.RuneError:
			return -1
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	return strings.TrimSpace(cutBytes(s, MaxReason))
}

// cutBytes cuts s to at most n bytes on a rune boundary.
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
