// Package slack tells a deploy's story in Slack: one message per deploy, created at the start and updated as
// stages move, with failures as threaded replies and Approve / Reject buttons on environments that wait for a
// person; it takes the clicks back (Interactions) and answers user-group membership (Groups). Slack trouble
// never fails or slows the deploy.
package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/gitops-runner/runner/internal/redact"
)

// Options configure a Reporter. With Token (a bot token, chat:write) and Channel, the deploy message is posted once
// and updated in place, failures go in its thread. With only WebhookURL (an incoming webhook) a message cannot be
// updated or threaded, so the reporter posts the first state, then the failure as a message of its own, then the
// final state (when every stage is done, or one failed, or at Close). With neither, the Reporter does nothing.
type Options struct {
	Token      string
	WebhookURL string
	Channel    string // channel name or ID, for the bot token; the channel ID when TS is set
	// TS is the ts of an existing deploy message (from TS of an earlier Reporter) to keep updating instead
	// of posting a new one: a deploy that resumes after a restart or an approval keeps its one message.
	// Bot token only; if the message was deleted, a new one is posted.
	TS         string
	APIURL     string // Web API root, e.g. a fake's in tests; empty means slack.com
	HTTPClient *http.Client
	Retry      RetryPolicy
	Logger     *slog.Logger
}

// RetryPolicy bounds the retries of one message on 5xx, 429 and network errors before it is dropped.
type RetryPolicy struct {
	MaxAttempts    int           // 0 means 5
	BaseDelay      time.Duration // first backoff, doubled per attempt; 0 means 1s
	MaxDelay       time.Duration // cap per wait, Retry-After included; 0 means 30s
	RequestTimeout time.Duration // per HTTP request; 0 means 10s
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 5
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = time.Second
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 30 * time.Second
	}
	if p.RequestTimeout <= 0 {
		p.RequestTimeout = 10 * time.Second
	}
	return p
}

// Deploy is what the message shows.
type Deploy struct {
	// Title heads the message before the repository; default "Deploy".
	Title                        string
	Repo, Commit, Author, RunURL string
	Environments                 []string
	Stages                       []Stage
	Approvals                    []Approval // environments waiting for a decision, shown with buttons
	Decisions                    []Decision // decisions made, shown as context lines
}

// Approval is an environment of a run waiting for a person: a section saying what and why, and Approve and
// Reject buttons that reach the Interactions handler.
type Approval struct {
	RunID   int64
	Env     string
	Summary string // the plan in one line, e.g. "2 to add, 1 to change"
	Why     string // why approval is needed: "prod requires approval", "the plan differs from the reviewed plan: 1 changed"
	Expires string // RFC3339, or "" for no expiry
}

// Decision is a decision taken on an approval, shown as "prod approved by alice via slack · reason".
type Decision struct {
	Env     string
	State   string // approved, rejected, expired or superseded
	By      string
	Channel string // the channel it was taken through: slack, comment, dashboard, cli ...
	Reason  string
	At      string // RFC3339, or ""
}

// Stage is one line of the message. State is pending, running, success, failed or skipped.
type Stage struct {
	Env, Name, State, Detail string
}

// ErrUndelivered is returned by Close when some messages were dropped.
var ErrUndelivered = errors.New("slack messages not delivered")

// Reporter sends a deploy's messages from one background goroutine; its methods never block on Slack.
// One Reporter per deploy.
type Reporter struct {
	noop    bool
	api     *slack.Client
	webhook string
	hc      *http.Client
	channel string
	policy  RetryPolicy
	log     *slog.Logger
	redact  *redact.Redactor // the token, the webhook URL (itself a secret) and credential shapes

	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}

	mu       sync.Mutex
	closed   bool
	latest   Deploy
	version  int // bumped by every Update
	sent     int // the last version delivered or given up on
	started  bool
	failures []failure
	dropped  int

	// where the message is, once delivered (for TS)
	postedChannel, postedTS string

	// owned by the goroutine
	ts, channelID string
}

type failure struct {
	stage Stage
	tail  []string
}

// NewReporter starts a Reporter; Close stops it.
func NewReporter(opts Options) *Reporter {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	switch {
	case opts.Token == "" && opts.WebhookURL == "":
		return &Reporter{noop: true}
	case opts.Token != "" && opts.Channel == "":
		log.Warn("slack: bot token set without a channel; not reporting")
		return &Reporter{noop: true}
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	r := &Reporter{
		hc: hc, channel: opts.Channel, policy: opts.Retry.withDefaults(), log: log,
		redact: redact.New(redact.Secret{Kind: redact.KindSlackToken, Value: opts.Token},
			redact.Secret{Kind: redact.KindSlackWebhook, Value: opts.WebhookURL}),
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	if opts.Token != "" {
		o := []slack.Option{slack.OptionHTTPClient(hc)}
		if opts.APIURL != "" {
			o = append(o, slack.OptionAPIURL(opts.APIURL))
		}
		r.api = slack.New(opts.Token, o...)
		r.ts, r.channelID = opts.TS, opts.Channel
	} else {
		r.webhook = opts.WebhookURL
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go r.run()
	return r
}

// Update records the deploy's latest state; the message shows it soon. Intermediate states may be skipped.
func (r *Reporter) Update(d Deploy) {
	if r.noop {
		return
	}
	d.Stages = slices.Clone(d.Stages)
	d.Environments = slices.Clone(d.Environments)
	d.Approvals = slices.Clone(d.Approvals)
	d.Decisions = slices.Clone(d.Decisions)
	for i := range d.Stages {
		d.Stages[i].Detail = r.redact.String(d.Stages[i].Detail)
	}
	for i := range d.Approvals {
		a := &d.Approvals[i]
		a.Summary, a.Why = r.redact.String(a.Summary), r.redact.String(a.Why)
	}
	for i := range d.Decisions {
		d.Decisions[i].Reason = r.redact.String(d.Decisions[i].Reason)
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.latest = d
	r.version++
	r.mu.Unlock()
	r.signal()
}

// Failure posts the failing stage with the last lines of its log, in the deploy message's thread.
func (r *Reporter) Failure(stage Stage, logTail []string) {
	if r.noop {
		return
	}
	if len(logTail) > maxLogLines {
		logTail = logTail[len(logTail)-maxLogLines:]
	}
	stage.Detail = r.redact.String(stage.Detail)
	tail := make([]string, len(logTail))
	for i, l := range logTail {
		tail[i] = r.redact.String(l)
	}
	r.mu.Lock()
	if !r.closed {
		r.failures = append(r.failures, failure{stage: stage, tail: tail})
	}
	r.mu.Unlock()
	r.signal()
}

// TS is where the deploy message is: the channel ID and ts of the message, once it was first posted (or, with
// Options.TS, first updated); empty before, and always with an incoming webhook. Store them to resume the
// story later with Options.TS. Safe for concurrent use.
func (r *Reporter) TS() (channelID, ts string) {
	if r.noop {
		return "", ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.postedChannel, r.postedTS
}

// Close sends what is pending until ctx ends, then stops. It returns ErrUndelivered (wrapped) when messages were
// dropped; a deploy should log that, not fail.
func (r *Reporter) Close(ctx context.Context) error {
	if r.noop {
		return nil
	}
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.signal()
	var err error
	select {
	case <-r.done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	r.cancel()
	<-r.done // prompt: requests and waits all use r.ctx
	r.mu.Lock()
	defer r.mu.Unlock()
	lost := r.dropped + len(r.failures)
	if r.version > r.sent {
		lost++
	}
	switch {
	case err != nil:
		return fmt.Errorf("slack reporter: %d %w by the deadline: %w", lost, ErrUndelivered, err)
	case lost > 0:
		return fmt.Errorf("slack reporter: %d %w", lost, ErrUndelivered)
	}
	return nil
}

func (r *Reporter) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Reporter) run() {
	defer close(r.done)
	for {
		r.drain()
		r.mu.Lock()
		closed := r.closed
		r.mu.Unlock()
		if closed || r.ctx.Err() != nil {
			return
		}
		select {
		case <-r.wake:
		case <-r.ctx.Done():
			return
		}
	}
}

// drain sends until nothing is pending.
func (r *Reporter) drain() {
	for r.ctx.Err() == nil {
		job := r.next()
		if job == nil {
			return
		}
		job()
	}
}

// next picks the next send: the deploy message first (a thread needs it), then failures in order.
func (r *Reporter) next() func() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.version > r.sent {
		// A webhook cannot edit: post the first state and the final one, nothing in between.
		if r.api != nil || !r.started || finished(r.latest) || r.closed {
			return r.sendDeploy
		}
	}
	if len(r.failures) > 0 {
		f := r.failures[0]
		return func() { r.sendFailure(f) }
	}
	return nil
}

func (r *Reporter) sendDeploy() {
	var v int
	ok := r.retry("deploy message", func(ctx context.Context) error {
		r.mu.Lock()
		d := r.latest
		v = r.version
		r.mu.Unlock()
		return r.postDeploy(ctx, d)
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = max(r.sent, v)
	if ok {
		r.started = true
	} else {
		r.dropped++
	}
}

func (r *Reporter) postDeploy(ctx context.Context, d Deploy) error {
	text, blocks := deployText(d), deployBlocks(d)
	if r.api == nil {
		return slack.PostWebhookCustomHTTPContext(ctx, r.webhook, r.hc, &slack.WebhookMessage{Text: text, Blocks: &slack.Blocks{BlockSet: blocks}})
	}
	opts := []slack.MsgOption{slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...)}
	if r.ts != "" {
		_, _, _, err := r.api.UpdateMessageContext(ctx, r.channelID, r.ts, opts...)
		if err == nil {
			r.posted(r.channelID, r.ts)
		}
		var se slack.SlackErrorResponse
		if !errors.As(err, &se) || se.Err != "message_not_found" {
			return err
		}
		r.ts = "" // someone deleted the message: post a new one
	}
	ch, ts, err := r.api.PostMessageContext(ctx, r.channel, opts...)
	if err == nil {
		r.channelID, r.ts = ch, ts
		r.posted(ch, ts)
	}
	return err
}

func (r *Reporter) posted(channelID, ts string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.postedChannel, r.postedTS = channelID, ts
}

func (r *Reporter) sendFailure(f failure) {
	text, blocks := failureBlocks(f.stage, f.tail)
	ok := r.retry("failure message", func(ctx context.Context) error {
		if r.api == nil {
			return slack.PostWebhookCustomHTTPContext(ctx, r.webhook, r.hc, &slack.WebhookMessage{Text: text, Blocks: &slack.Blocks{BlockSet: blocks}})
		}
		opts := []slack.MsgOption{slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...)}
		channel := r.channel
		if r.ts != "" {
			channel = r.channelID
			opts = append(opts, slack.MsgOptionTS(r.ts))
		}
		_, _, err := r.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = r.failures[1:]
	if !ok {
		r.dropped++
	}
}

// retry runs op until it succeeds, fails for good, runs out of attempts or the reporter stops.
func (r *Reporter) retry(what string, op func(ctx context.Context) error) bool {
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(r.ctx, r.policy.RequestTimeout)
		err := op(ctx)
		cancel()
		if err == nil {
			return true
		}
		if r.ctx.Err() != nil {
			r.log.Warn("slack: stopped before delivering", "what", what)
			return false
		}
		delay, again := r.delay(err, attempt)
		if !again || attempt >= r.policy.MaxAttempts {
			r.log.Warn("slack: dropping message", "what", what, "attempts", attempt, "err", r.redact.String(err.Error()))
			return false
		}
		r.log.Debug("slack: retrying", "what", what, "attempt", attempt, "delay", delay, "err", r.redact.String(err.Error()))
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.ctx.Done():
			t.Stop()
			return false
		}
	}
}

// delay says whether err is worth another attempt and when: Slack's Retry-After for 429, backoff for 5xx,
// Slack's transient API errors and network trouble; never for auth or argument errors.
func (r *Reporter) delay(err error, attempt int) (time.Duration, bool) {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return min(max(rl.RetryAfter, r.policy.BaseDelay), r.policy.MaxDelay), true
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		return r.backoff(attempt), sc.Code >= 500
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout":
			return r.backoff(attempt), true
		}
		return 0, false
	}
	// Network errors and per-request timeouts.
	return r.backoff(attempt), true
}

func (r *Reporter) backoff(attempt int) time.Duration {
	d := r.policy.BaseDelay << min(attempt-1, 20)
	if d <= 0 || d > r.policy.MaxDelay {
		d = r.policy.MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}
