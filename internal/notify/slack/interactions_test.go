package slack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/testenv/fakeslack"
)

const signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// recordingDecider is a Decider that remembers what it was asked and answers with msg or err; with hold set it
// waits for hold to close (or its ctx to end) before answering.
type recordingDecider struct {
	msg  string
	err  error
	hold chan struct{}

	mu     sync.Mutex
	got    []ButtonDecision
	ctxErr error
}

func (d *recordingDecider) Decide(ctx context.Context, b ButtonDecision) (string, error) {
	d.mu.Lock()
	d.got = append(d.got, b)
	d.mu.Unlock()
	if d.hold != nil {
		select {
		case <-d.hold:
		case <-ctx.Done():
			d.mu.Lock()
			d.ctxErr = ctx.Err()
			d.mu.Unlock()
			return "", ctx.Err()
		}
	}
	return d.msg, d.err
}

func (d *recordingDecider) decisions() []ButtonDecision {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]ButtonDecision(nil), d.got...)
}

// lockedBuffer is a log destination the handler's goroutines and the test may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type interactionsEnv struct {
	fake *fakeslack.Server
	h    *Interactions
	url  string
	dec  *recordingDecider
	log  *lockedBuffer
}

func startInteractions(t *testing.T, dec *recordingDecider, maxBody int64) *interactionsEnv {
	t.Helper()
	fake := startSlack(t)
	logs := &lockedBuffer{}
	h, err := NewInteractions(InteractionsOptions{
		SigningSecret: signingSecret, Decider: dec, HTTPClient: fake.HTTPClient(), MaxBody: maxBody,
		ResponseURLPrefix: fake.ResponseURL(), Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		_ = h.Close(context.Background())
	})
	return &interactionsEnv{fake: fake, h: h, url: srv.URL, dec: dec, log: logs}
}

func (e *interactionsEnv) send(t *testing.T, body []byte, headers http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = headers.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *interactionsEnv) click(actionID, value string) []byte {
	return fakeslack.BlockActionPayload("U0ALICE", "alice", actionID, value, e.fake.ResponseURL())
}

func TestNewInteractionsNeedsASecretAndADecider(t *testing.T) {
	if _, err := NewInteractions(InteractionsOptions{Decider: &recordingDecider{}}); err == nil {
		t.Error("no signing secret: want an error")
	}
	if _, err := NewInteractions(InteractionsOptions{SigningSecret: "s"}); err == nil {
		t.Error("no decider: want an error")
	}
	if _, err := NewInteractions(InteractionsOptions{SigningSecret: "s", Decider: &recordingDecider{}, ResponseURLPrefix: "ftp://x"}); err == nil {
		t.Error("odd response URL prefix: want an error")
	}
}

func TestSignedClickIsDecidedOnceAndAnswered(t *testing.T) {
	for _, tc := range []struct {
		name     string
		actionID string
		dec      *recordingDecider
		approve  bool
		answer   string
	}{
		{"approve", ActionApprove, &recordingDecider{msg: "Approved prod for run 42 <as alice>"}, true, "Approved prod for run 42 &lt;as alice&gt;"},
		{"reject", ActionReject, &recordingDecider{msg: "Rejected prod"}, false, "Rejected prod"},
		{"refused", ActionApprove, &recordingDecider{err: errors.New("alice may not approve prod")}, true, "Not done: alice may not approve prod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startInteractions(t, tc.dec, 0)
			body, headers := fakeslack.SignedInteraction(signingSecret, e.click(tc.actionID, `{"run":42,"env":"prod"}`), time.Now())
			if code, _ := e.send(t, body, headers); code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			e.h.Wait()
			want := ButtonDecision{RunID: 42, Env: "prod", Approve: tc.approve, UserID: "U0ALICE", UserName: "alice", TeamID: fakeslack.TeamID}
			if got := tc.dec.decisions(); len(got) != 1 || got[0] != want {
				t.Fatalf("decisions %+v, want one %+v", got, want)
			}
			resp := e.fake.Responses()
			if len(resp) != 1 || resp[0].ResponseType != "ephemeral" || resp[0].ReplaceOriginal || resp[0].Text != tc.answer {
				t.Fatalf("responses %+v, want %q", resp, tc.answer)
			}
			if !strings.Contains(string(resp[0].Body), `"replace_original":false`) {
				t.Fatalf("replace_original not sent: %s", resp[0].Body)
			}
		})
	}
}

// Slack wants an answer within 3 seconds: the click is answered before the decision is made.
func TestClickIsAnsweredBeforeTheDecision(t *testing.T) {
	dec := &recordingDecider{msg: "ok", hold: make(chan struct{})}
	e := startInteractions(t, dec, 0)
	body, headers := fakeslack.SignedInteraction(signingSecret, e.click(ActionApprove, `{"run":1,"env":"prod"}`), time.Now())
	if code, _ := e.send(t, body, headers); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if n := len(e.fake.Responses()); n != 0 {
		t.Fatalf("%d responses before the decision", n)
	}
	close(dec.hold)
	e.h.Wait()
	if len(dec.decisions()) != 1 || len(e.fake.Responses()) != 1 {
		t.Fatalf("decisions %v responses %v", dec.decisions(), e.fake.Responses())
	}
}

func TestUnverifiedRequestsAreRefused(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name   string
		mutate func(body []byte, h http.Header) []byte
		at     time.Time
		secret string
	}{
		{"signed with another secret", nil, now, "another-secret"},
		{"six minutes old", nil, now.Add(-6 * time.Minute), signingSecret},
		{"six minutes ahead", nil, now.Add(6 * time.Minute), signingSecret},
		{"no signature header", func(b []byte, h http.Header) []byte { h.Del("X-Slack-Signature"); return b }, now, signingSecret},
		{"no timestamp header", func(b []byte, h http.Header) []byte { h.Del("X-Slack-Request-Timestamp"); return b }, now, signingSecret},
		{"no headers at all", func(b []byte, h http.Header) []byte {
			h.Del("X-Slack-Signature")
			h.Del("X-Slack-Request-Timestamp")
			return b
		}, now, signingSecret},
		{"timestamp changed after signing", func(b []byte, h http.Header) []byte {
			ts, _ := strconv.ParseInt(h.Get("X-Slack-Request-Timestamp"), 10, 64)
			h.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts-1, 10))
			return b
		}, now, signingSecret},
		{"body changed after signing", func(b []byte, h http.Header) []byte {
			return bytes.Replace(b, []byte("U0ALICE"), []byte("U0MALLORY"), 1)
		}, now, signingSecret},
		{"signature not hex", func(b []byte, h http.Header) []byte { h.Set("X-Slack-Signature", "v0=zz"); return b }, now, signingSecret},
		{"signature of another scheme", func(b []byte, h http.Header) []byte {
			h.Set("X-Slack-Signature", "v1="+strings.TrimPrefix(h.Get("X-Slack-Signature"), "v0="))
			return b
		}, now, signingSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec := &recordingDecider{msg: "ok"}
			e := startInteractions(t, dec, 0)
			body, headers := fakeslack.SignedInteraction(tc.secret, e.click(ActionApprove, `{"run":7,"env":"prod"}`), tc.at)
			if tc.mutate != nil {
				body = tc.mutate(body, headers)
			}
			code, text := e.send(t, body, headers)
			e.h.Wait()
			if code != http.StatusUnauthorized || len(text) > 100 {
				t.Fatalf("status %d body %q, want a short 401", code, text)
			}
			if n := len(dec.decisions()); n != 0 {
				t.Fatalf("%d decisions made", n)
			}
			if n := len(e.fake.Responses()); n != 0 {
				t.Fatalf("%d responses posted", n)
			}
			logs := e.log.String()
			if !strings.Contains(logs, "bad signature") {
				t.Errorf("no log line for the refusal:\n%s", logs)
			}
			if strings.Contains(logs, "alice") || strings.Contains(logs, "payload") || strings.Contains(logs, signingSecret) {
				t.Errorf("the log shows the body or the secret:\n%s", logs)
			}
		})
	}
}

// Slack retries a delivery it thinks failed; a captured request may be replayed within the five minutes its
// signature is good for. Neither is acted on a second time.
func TestRetriesAndReplaysAreNotActedOnTwice(t *testing.T) {
	dec := &recordingDecider{msg: "Approved"}
	e := startInteractions(t, dec, 0)
	body, headers := fakeslack.SignedInteraction(signingSecret, e.click(ActionApprove, `{"run":3,"env":"prod"}`), time.Now())

	retry := headers.Clone()
	retry.Set("X-Slack-Retry-Num", "1")
	retry.Set("X-Slack-Retry-Reason", "http_timeout")
	if code, _ := e.send(t, body, retry); code != http.StatusOK {
		t.Fatalf("retry: status %d", code)
	}
	e.h.Wait()
	if n := len(dec.decisions()); n != 0 {
		t.Fatalf("a retry was acted on: %d decisions", n)
	}
	for i := range 3 {
		if code, _ := e.send(t, body, headers); code != http.StatusOK {
			t.Fatalf("delivery %d: status %d", i, code)
		}
	}
	e.h.Wait()
	if n := len(dec.decisions()); n != 1 {
		t.Fatalf("%d decisions for one click delivered three times", n)
	}
	// A second click on the same button is a new decision (the Decider sees it's already decided).
	body2, headers2 := fakeslack.SignedInteraction(signingSecret, e.click(ActionApprove, `{"run":3,"env":"prod"}`), time.Now())
	if code, _ := e.send(t, body2, headers2); code != http.StatusOK {
		t.Fatalf("second click: status %d", code)
	}
	e.h.Wait()
	if n := len(dec.decisions()); n != 2 {
		t.Fatalf("%d decisions after a second click", n)
	}
}

func TestOtherInteractionsAreIgnored(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload func(e *interactionsEnv) []byte
	}{
		{"another button", func(e *interactionsEnv) []byte { return e.click("open_dashboard", `{"run":1,"env":"prod"}`) }},
		{"a shortcut", func(*interactionsEnv) []byte {
			return []byte(`{"type":"shortcut","callback_id":"x","user":{"id":"U1"},"team":{"id":"T1"}}`)
		}},
		{"a view submission", func(*interactionsEnv) []byte {
			return []byte(`{"type":"view_submission","user":{"id":"U1"},"view":{"id":"V1"}}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec := &recordingDecider{msg: "ok"}
			e := startInteractions(t, dec, 0)
			body, headers := fakeslack.SignedInteraction(signingSecret, tc.payload(e), time.Now())
			if code, _ := e.send(t, body, headers); code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			e.h.Wait()
			if len(dec.decisions()) != 0 || len(e.fake.Responses()) != 0 {
				t.Fatalf("acted on: %v %v", dec.decisions(), e.fake.Responses())
			}
		})
	}
}

func TestBadButtonValuesAreRefused(t *testing.T) {
	for _, value := range []string{
		``,
		`not json`,
		`{"run":0,"env":"prod"}`,
		`{"run":-4,"env":"prod"}`,
		`{"run":1.5,"env":"prod"}`,
		`{"run":"1","env":"prod"}`,
		`{"run":1}`,
		`{"env":"prod"}`,
		`{"run":1,"env":""}`,
		`{"run":1,"env":"Prod"}`,
		`{"run":1,"env":"-prod"}`,
		`{"run":1,"env":"pr od"}`,
		`{"run":1,"env":"a/b"}`,
		`{"run":1,"env":"<!channel>"}`,
		`{"run":1,"env":"` + strings.Repeat("a", 64) + `"}`,
		`{"run":1,"env":"prod","extra":true}`,
		`{"run":1,"env":"prod"}{}`,
		`[1,"prod"]`,
	} {
		t.Run(value, func(t *testing.T) {
			dec := &recordingDecider{msg: "ok"}
			e := startInteractions(t, dec, 0)
			body, headers := fakeslack.SignedInteraction(signingSecret, e.click(ActionApprove, value), time.Now())
			if code, _ := e.send(t, body, headers); code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", code)
			}
			e.h.Wait()
			if n := len(dec.decisions()); n != 0 {
				t.Fatalf("%d decisions", n)
			}
		})
	}
	for _, ok := range []string{`{"run":1,"env":"prod"}`, ` {"env":"eu-west_1","run":9007199254740993} `, `{"run":1,"env":"` + strings.Repeat("a", 63) + `"}`} {
		if _, err := decodeValue(ok); err != nil {
			t.Errorf("decodeValue(%s): %v", ok, err)
		}
	}
}

func TestMalformedRequestsAreRefused(t *testing.T) {
	noUser := `{"type":"block_actions","actions":[{"action_id":"runner_approve","block_id":"b","type":"button","value":"{\"run\":1,\"env\":\"prod\"}"}]}`
	for _, tc := range []struct {
		name string
		body string
	}{
		{"no payload field", "other=1"},
		{"payload not JSON", url.Values{"payload": {"{not"}}.Encode()},
		{"no user", url.Values{"payload": {noUser}}.Encode()},
		{"not a form", "%zz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec := &recordingDecider{msg: "ok"}
			e := startInteractions(t, dec, 0)
			if code, _ := e.send(t, []byte(tc.body), signed([]byte(tc.body), time.Now())); code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", code)
			}
			e.h.Wait()
			if n := len(dec.decisions()); n != 0 {
				t.Fatalf("%d decisions", n)
			}
		})
	}
}

// signed signs a raw body as Slack would (SignedInteraction form-encodes a payload itself).
func signed(body []byte, at time.Time) http.Header {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(signingSecret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	return http.Header{
		"Content-Type":              {"application/x-www-form-urlencoded"},
		"X-Slack-Request-Timestamp": {ts},
		"X-Slack-Signature":         {"v0=" + hex.EncodeToString(mac.Sum(nil))},
	}
}

func TestBodyOverTheLimitIsRefused(t *testing.T) {
	dec := &recordingDecider{msg: "ok"}
	e := startInteractions(t, dec, 2048)
	small, smallHeaders := fakeslack.SignedInteraction(signingSecret, e.click(ActionApprove, `{"run":1,"env":"prod"}`), time.Now())
	if len(small) > 2048 {
		t.Fatalf("test payload is %d bytes, over the limit itself", len(small))
	}
	if code, _ := e.send(t, small, smallHeaders); code != http.StatusOK {
		t.Fatalf("small: status %d", code)
	}
	big, bigHeaders := fakeslack.SignedInteraction(signingSecret, e.click(ActionApprove, `{"run":2,"env":"prod"}`+strings.Repeat(" ", 2000)), time.Now())
	if code, _ := e.send(t, big, bigHeaders); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("big: status %d, want 413", code)
	}
	e.h.Wait()
	if got := dec.decisions(); len(got) != 1 || got[0].RunID != 1 {
		t.Fatalf("decisions %+v", got)
	}
}

// Even with a good signature, the runner posts only to Slack's hooks host or the configured prefix.
func TestResponseURLMustBeSlacks(t *testing.T) {
	dec := &recordingDecider{msg: "ok"}
	e := startInteractions(t, dec, 0)
	for _, u := range []string{"https://evil.example/hook", "http://hooks.slack.com/actions/x", "https://hooks.slack.com.evil.example/x"} {
		payload := fakeslack.BlockActionPayload("U0ALICE", "alice", ActionApprove, `{"run":1,"env":"prod"}`, u)
		body, headers := fakeslack.SignedInteraction(signingSecret, payload, time.Now())
		if code, _ := e.send(t, body, headers); code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", u, code)
		}
	}
	e.h.Wait()
	if n := len(dec.decisions()); n != 0 {
		t.Fatalf("%d decisions", n)
	}

	pfx := e.fake.ResponseURL() // http://127.0.0.1:PORT/actions/...
	host := strings.TrimPrefix(strings.SplitN(pfx, "/actions", 2)[0], "http://")
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://hooks.slack.com/actions/T1/2/abc", true},
		{pfx, true},
		{pfx + "/more", true},
		{"https://hooks.slack.com:8443/actions/T1/2/abc", false},
		{"https://user@hooks.slack.com/actions/T1/2/abc", false},
		{"http://hooks.slack.com/actions/T1/2/abc", false},
		{"https://" + host + "/actions/x", false},
		{strings.Replace(pfx, host, host+"0", 1), false},
		{strings.Replace(pfx, host, "x@"+host, 1), false},
		{"http://" + host + "/other", false},
		{"", false},
		{"://", false},
	} {
		if got := e.h.allowedResponseURL(tc.url); got != tc.ok {
			t.Errorf("allowedResponseURL(%q) = %v, want %v", tc.url, got, tc.ok)
		}
	}
}

func TestCloseEndsDecisionsInFlightAndRefusesNewOnes(t *testing.T) {
	dec := &recordingDecider{hold: make(chan struct{})}
	e := startInteractions(t, dec, 0)
	body, headers := fakeslack.SignedInteraction(signingSecret, e.click(ActionApprove, `{"run":5,"env":"prod"}`), time.Now())
	if code, _ := e.send(t, body, headers); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.h.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want the deadline", err)
	}
	dec.mu.Lock()
	ctxErr := dec.ctxErr
	dec.mu.Unlock()
	if !errors.Is(ctxErr, context.Canceled) {
		t.Fatalf("decision's ctx ended with %v", ctxErr)
	}
	body2, headers2 := fakeslack.SignedInteraction(signingSecret, e.click(ActionApprove, `{"run":6,"env":"prod"}`), time.Now())
	if code, _ := e.send(t, body2, headers2); code != http.StatusServiceUnavailable {
		t.Fatalf("after Close: status %d, want 503", code)
	}
	if n := len(dec.decisions()); n != 1 {
		t.Fatalf("%d decisions", n)
	}
}

func TestOnlyPOST(t *testing.T) {
	e := startInteractions(t, &recordingDecider{}, 0)
	resp, err := http.Get(e.url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}

// Whatever a button's value holds, the handler takes only a positive run and a plain environment name.
func FuzzDecodeValue(f *testing.F) {
	for _, s := range []string{`{"run":1,"env":"prod"}`, `{"run":0,"env":"prod"}`, `{"run":1,"env":"<!here>"}`, `{"run":1,"env":"prod"}{}`, `{"RUN":1,"ENV":"a"}`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := decodeValue(s)
		if err != nil {
			return
		}
		if v.Run <= 0 || !validEnv(v.Env) {
			t.Fatalf("accepted %q as %+v", s, v)
		}
	})
}

// Whatever a signed payload holds, the handler answers 200 or 400 and acts only on a well-formed approval click.
func FuzzInteractionPayload(f *testing.F) {
	f.Add(string(fakeslack.BlockActionPayload("U1", "a", ActionApprove, `{"run":1,"env":"prod"}`, "https://hooks.slack.com/x")))
	f.Add(`{"type":"block_actions","user":{"id":"U1"},"actions":[{"action_id":"runner_reject","block_id":"b","value":"{}"}]}`)
	f.Add(`{"type":"block_actions","actions":null}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, payload string) {
		dec := &recordingDecider{msg: "ok"}
		h, err := NewInteractions(InteractionsOptions{SigningSecret: signingSecret, Decider: dec, HTTPClient: &http.Client{Transport: refuseTransport{}}})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = h.Close(context.Background()) }()
		body, headers := fakeslack.SignedInteraction(signingSecret, []byte(payload), time.Now())
		req := httptest.NewRequest(http.MethodPost, "/slack/interactions", bytes.NewReader(body))
		req.Header = headers
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		h.Wait()
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d", rec.Code)
		}
		for _, d := range dec.decisions() {
			if rec.Code != http.StatusOK || d.RunID <= 0 || !validEnv(d.Env) || d.UserID == "" {
				t.Fatalf("decided %+v (status %d)", d, rec.Code)
			}
		}
	})
}

// refuseTransport fails every request: a fuzzed payload must not reach the network.
type refuseTransport struct{}

func (refuseTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network in fuzzing")
}
