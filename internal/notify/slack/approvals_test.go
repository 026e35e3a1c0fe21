package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// kitBlock is the part of a Block Kit block the tests look at.
type kitBlock struct {
	Type     string                 `json:"type"`
	BlockID  string                 `json:"block_id"`
	Text     *struct{ Text string } `json:"text"`
	Elements []struct {
		Type     string          `json:"type"`
		ActionID string          `json:"action_id"`
		Value    string          `json:"value"`
		Style    string          `json:"style"`
		Text     json.RawMessage `json:"text"`
		Confirm  *struct {
			Title, Text, Confirm, Deny struct{ Text string }
			Style                      string
		} `json:"confirm"`
	} `json:"elements"`
}

// postAndRead sends d through a Reporter to the fake (which refuses blocks over Slack's limits) and returns the
// message's blocks and text.
func postAndRead(t *testing.T, d Deploy) ([]kitBlock, string) {
	t.Helper()
	fake := startSlack(t)
	r := botReporter(t, fake, fast)
	r.Update(d)
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	var blocks []kitBlock
	if err := json.Unmarshal(msgs[0].Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	return blocks, msgs[0].BlockText()
}

func actionBlocks(blocks []kitBlock) []kitBlock {
	var out []kitBlock
	for _, b := range blocks {
		if b.Type == "actions" {
			out = append(out, b)
		}
	}
	return out
}

func TestApprovalShowsWhatWaitsWithBothButtons(t *testing.T) {
	d := deploy(StateSuccess, StateSuccess, StatePending)
	d.Approvals = []Approval{{RunID: 42, Env: "prod", Summary: "2 to add, 1 to change",
		Why: "the plan differs from the reviewed plan: 1 changed", Expires: "2026-12-05T10:00:00Z"}}
	d.Decisions = []Decision{{Env: "staging", State: DecisionApproved, By: "alice", Channel: "slack", Reason: "looks good", At: "2026-12-04T09:00:00Z"}}
	blocks, text := postAndRead(t, d)
	for _, want := range []string{
		"*prod* is waiting for approval (run 42)", "*Plan:* 2 to add, 1 to change",
		"*Why:* the plan differs from the reviewed plan: 1 changed",
		"*Expires:* <!date^1796464800^{date_short_pretty} at {time}|2026-12-05T10:00:00Z>",
		":white_check_mark: *staging* approved by alice via slack · looks good · <!date^",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}
	acts := actionBlocks(blocks)
	if len(acts) != 1 || acts[0].BlockID != "runner_approval:42:prod" || len(acts[0].Elements) != 2 {
		t.Fatalf("actions %+v", acts)
	}
	approve, reject := acts[0].Elements[0], acts[0].Elements[1]
	if approve.ActionID != ActionApprove || approve.Style != "primary" || approve.Confirm != nil || approve.Type != "button" {
		t.Errorf("approve button %+v", approve)
	}
	if reject.ActionID != ActionReject || reject.Style != "danger" || reject.Confirm == nil || reject.Confirm.Style != "danger" ||
		reject.Confirm.Confirm.Text != "Reject" || !strings.Contains(reject.Confirm.Text.Text, "prod (run 42)") {
		t.Errorf("reject button %+v", reject)
	}
	for _, b := range acts[0].Elements {
		if b.Value != `{"run":42,"env":"prod"}` {
			t.Errorf("value %s", b.Value)
		}
		if v, err := decodeValue(b.Value); err != nil || v != (buttonValue{Run: 42, Env: "prod"}) {
			t.Errorf("the handler reads %s as %+v, %v", b.Value, v, err)
		}
	}
	if got := deployText(d); !strings.Contains(got, "waiting for approval: prod") {
		t.Errorf("notification text %q", got)
	}
}

// Environment names, summaries and reasons can come from pull-request code: they are text, never markup.
func TestApprovalTextIsEscaped(t *testing.T) {
	d := deploy(StatePending)
	d.Approvals = []Approval{
		{RunID: 7, Env: "prod", Summary: "<!channel> & <https://evil|click>", Why: "*bold* <@U123>\nsecond line", Expires: "next <tuesday>"},
		{RunID: 7, Env: "<!here>", Summary: "x"},
		{RunID: 0, Env: "staging", Summary: "no run yet"},
	}
	d.Decisions = []Decision{{Env: "<b>", State: "<rejected>", By: "<@U1>", Channel: "a&b", Reason: "<!everyone>"}}
	blocks, text := postAndRead(t, d)
	for _, bad := range []string{"<!channel>", "<https://evil", "<@U123>", "<!here>", "<tuesday>", "<!everyone>", "<@U1>", "<b>", "a&b"} {
		if strings.Contains(text, bad) {
			t.Errorf("unescaped %q:\n%s", bad, text)
		}
	}
	for _, want := range []string{"&lt;!channel&gt; &amp; &lt;https://evil|click&gt;", "&lt;@U123&gt; second line", "next &lt;tuesday&gt;",
		"*&lt;!here&gt;* is waiting", "by &lt;@U1&gt; via a&amp;b · &lt;!everyone&gt;", "*staging* is waiting for approval\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}
	// Buttons only where the handler would accept their value: a run id and a plain environment name.
	acts := actionBlocks(blocks)
	if len(acts) != 1 || acts[0].BlockID != "runner_approval:7:prod" {
		t.Fatalf("actions %+v", acts)
	}
	if strings.Count(text, "Decide from the dashboard or the CLI") != 2 {
		t.Errorf("approvals without buttons not told where to decide:\n%s", text)
	}
}

// A deploy with many stages, approvals and decisions, all long and full of characters to escape, still fits
// Slack's limits (the fake refuses invalid_blocks), and the approvals win over stage lines.
func TestApprovalsKeepWithinBlockKitLimits(t *testing.T) {
	d := Deploy{Repo: "acme/shop", Commit: "abc"}
	for i := range 300 {
		d.Stages = append(d.Stages, Stage{Env: fmt.Sprint("env", i), Name: "apply", State: StateRunning, Detail: strings.Repeat("&", 400)})
	}
	for i := range 15 {
		d.Approvals = append(d.Approvals, Approval{RunID: int64(i + 1), Env: fmt.Sprintf("env-%d", i),
			Summary: strings.Repeat("<&>", 3000), Why: strings.Repeat("é&", 2000), Expires: strings.Repeat("&", 100)})
	}
	d.Approvals = append(d.Approvals, d.Approvals[0]) // repeated: shown once
	for i := range 25 {
		d.Decisions = append(d.Decisions, Decision{Env: fmt.Sprint("env", i), State: DecisionRejected, By: strings.Repeat("<", 500), Reason: strings.Repeat("&", 5000)})
	}
	blocks, text := postAndRead(t, d)
	if len(blocks) > maxBlocks {
		t.Fatalf("%d blocks", len(blocks))
	}
	if n := len(actionBlocks(blocks)); n != maxApprovals {
		t.Fatalf("%d approvals with buttons, want %d", n, maxApprovals)
	}
	for _, want := range []string{"5 more waiting for approval", "16 earlier decisions", "*env24* rejected"} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q", want)
		}
	}
	for _, b := range blocks {
		if b.Text != nil && utf8.RuneCountInString(b.Text.Text) > maxSection {
			t.Errorf("%s text of %d characters", b.Type, utf8.RuneCountInString(b.Text.Text))
		}
	}
	if strings.Contains(text, "&am…") || strings.Contains(text, "&l…") {
		t.Error("an entity was cut in half")
	}
}

func TestEscapeCut(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"a<b", 10, "a&lt;b"},
		{"a<b", 6, "a&lt;b"},
		{"a<b", 5, "a…"},
		{"&&&", 11, "&amp;&amp;…"},
		{"ééé", 2, "é…"},
		{"", 3, ""},
	} {
		if got := escapeCut(tc.in, tc.n); got != tc.want {
			t.Errorf("escapeCut(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestValidEnv(t *testing.T) {
	for s, want := range map[string]bool{
		"prod": true, "eu-west-1": true, "a": true, "0": true, "a_b": true, strings.Repeat("a", 63): true,
		"": false, "-a": false, "_a": false, "Prod": false, "a b": false, "a.b": false, "é": false, strings.Repeat("a", 64): false,
	} {
		if got := validEnv(s); got != want {
			t.Errorf("validEnv(%q) = %v", s, got)
		}
	}
}
