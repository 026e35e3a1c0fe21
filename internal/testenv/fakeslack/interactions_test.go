package fakeslack_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/gitops-runner/runner/internal/testenv/fakeslack"
)

// The payload the fake builds is what slack-go reads from a real Slack: signed as Slack signs, parsed into an
// InteractionCallback with its block action.
func TestBlockActionPayloadIsWhatSlackGoReads(t *testing.T) {
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	payload := fakeslack.BlockActionPayload("U123", "alice", "runner_approve", `{"run":42,"env":"prod"}`, "https://hooks.slack.com/actions/T/1/x")
	body, headers := fakeslack.SignedInteraction(secret, payload, time.Now())

	sv, err := slack.NewSecretsVerifier(headers, secret)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = sv.Write(body)
	if err := sv.Ensure(); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if other, err := slack.NewSecretsVerifier(headers, "another-secret"); err == nil {
		_, _ = other.Write(body)
		if other.Ensure() == nil {
			t.Fatal("signature verifies with another secret")
		}
	}

	req, _ := http.NewRequest(http.MethodPost, "http://runner/slack/interactions", bytes.NewReader(body))
	req.Header = headers
	cb, err := slack.InteractionCallbackParse(req)
	if err != nil {
		t.Fatal(err)
	}
	if cb.Type != slack.InteractionTypeBlockActions || cb.User.ID != "U123" || cb.User.Username != "alice" || cb.User.TeamID != fakeslack.TeamID ||
		cb.Team.ID != fakeslack.TeamID || cb.Channel.ID != fakeslack.ChannelID || cb.ResponseURL != "https://hooks.slack.com/actions/T/1/x" ||
		cb.Container.ChannelID != fakeslack.ChannelID || cb.Message.Timestamp == "" {
		t.Fatalf("callback %+v", cb)
	}
	acts := cb.ActionCallback.BlockActions
	if len(acts) != 1 || acts[0].ActionID != "runner_approve" || acts[0].Value != `{"run":42,"env":"prod"}` ||
		acts[0].BlockID == "" || acts[0].Type != "button" || acts[0].ActionTs == "" {
		t.Fatalf("block actions %+v", acts)
	}
	again := fakeslack.BlockActionPayload("U123", "alice", "runner_approve", "v", "")
	if bytes.Equal(again, payload) {
		t.Fatal("two clicks give the same payload")
	}
}

func TestUserGroupMembers(t *testing.T) {
	ctx := context.Background()
	fake, api := start(t)
	fake.SetUserGroup("S0SRE", "U1", "U2")
	fake.SetUserGroup("S0EMPTY")
	for _, tc := range []struct {
		group   string
		want    []string
		wantErr string
	}{
		{"S0SRE", []string{"U1", "U2"}, ""},
		{"S0EMPTY", []string{}, ""},
		{"S0NONE", nil, "no_such_subteam"},
	} {
		t.Run(tc.group, func(t *testing.T) {
			got, err := api.GetUserGroupMembersContext(ctx, tc.group)
			if tc.wantErr != "" {
				var se slack.SlackErrorResponse
				if !errors.As(err, &se) || se.Err != tc.wantErr {
					t.Fatalf("err %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("members %v, %v", got, err)
			}
		})
	}
	wrong := slack.New("xoxb-wrong", slack.OptionAPIURL(fake.APIURL()), slack.OptionHTTPClient(fake.HTTPClient()))
	var se slack.SlackErrorResponse
	if _, err := wrong.GetUserGroupMembersContext(ctx, "S0SRE"); !errors.As(err, &se) || se.Err != "invalid_auth" {
		t.Fatalf("wrong token: %v", err)
	}
}

func TestResponseURLKeepsWhatWasPosted(t *testing.T) {
	fake, _ := start(t)
	post := func(body string) int {
		resp, err := fake.HTTPClient().Post(fake.ResponseURL(), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(`{"response_type":"ephemeral","replace_original":false,"text":"Approved prod"}`); code != 200 {
		t.Fatalf("status %d", code)
	}
	if code := post(`not json`); code != 400 {
		t.Fatalf("bad body: status %d", code)
	}
	got := fake.Responses()
	if len(got) != 1 || got[0].ResponseType != "ephemeral" || got[0].ReplaceOriginal || got[0].Text != "Approved prod" {
		t.Fatalf("responses %+v", got)
	}
}

// Slack refuses blocks over its limits with invalid_blocks; so does the fake, so tests catch a message Slack
// would drop.
func TestBlockKitLimits(t *testing.T) {
	text := func(n int) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, strings.Repeat("x", n), false, false)
	}
	section := func(id string, n int) slack.Block {
		return slack.NewSectionBlock(text(n), nil, nil, slack.SectionBlockOptionBlockID(id))
	}
	button := func(actionID, value string) slack.BlockElement {
		return slack.NewButtonBlockElement(actionID, value, slack.NewTextBlockObject(slack.PlainTextType, "Go", false, false))
	}
	many := make([]slack.Block, 51)
	for i := range many {
		many[i] = section("", 1)
	}
	for _, tc := range []struct {
		name   string
		blocks []slack.Block
		ok     bool
	}{
		{"within limits", []slack.Block{section("a", 3000), slack.NewActionBlock("b", button("x", strings.Repeat("v", 2000)), button("y", "v"))}, true},
		{"51 blocks", many, false},
		{"repeated block_id", []slack.Block{section("a", 1), section("a", 1)}, false},
		{"section text over 3000", []slack.Block{section("", 3001)}, false},
		{"button value over 2000", []slack.Block{slack.NewActionBlock("b", button("x", strings.Repeat("v", 2001)))}, false},
		{"action_id over 255", []slack.Block{slack.NewActionBlock("b", button(strings.Repeat("a", 256), "v"))}, false},
		{"repeated action_id", []slack.Block{slack.NewActionBlock("b", button("x", "1"), button("x", "2"))}, false},
		{"context over 10 elements", []slack.Block{slack.NewContextBlock("", text(1), text(1), text(1), text(1), text(1), text(1), text(1), text(1), text(1), text(1), text(1))}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, api := start(t)
			_, _, err := api.PostMessageContext(context.Background(), "#d", slack.MsgOptionText("t", false), slack.MsgOptionBlocks(tc.blocks...))
			var se slack.SlackErrorResponse
			switch {
			case tc.ok && err != nil:
				t.Fatal(err)
			case !tc.ok && (!errors.As(err, &se) || se.Err != "invalid_blocks"):
				t.Fatalf("err %v, want invalid_blocks", err)
			}
		})
	}
}
