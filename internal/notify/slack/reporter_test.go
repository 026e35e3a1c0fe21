package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/testenv/fakeslack"
)

const botToken = "xoxb-1-abcdef"

var fast = RetryPolicy{MaxAttempts: 1000, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, RequestTimeout: 5 * time.Second}

func startSlack(t *testing.T) *fakeslack.Server {
	t.Helper()
	fake := fakeslack.New(fakeslack.Config{Token: botToken})
	t.Cleanup(fake.Close)
	return fake
}

func botReporter(t *testing.T, fake *fakeslack.Server, p RetryPolicy) *Reporter {
	t.Helper()
	r := NewReporter(Options{Token: botToken, Channel: "#deploys", APIURL: fake.APIURL(), HTTPClient: fake.HTTPClient(), Retry: p})
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func deploy(states ...string) Deploy {
	d := Deploy{Repo: "acme/shop", Commit: "0123456789abcdef", Author: "alice", RunURL: "https://runner/runs/9",
		Environments: []string{"dev", "staging", "prod"}}
	for i, s := range states {
		d.Stages = append(d.Stages, Stage{Env: d.Environments[i%3], Name: "apply", State: s})
	}
	return d
}

func lastMessage(fake *fakeslack.Server) (fakeslack.Message, bool) {
	msgs := fake.Messages()
	if len(msgs) == 0 {
		return fakeslack.Message{}, false
	}
	return msgs[len(msgs)-1], true
}

func TestPostThenUpdateTheSameMessage(t *testing.T) {
	fake := startSlack(t)
	r := botReporter(t, fake, fast)
	r.Update(deploy(StateRunning, StatePending))
	eventually(t, "the first post", func() bool { return len(fake.Messages()) == 1 })
	ts := fake.Messages()[0].TS
	r.Update(deploy(StateSuccess, StateRunning))
	r.Update(deploy(StateSuccess, StateSuccess))
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 || msgs[0].TS != ts || msgs[0].Edits == 0 {
		t.Fatalf("want one message edited in place, got %+v", msgs)
	}
	text := msgs[0].BlockText()
	for _, want := range []string{"Deploy acme/shop", "`0123456`", "alice", "dev → staging → prod", ":white_check_mark: *dev* · apply", "<https://runner/runs/9|View run>"} {
		if !strings.Contains(text, want) {
			t.Errorf("message lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, ":hourglass") {
		t.Errorf("message shows a stale state:\n%s", text)
	}
}

func TestUpdatesAreCoalesced(t *testing.T) {
	fake := startSlack(t)
	fake.Down(fakeslack.Failure{Status: 503})
	r := botReporter(t, fake, fast)
	for i := range 50 {
		d := deploy(StateRunning)
		d.Stages[0].Detail = fmt.Sprint("step ", i)
		r.Update(d)
	}
	fake.Up()
	eventually(t, "the latest state", func() bool {
		m, ok := lastMessage(fake)
		return ok && strings.Contains(m.BlockText(), "step 49")
	})
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ok := 0
	for _, c := range fake.Calls() {
		if c.Status == 200 {
			ok++
		}
	}
	if ok > 2 {
		t.Fatalf("%d successful sends for 50 updates while Slack was down; want them coalesced", ok)
	}
}

func TestFailureIsAThreadedReplyWithTheLogTail(t *testing.T) {
	fake := startSlack(t)
	r := botReporter(t, fake, fast)
	r.Update(deploy(StateFailed))
	var log []string
	for i := range 100 {
		log = append(log, fmt.Sprintf("log line %03d", i))
	}
	log = append(log, "Error: creating ECS Service <api> & friends: ```AccessDenied```")
	r.Failure(Stage{Env: "dev", Name: "apply", State: StateFailed, Detail: "terraform apply exited 1"}, log)
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d top-level messages", len(msgs))
	}
	th := fake.Thread(msgs[0].TS)
	if len(th) != 1 {
		t.Fatalf("thread %+v", th)
	}
	text := th[0].BlockText()
	for _, want := range []string{"*dev* · apply failed: terraform apply exited 1", "log line 099", "&lt;api&gt; &amp; friends"} {
		if !strings.Contains(text, want) {
			t.Errorf("reply lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "log line 000") || strings.Count(text, "```") != 2 || len(text) > maxSection+200 {
		t.Errorf("log tail not capped or fence broken (%d bytes):\n%s", len(text), text)
	}
}

func TestSlackErrorsNeverBlockUpdate(t *testing.T) {
	fake := startSlack(t)
	fake.FailNext(20, fakeslack.Failure{Status: 500})
	r := botReporter(t, fake, RetryPolicy{MaxAttempts: 100, BaseDelay: 2 * time.Millisecond, MaxDelay: 10 * time.Millisecond})
	for i := range 30 {
		d := deploy(StateRunning)
		d.Stages[0].Detail = fmt.Sprint("update ", i)
		start := time.Now()
		r.Update(d)
		r.Failure(Stage{Env: "dev", Name: fmt.Sprint("s", i), State: StateFailed}, []string{"x"})
		if el := time.Since(start); el > 5*time.Millisecond {
			t.Fatalf("Update+Failure took %v", el)
		}
	}
	eventually(t, "updates to land after the 500s", func() bool {
		m, ok := lastMessage(fake)
		return ok && strings.Contains(m.BlockText(), "update 29") && len(fake.Thread(m.TS)) == 30
	})
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSlackDownForGoodCloseKeepsItsDeadline(t *testing.T) {
	for _, tc := range []struct {
		name    string
		failure fakeslack.Failure
	}{
		{"500s", fakeslack.Failure{Status: 500}},
		{"429s", fakeslack.Failure{Status: 429, RetryAfter: 30 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := startSlack(t)
			fake.Down(tc.failure)
			r := botReporter(t, fake, RetryPolicy{MaxAttempts: 1000, BaseDelay: 10 * time.Millisecond, MaxDelay: time.Minute})
			r.Update(deploy(StateRunning))
			r.Failure(Stage{Env: "dev", Name: "plan", State: StateFailed}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := r.Close(ctx)
			if el := time.Since(start); el > 400*time.Millisecond {
				t.Fatalf("Close took %v past its 200ms deadline", el)
			}
			if !errors.Is(err, ErrUndelivered) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Close = %v", err)
			}
			r.Update(deploy(StateSuccess)) // after Close: ignored, does not block or panic
		})
	}
}

func TestGivesUpAfterItsBudget(t *testing.T) {
	fake := startSlack(t)
	fake.Down(fakeslack.Failure{Status: 502})
	r := botReporter(t, fake, RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})
	r.Update(deploy(StateRunning))
	err := r.Close(context.Background())
	if !errors.Is(err, ErrUndelivered) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v", err)
	}
	if n := len(fake.Calls()); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
}

func TestRateLimitHonoursRetryAfter(t *testing.T) {
	fake := startSlack(t)
	fake.FailNext(1, fakeslack.Failure{Status: 429, RetryAfter: time.Second})
	r := botReporter(t, fake, RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Second})
	r.Update(deploy(StateRunning))
	eventually(t, "the post after the rate limit", func() bool { return len(fake.Messages()) == 1 })
	calls := fake.Calls()
	if len(calls) != 2 || calls[0].Status != 429 {
		t.Fatalf("calls %+v", calls)
	}
	if gap := calls[1].At.Sub(calls[0].At); gap < 950*time.Millisecond {
		t.Fatalf("retried after %v, before Retry-After", gap)
	}
}

func TestNonRetryableErrorsAreDroppedAtOnce(t *testing.T) {
	fake := startSlack(t)
	r := NewReporter(Options{Token: "xoxb-wrong", Channel: "#d", APIURL: fake.APIURL(), HTTPClient: fake.HTTPClient(), Retry: fast})
	r.Update(deploy(StateRunning))
	if err := r.Close(context.Background()); !errors.Is(err, ErrUndelivered) {
		t.Fatalf("Close = %v", err)
	}
	if n := len(fake.Calls()); n != 1 {
		t.Fatalf("invalid_auth retried: %d calls", n)
	}
}

func TestWebhookPostsStartFailureAndEnd(t *testing.T) {
	fake := startSlack(t)
	r := NewReporter(Options{WebhookURL: fake.WebhookURL(), HTTPClient: fake.HTTPClient(), Retry: fast})
	r.Update(deploy(StateRunning, StatePending))
	eventually(t, "the start message", func() bool { return len(fake.Messages()) == 1 })
	r.Update(deploy(StateSuccess, StateRunning)) // cannot be edited in: held back
	r.Failure(Stage{Env: "staging", Name: "apply", State: StateFailed}, []string{"boom"})
	eventually(t, "the failure message", func() bool { return len(fake.Messages()) == 2 })
	r.Update(deploy(StateSuccess, StateFailed, StatePending)) // final: a failure stops the rest
	eventually(t, "the final message", func() bool { return len(fake.Messages()) == 3 })
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 3 {
		t.Fatalf("%d messages", len(msgs))
	}
	for i, want := range []string{":hourglass_flowing_sand: *running*", "boom", ":x: *failed*"} {
		if !msgs[i].Webhook || !strings.Contains(msgs[i].BlockText(), want) {
			t.Errorf("message %d lacks %q:\n%s", i, want, msgs[i].BlockText())
		}
	}
}

func TestWebhookPostsTheLastStateAtClose(t *testing.T) {
	fake := startSlack(t)
	r := NewReporter(Options{WebhookURL: fake.WebhookURL(), HTTPClient: fake.HTTPClient(), Retry: fast})
	r.Update(deploy(StateRunning))
	eventually(t, "the start message", func() bool { return len(fake.Messages()) == 1 })
	r.Update(deploy(StateRunning, StateRunning))
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Messages()); n != 2 {
		t.Fatalf("%d messages, want start and end", n)
	}
}

func TestZeroConfigIsANoop(t *testing.T) {
	for _, opts := range []Options{{}, {Token: botToken}} {
		r := NewReporter(opts)
		r.Update(deploy(StateRunning))
		r.Failure(Stage{}, nil)
		if err := r.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDeployBlocks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		d       Deploy
		want    []string
		overall string
		final   bool
	}{
		{"all states", Deploy{Repo: "a/b", Commit: "abc", Stages: []Stage{
			{Env: "dev", Name: "plan", State: StateSuccess}, {Env: "dev", Name: "apply", State: StateRunning},
			{Env: "prod", Name: "apply", State: StatePending}, {Env: "prod", Name: "refresh", State: StateSkipped},
		}}, []string{":white_check_mark: *dev* · plan", ":hourglass_flowing_sand: *dev* · apply", ":white_circle: *prod* · apply", ":fast_forward: *prod* · refresh"}, StateRunning, false},
		{"escapes mrkdwn", Deploy{Repo: "a/b", Commit: "abc", Author: "<bob>", Stages: []Stage{{Env: "dev", Name: "x", State: StateFailed, Detail: "a & b"}}},
			[]string{"&lt;bob&gt;", "a &amp; b", ":x:"}, StateFailed, true},
		{"no stages yet", Deploy{Repo: "a/b"}, []string{"Deploy a/b"}, StatePending, false},
		{"done", Deploy{Repo: "a/b", Stages: []Stage{{State: StateSuccess}, {State: StateSkipped}}}, nil, StateSuccess, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := startSlack(t)
			r := botReporter(t, fake, fast)
			r.Update(tc.d)
			if err := r.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			text := fake.Messages()[0].BlockText()
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("lacks %q:\n%s", w, text)
				}
			}
			if got := overall(tc.d); got != tc.overall {
				t.Errorf("overall %s want %s", got, tc.overall)
			}
			if got := finished(tc.d); got != tc.final {
				t.Errorf("finished %v want %v", got, tc.final)
			}
		})
	}
}

// Stage details and log tails reach Slack redacted, even when the caller did not redact them: the reporter's
// own token and credential shapes never show.
func TestMessagesCarryNoCredentials(t *testing.T) {
	const ghToken = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
	fake := startSlack(t)
	r := botReporter(t, fake, fast)
	d := deploy(StateFailed)
	d.Stages[0].Detail = "push failed for " + ghToken
	r.Update(d)
	r.Failure(Stage{Env: "dev", Name: "apply", State: StateFailed, Detail: "token " + botToken},
		[]string{"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "done"})
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d top-level messages", len(msgs))
	}
	text := msgs[0].BlockText()
	for _, m := range fake.Thread(msgs[0].TS) {
		text += "\n" + m.BlockText()
	}
	for _, leak := range []string{ghToken, botToken, "AKIAIOSFODNN7EXAMPLE"} {
		if strings.Contains(text, leak) {
			t.Errorf("Slack shows %q:\n%s", leak, text)
		}
	}
	for _, want := range []string{"[redacted: github-token]", "[redacted: slack-token]", "[redacted: aws-access-key-id]"} {
		if !strings.Contains(text, want) {
			t.Errorf("Slack lacks %q:\n%s", want, text)
		}
	}
}

// A deploy that waited for an approval (or outlived a restart) resumes its story in the message it started.
func TestResumedStoryUpdatesTheSameMessage(t *testing.T) {
	fake := startSlack(t)
	first := botReporter(t, fake, fast)
	if ch, ts := first.TS(); ch != "" || ts != "" {
		t.Fatalf("TS before posting: %q %q", ch, ts)
	}
	waiting := deploy(StateSuccess, StateSuccess, StatePending)
	waiting.Approvals = []Approval{{RunID: 9, Env: "prod", Why: "prod requires approval"}}
	first.Update(waiting)
	eventually(t, "TS to say where the message is", func() bool { _, ts := first.TS(); return ts != "" })
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ch, ts := first.TS()
	if msgs := fake.Messages(); len(msgs) != 1 || msgs[0].TS != ts || msgs[0].Channel != ch {
		t.Fatalf("TS() = %q %q, messages %+v", ch, ts, msgs)
	}

	resumed := NewReporter(Options{Token: botToken, Channel: ch, TS: ts, APIURL: fake.APIURL(), HTTPClient: fake.HTTPClient(), Retry: fast})
	t.Cleanup(func() { _ = resumed.Close(context.Background()) })
	done := deploy(StateSuccess, StateSuccess, StateFailed)
	done.Decisions = []Decision{{Env: "prod", State: DecisionApproved, By: "alice", Channel: "slack"}}
	resumed.Update(done)
	resumed.Failure(Stage{Env: "prod", Name: "apply", State: StateFailed}, []string{"boom"})
	if err := resumed.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 || msgs[0].TS != ts || msgs[0].Edits != 1 {
		t.Fatalf("want the one message edited, got %+v", msgs)
	}
	text := msgs[0].BlockText()
	if !strings.Contains(text, "*prod* approved by alice via slack") || strings.Contains(text, "waiting for approval") {
		t.Errorf("message not brought up to date:\n%s", text)
	}
	if th := fake.Thread(ts); len(th) != 1 || !strings.Contains(th[0].BlockText(), "boom") {
		t.Errorf("failure not threaded under the resumed message: %+v", th)
	}
	if c, s := resumed.TS(); c != ch || s != ts {
		t.Errorf("resumed TS() = %q %q, want %q %q", c, s, ch, ts)
	}
}

// The message to resume was deleted: the story starts again in a new one, and TS says where.
func TestResumingADeletedMessagePostsANewOne(t *testing.T) {
	fake := startSlack(t)
	first := botReporter(t, fake, fast)
	first.Update(deploy(StateRunning))
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ch, _ := first.TS()
	r := NewReporter(Options{Token: botToken, Channel: ch, TS: "1600000000.000001", APIURL: fake.APIURL(), HTTPClient: fake.HTTPClient(), Retry: fast})
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	r.Update(deploy(StateSuccess))
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages()
	c, ts := r.TS()
	if len(msgs) != 2 || msgs[1].TS != ts || c != ch {
		t.Fatalf("TS() = %q %q, messages %+v", c, ts, msgs)
	}
}

func TestTSIsEmptyWithoutABotToken(t *testing.T) {
	fake := startSlack(t)
	for _, opts := range []Options{{}, {WebhookURL: fake.WebhookURL(), HTTPClient: fake.HTTPClient(), Retry: fast, TS: "1.2"}} {
		r := NewReporter(opts)
		r.Update(deploy(StateRunning))
		if err := r.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if ch, ts := r.TS(); ch != "" || ts != "" {
			t.Errorf("TS() = %q %q", ch, ts)
		}
	}
}

func TestTitleHeadsTheMessage(t *testing.T) {
	d := deploy(StateFailed)
	if got := deployText(d); !strings.HasPrefix(got, "Deploy acme/shop") {
		t.Errorf("default text %q", got)
	}
	d.Title = "Drift in"
	if got := deployText(d); !strings.HasPrefix(got, "Drift in acme/shop") {
		t.Errorf("text %q", got)
	}
	b, err := json.Marshal(deployBlocks(d))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"text":"Drift in acme/shop"`) {
		t.Errorf("blocks %s", b)
	}
}
