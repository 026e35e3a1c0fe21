package slack

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strings"
	"time"
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

// Slack's limits: header text 150 characters, section text 3,000, 50 blocks a message, 10 elements a context
// block, a button's value 2,000 characters, an action_id or block_id 255.
const (
	maxHeader   = 150
	maxSection  = 3000
	maxBlocks   = 50
	maxContext  = 10
	maxLogLines = 40
	maxLogBytes = 2800
	// Approvals shown with buttons (two blocks each); the rest are counted in a context line.
	maxApprovals = 10
)

// Button action IDs: the Interactions handler acts on these and nothing else.
const (
	ActionApprove = "runner_approve"
	ActionReject  = "runner_reject"
)

// Decision states.
const (
	DecisionApproved   = "approved"
	DecisionRejected   = "rejected"
	DecisionExpired    = "expired"
	DecisionSuperseded = "superseded"
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

// escapeCut escapes s and keeps at most n characters of the result, never cutting an entity in half; a cut
// ends with "…".
func escapeCut(s string, n int) string {
	e := escape(s)
	if utf8.RuneCountInString(e) <= n {
		return e
	}
	var b strings.Builder
	used := 0
	for _, r := range s {
		piece := escape(string(r))
		w := utf8.RuneCountInString(piece)
		if used+w > n-1 {
			break
		}
		b.WriteString(piece)
		used += w
	}
	return b.String() + "…"
}

// oneLine folds line breaks into spaces: a summary from a plan or a pull request stays on its line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// slackDate shows an RFC3339 time in the reader's time zone, falling back to the text itself.
func slackDate(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return escapeCut(s, 64)
	}
	return fmt.Sprintf("<!date^%d^{date_short_pretty} at {time}|%s>", t.Unix(), t.UTC().Format(time.RFC3339))
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
	text := fmt.Sprintf("%s %s %s: %s", cmp.Or(d.Title, "Deploy"), d.Repo, shortSHA(d.Commit), overall(d))
	if len(d.Approvals) > 0 {
		envs := make([]string, 0, len(d.Approvals))
		for _, a := range d.Approvals {
			envs = append(envs, escapeCut(a.Env, 64))
		}
		text += " — waiting for approval: " + cut(strings.Join(envs, ", "), 500)
	}
	return text
}

// deployBlocks: a header with the repository, the commit and author, the environments, one line per stage, the
// approvals waiting with their buttons, the decisions taken and a link to the run. Stage lines give way first
// when the message would pass 50 blocks.
func deployBlocks(d Deploy) []slack.Block {
	state := overall(d)
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, cut(cmp.Or(d.Title, "Deploy")+" "+d.Repo, maxHeader), true, false)),
	}
	info := fmt.Sprintf("%s *%s*  ·  commit `%s`", stateEmoji(state), state, escape(shortSHA(d.Commit)))
	if d.Author != "" {
		info += " by " + escape(d.Author)
	}
	if len(d.Environments) > 0 {
		info += "\n*Environments:* " + escape(strings.Join(d.Environments, " → "))
	}
	blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, cut(info, maxSection), false, false), nil, nil))

	var tail []slack.Block
	tail = append(tail, approvalBlocks(d.Approvals)...)
	if len(d.Decisions) > 0 {
		tail = append(tail, decisionBlock(d.Decisions))
	}
	if d.RunURL != "" {
		tail = append(tail, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, fmt.Sprintf("<%s|View run>", d.RunURL), false, false)))
	}
	limit := maxBlocks - len(tail)

	var section strings.Builder
	flush := func() {
		if section.Len() > 0 && len(blocks) < limit {
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
	return append(blocks, tail...)
}

// buttonValue is what an approval button carries back: which run and environment it decides.
type buttonValue struct {
	Run int64  `json:"run"`
	Env string `json:"env"`
}

// validEnv is the shape of an environment name a button may carry: ^[a-z0-9][a-z0-9_-]{0,62}$.
func validEnv(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// approvalBlocks: per approval, a section saying what waits and why, then Approve and Reject buttons. An
// approval whose run or environment a button could not carry (the Interactions handler would refuse it) is
// shown without buttons; a repeated run and environment is shown once, as Slack wants unique block IDs.
func approvalBlocks(approvals []Approval) []slack.Block {
	var blocks []slack.Block
	seen := map[string]bool{}
	shown, hidden := 0, 0
	for _, a := range approvals {
		id := fmt.Sprintf("runner_approval:%d:%s", a.RunID, a.Env)
		if seen[id] {
			continue
		}
		seen[id] = true
		if shown == maxApprovals {
			hidden++
			continue
		}
		shown++
		buttons := a.RunID > 0 && validEnv(a.Env)
		text := fmt.Sprintf(":raised_hand: *%s* is waiting for approval", escapeCut(oneLine(a.Env), 100))
		if a.RunID > 0 {
			text += fmt.Sprintf(" (run %d)", a.RunID)
		}
		if a.Summary != "" {
			text += "\n*Plan:* " + escapeCut(oneLine(a.Summary), 1000)
		}
		if a.Why != "" {
			text += "\n*Why:* " + escapeCut(oneLine(a.Why), 1000)
		}
		if a.Expires != "" {
			text += "\n*Expires:* " + slackDate(a.Expires)
		}
		if !buttons {
			text += "\n_Decide from the dashboard or the CLI: this one cannot be carried by a button._"
		}
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, cut(text, maxSection), false, false), nil, nil))
		if !buttons {
			continue
		}
		value, _ := json.Marshal(buttonValue{Run: a.RunID, Env: a.Env}) // an int and a checked name: cannot fail
		approve := slack.NewButtonBlockElement(ActionApprove, string(value),
			slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false)).WithStyle(slack.StylePrimary)
		confirm := slack.NewConfirmationBlockObject(
			slack.NewTextBlockObject(slack.PlainTextType, "Reject this deploy?", false, false),
			slack.NewTextBlockObject(slack.PlainTextType, fmt.Sprintf("The deploy of %s (run %d) will not go ahead.", a.Env, a.RunID), false, false),
			slack.NewTextBlockObject(slack.PlainTextType, "Reject", false, false),
			slack.NewTextBlockObject(slack.PlainTextType, "Cancel", false, false)).WithStyle(slack.StyleDanger)
		reject := slack.NewButtonBlockElement(ActionReject, string(value),
			slack.NewTextBlockObject(slack.PlainTextType, "Reject", false, false)).WithStyle(slack.StyleDanger).WithConfirm(confirm)
		blocks = append(blocks, slack.NewActionBlock(id, approve, reject))
	}
	if hidden > 0 {
		blocks = append(blocks, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType,
			fmt.Sprintf("%d more waiting for approval: decide from the dashboard or the CLI", hidden), false, false)))
	}
	return blocks
}

var decisionEmoji = map[string]string{
	DecisionApproved:   ":white_check_mark:",
	DecisionRejected:   ":no_entry:",
	DecisionExpired:    ":hourglass:",
	DecisionSuperseded: ":arrows_counterclockwise:",
}

// decisionBlock: one context line per decision, "prod approved by alice via slack · reason · time"; the latest
// ones when there are more than a context block holds.
func decisionBlock(decisions []Decision) slack.Block {
	var elems []slack.MixedElement
	if n := len(decisions); n > maxContext {
		elems = append(elems, slack.NewTextBlockObject(slack.MarkdownType, fmt.Sprintf("%d earlier decisions", n-maxContext+1), false, false))
		decisions = decisions[n-maxContext+1:]
	}
	for _, d := range decisions {
		e, ok := decisionEmoji[d.State]
		if !ok {
			e = ":grey_question:"
		}
		line := fmt.Sprintf("%s *%s* %s", e, escapeCut(oneLine(d.Env), 100), escapeCut(oneLine(d.State), 40))
		if d.By != "" {
			line += " by " + escapeCut(oneLine(d.By), 100)
		}
		if d.Channel != "" {
			line += " via " + escapeCut(oneLine(d.Channel), 40)
		}
		if d.Reason != "" {
			line += " · " + escapeCut(oneLine(d.Reason), 1000)
		}
		if d.At != "" {
			line += " · " + slackDate(d.At)
		}
		elems = append(elems, slack.NewTextBlockObject(slack.MarkdownType, cut(line, maxSection), false, false))
	}
	return slack.NewContextBlock("", elems...)
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
