package fakeslack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/gitops-runner/runner/internal/testenv/fakeslack"
)

const token = "xoxb-test-token"

func start(t *testing.T) (*fakeslack.Server, *slack.Client) {
	t.Helper()
	fake := fakeslack.New(fakeslack.Config{Token: token})
	t.Cleanup(fake.Close)
	return fake, slack.New(token, slack.OptionAPIURL(fake.APIURL()), slack.OptionHTTPClient(fake.HTTPClient()))
}

func TestPostUpdateAndThread(t *testing.T) {
	ctx := context.Background()
	fake, api := start(t)
	block := slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*dev* running", false, false), nil, nil)
	ch, ts, err := api.PostMessageContext(ctx, "#deploys", slack.MsgOptionText("deploy", false), slack.MsgOptionBlocks(block))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ch, "C") || ts == "" {
		t.Fatalf("channel %q ts %q", ch, ts)
	}
	done := slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*dev* done", false, false), nil, nil)
	if _, _, _, err := api.UpdateMessageContext(ctx, ch, ts, slack.MsgOptionText("deploy", false), slack.MsgOptionBlocks(done)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.PostMessageContext(ctx, ch, slack.MsgOptionText("it failed", false), slack.MsgOptionTS(ts)); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 || msgs[0].TS != ts || msgs[0].Edits != 1 || msgs[0].BlockText() != "*dev* done" {
		t.Fatalf("messages %+v", msgs)
	}
	if th := fake.Thread(ts); len(th) != 1 || th[0].Text != "it failed" {
		t.Fatalf("thread %+v", th)
	}
	// Posting again to the channel by name lands in the same channel.
	ch2, _, err := api.PostMessageContext(ctx, "deploys", slack.MsgOptionText("again", false))
	if err != nil || ch2 != ch {
		t.Fatalf("channel %q vs %q: %v", ch2, ch, err)
	}
}

func TestSlackErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(*fakeslack.Server) *slack.Client
		call  func(*slack.Client) error
		check func(error) bool
	}{
		{"wrong token", func(f *fakeslack.Server) *slack.Client {
			return slack.New("xoxb-wrong", slack.OptionAPIURL(f.APIURL()))
		}, func(c *slack.Client) error {
			_, _, err := c.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false))
			return err
		}, func(err error) bool {
			var se slack.SlackErrorResponse
			return errors.As(err, &se) && se.Err == "invalid_auth"
		}},
		{"update unknown message", nil, func(c *slack.Client) error {
			_, _, err := c.PostMessageContext(ctx, "#x", slack.MsgOptionText("x", false))
			if err != nil {
				return err
			}
			_, _, _, err = c.UpdateMessageContext(ctx, "C00000001", "1.000000", slack.MsgOptionText("x", false))
			return err
		}, func(err error) bool {
			var se slack.SlackErrorResponse
			return errors.As(err, &se) && se.Err == "message_not_found"
		}},
		{"500", func(f *fakeslack.Server) *slack.Client {
			f.FailNext(1, fakeslack.Failure{Status: 500})
			return nil
		}, func(c *slack.Client) error {
			_, _, err := c.PostMessageContext(ctx, "#x", slack.MsgOptionText("x", false))
			return err
		}, func(err error) bool {
			var sc slack.StatusCodeError
			return errors.As(err, &sc) && sc.Code == 500
		}},
		{"429", func(f *fakeslack.Server) *slack.Client {
			f.FailNext(1, fakeslack.Failure{Status: 429, RetryAfter: 7 * time.Second})
			return nil
		}, func(c *slack.Client) error {
			_, _, err := c.PostMessageContext(ctx, "#x", slack.MsgOptionText("x", false))
			return err
		}, func(err error) bool {
			var rl *slack.RateLimitedError
			return errors.As(err, &rl) && rl.RetryAfter == 7*time.Second
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, api := start(t)
			if tc.setup != nil {
				if c := tc.setup(fake); c != nil {
					api = c
				}
			}
			if err := tc.call(api); !tc.check(err) {
				t.Fatalf("unexpected error %T %v", err, err)
			}
		})
	}
}

func TestJSONBodyAndWebhook(t *testing.T) {
	fake, _ := start(t)
	body, _ := json.Marshal(map[string]any{"channel": "#j", "text": "json", "blocks": []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "hello"}}}})
	req, _ := http.NewRequest(http.MethodPost, fake.APIURL()+"chat.postMessage", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := fake.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		OK bool   `json:"ok"`
		TS string `json:"ts"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if !out.OK || out.TS == "" {
		t.Fatalf("json post: %+v", out)
	}
	msg := &slack.WebhookMessage{Text: "from webhook"}
	if err := slack.PostWebhookCustomHTTPContext(context.Background(), fake.WebhookURL(), fake.HTTPClient(), msg); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 2 || msgs[0].BlockText() != "hello" || !msgs[1].Webhook || msgs[1].Text != "from webhook" {
		t.Fatalf("messages %+v", msgs)
	}
	fake.Down(fakeslack.Failure{Status: 503})
	if err := slack.PostWebhookCustomHTTPContext(context.Background(), fake.WebhookURL(), fake.HTTPClient(), msg); err == nil {
		t.Fatal("down: want error")
	}
	fake.Up()
	if err := slack.PostWebhookCustomHTTPContext(context.Background(), fake.WebhookURL(), fake.HTTPClient(), msg); err != nil {
		t.Fatal(err)
	}
}
