package slack

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// Stage states.
const (
	StatePending = "pending"
	StateRunning = "running"
	StateSuccess = "success"
	StateFailed  = "failed"
	StateSkipped = "skipped"
)

// Slack's limits: header text 150 characters, section text 3,000, 50 blocks a message.
const (
	maxHeader   = 150
	maxSection  = 3000
	maxLogLines = 40
	maxLogBytes = 2800
)

var emoji = map[string]string{
	StatePending: ":white_circle:",
	StateRunning: ":hourglass_flowing_sand:",
	StateSuccess: ":white_check_mark:",
	StateFailed:  ":x:",
	StateSkipped: ":fast_forward:",
}

func stateEmoji(state string) string {
	if e, ok := emoji[state]; ok {
		return e
	}
	return ":grey_question:"
}

// escape makes text safe for mrkdwn: Slack reads &, < and > as markup.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func shortSHA(sha string) string { return sha[:min(len(sha), 7)] }

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// overall is the deploy's state as one word: failed beats running beats pending; all done is success.
func overall(d Deploy) string {
	state := StateSuccess
	if len(d.Stages) == 0 {
		return StatePending
	}
	for _, s := range d.Stages {
		switch s.State {
		case StateFailed:
			return StateFailed
		case StateRunning:
			state = StateRunning
		case StatePending:
			if state != StateRunning {
				state = StatePending
			}
		}
	}
	return state
}

// finished reports whether no stage will change any more: nothing runs, and either every stage is done or one
// failed (a failure stops the stages after it, which stay pending).
func finished(d Deploy) bool {
	if len(d.Stages) == 0 {
		return false
	}
	failed := false
	for _, s := range d.Stages {
		switch s.State {
		case StateRunning:
			return false
		case StateFailed:
			failed = true
		}
	}
	if failed {
		return true
	}
	for _, s := range d.Stages {
		if s.State == StatePending {
			return false
		}
	}
	return true
}

func deployText(d Deploy) string {
	return fmt.Sprintf("Deploy %s %s: %s", d.Repo, shortSHA(d.Commit), overall(d))
}

// deployBlocks: a header with the repository, the commit and author, the environments, one line per stage and a
// link to the run.
func deployBlocks(d Deploy) []slack.Block {
	state := overall(d)
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, cut("Deploy "+d.Repo, maxHeader), true, false)),
	}
	info := fmt.Sprintf("%s *%s*  ·  commit `%s`", stateEmoji(state), state, escape(shortSHA(d.Commit)))
	if d.Author != "" {
		info += " by " + escape(d.Author)
	}
	if len(d.Environments) > 0 {
		info += "\n*Environments:* " + escape(strings.Join(d.Environments, " → "))
	}
	blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, cut(info, maxSection), false, false), nil, nil))

	var section strings.Builder
	flush := func() {
		if section.Len() > 0 && len(blocks) < 48 {
			blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, section.String(), false, false), nil, nil))
		}
		section.Reset()
	}
	for _, s := range d.Stages {
		line := stateEmoji(s.State) + " " + stageLabel(s)
		if s.Detail != "" {
			line += " — " + escape(s.Detail)
		}
		line = cut(line, 500)
		if section.Len()+len(line)+1 > maxSection {
			flush()
		}
		if section.Len() > 0 {
			section.WriteByte('\n')
		}
		section.WriteString(line)
	}
	flush()
	if d.RunURL != "" {
		blocks = append(blocks, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, fmt.Sprintf("<%s|View run>", d.RunURL), false, false)))
	}
	return blocks
}

// failureBlocks: which stage failed and why, with the end of its log in a code block.
func failureBlocks(s Stage, logTail []string) (string, []slack.Block) {
	text := strings.TrimPrefix(s.Env+" / "+s.Name, " / ") + " failed"
	head := ":x: " + stageLabel(s) + " failed"
	if s.Detail != "" {
		head += ": " + escape(s.Detail)
	}
	blocks := []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, cut(head, maxSection), false, false), nil, nil)}
	if tail := logBlock(logTail); tail != "" {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, tail, false, false), nil, nil))
	}
	return text, blocks
}

// logBlock keeps the last lines that fit, in a code block that stray backticks cannot close early.
func logBlock(lines []string) string {
	if len(lines) > maxLogLines {
		lines = lines[len(lines)-maxLogLines:]
	}
	var kept []string
	size := 0
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.ReplaceAll(escape(lines[i]), "```", "'''")
		if size+len(l)+1 > maxLogBytes {
			if len(kept) == 0 {
				kept = append(kept, "…"+tailBytes(l, maxLogBytes-10))
			}
			break
		}
		kept = append(kept, l)
		size += len(l) + 1
	}
	if len(kept) == 0 {
		return ""
	}
	for i, j := 0, len(kept)-1; i < j; i, j = i+1, j-1 {
		kept[i], kept[j] = kept[j], kept[i]
	}
	return "```\n" + strings.Join(kept, "\n") + "\n```"
}

// tailBytes is the longest suffix of s of at most n bytes that starts on a rune boundary.
func tailBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - n
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return s[i:]
}

// stageLabel is "*env* · name", or just "name" for a stage of the whole run.
func stageLabel(s Stage) string {
	if s.Env == "" {
		return "*" + escape(s.Name) + "*"
	}
	return fmt.Sprintf("*%s* · %s", escape(s.Env), escape(s.Name))
}
