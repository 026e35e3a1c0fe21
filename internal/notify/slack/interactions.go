package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/gitops-runner/runner/internal/redact"
)

// Decider carries out a decision taken with a Slack button.
type Decider interface {
	Decide(ctx context.Context, d ButtonDecision) (message string, err error)
}

// ButtonDecision is a click on Approve or Reject, as Slack vouched for it (the request was signed).
type ButtonDecision struct {
	RunID   int64
	Env     string
	Approve bool // false: reject
	// Who clicked, in Slack's words: the Decider maps them to a person and checks they may decide.
	UserID, UserName, TeamID string
}

// InteractionsOptions configure the handler of Slack's interactivity Request URL.
type InteractionsOptions struct {
	SigningSecret string // the Slack app's signing secret; required
	Decider       Decider
	Logger        *slog.Logger
	HTTPClient    *http.Client // for posting the outcome to the payload's response_url
	MaxBody       int64        // bytes read of a request; 0 means 1 MiB
	// ResponseURLPrefix is where, besides https://hooks.slack.com, an outcome may be posted (a fake's
	// ResponseURL in tests). Empty: Slack only.
	ResponseURLPrefix string
}

const (
	defaultMaxBody = 1 << 20
	decideTimeout  = 30 * time.Second
	respondTimeout = 10 * time.Second
	// A click is remembered this long, past the five minutes a signature is accepted for, so neither a Slack
	// retry nor a replay of a captured request is acted on twice.
	seenFor = 10 * time.Minute
	maxSeen = 10000
)

// Interactions is the http.Handler for Slack's interactivity Request URL: it checks Slack's signature, answers
// at once (Slack wants an answer within 3 seconds), carries out Approve and Reject clicks through the Decider in
// the background and tells the person who clicked how it went, in a message only they see.
type Interactions struct {
	secret  string
	decider Decider
	log     *slog.Logger
	hc      *http.Client
	maxBody int64
	prefix  *url.URL // nil: Slack only
	rawPfx  string
	redact  *redact.Redactor

	ctx    context.Context // ends decisions in flight at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	seen   map[string]time.Time // clicks acted on, by identity, when
}

var _ http.Handler = (*Interactions)(nil)

// NewInteractions returns the handler; Close it when the server stops.
func NewInteractions(o InteractionsOptions) (*Interactions, error) {
	if o.SigningSecret == "" {
		return nil, errors.New("slack interactions: no signing secret")
	}
	if o.Decider == nil {
		return nil, errors.New("slack interactions: no decider")
	}
	h := &Interactions{
		secret: o.SigningSecret, decider: o.Decider, log: o.Logger, maxBody: o.MaxBody,
		redact: redact.New(redact.Secret{Value: o.SigningSecret}), seen: map[string]time.Time{},
	}
	if h.log == nil {
		h.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if h.maxBody <= 0 {
		h.maxBody = defaultMaxBody
	}
	if o.ResponseURLPrefix != "" {
		p, err := url.Parse(o.ResponseURLPrefix)
		if err != nil || p.Host == "" || (p.Scheme != "https" && p.Scheme != "http") || p.User != nil {
			return nil, fmt.Errorf("slack interactions: response URL prefix %q is not an http(s) URL", o.ResponseURLPrefix)
		}
		h.prefix, h.rawPfx = p, o.ResponseURLPrefix
	}
	hc := http.Client{}
	if o.HTTPClient != nil {
		hc = *o.HTTPClient
	}
	// A response_url that redirects is not Slack's: do not follow it.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h.hc = &hc
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h, nil
}

// ServeHTTP answers one delivery from Slack.
func (h *Interactions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.log.Warn("slack interaction refused: body too large", "limit", h.maxBody, "remote", r.RemoteAddr)
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read request body", http.StatusBadRequest)
		return
	}
	if err := h.verify(r.Header, body); err != nil {
		h.log.Warn("slack interaction refused: bad signature", "err", err, "remote", r.RemoteAddr)
		http.Error(w, "invalid request signature", http.StatusUnauthorized)
		return
	}
	// Slack retries when an answer was late or not 200. The first delivery was answered at once and acted on
	// (or refused): a retry must not act a second time.
	if n := r.Header.Get("X-Slack-Retry-Num"); n != "" {
		h.log.Info("slack interaction: ignoring a retry", "retry", n, "reason", r.Header.Get("X-Slack-Retry-Reason"))
		w.WriteHeader(http.StatusOK)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("payload") == "" {
		http.Error(w, "no payload", http.StatusBadRequest)
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		http.Error(w, "payload is not an interaction", http.StatusBadRequest)
		return
	}
	if cb.Type != slack.InteractionTypeBlockActions {
		h.log.Debug("slack interaction ignored", "type", cb.Type)
		w.WriteHeader(http.StatusOK)
		return
	}
	var act *slack.BlockAction
	for _, a := range cb.ActionCallback.BlockActions {
		if a.ActionID == ActionApprove || a.ActionID == ActionReject {
			act = a
			break
		}
	}
	if act == nil {
		h.log.Debug("slack interaction ignored: not an approval button")
		w.WriteHeader(http.StatusOK)
		return
	}
	v, err := decodeValue(act.Value)
	if err != nil {
		h.log.Warn("slack interaction refused: bad button value", "err", err)
		http.Error(w, "bad button value", http.StatusBadRequest)
		return
	}
	if cb.User.ID == "" {
		http.Error(w, "no user", http.StatusBadRequest)
		return
	}
	if cb.ResponseURL != "" && !h.allowedResponseURL(cb.ResponseURL) {
		h.log.Warn("slack interaction refused: response_url is not Slack's", "run", v.Run, "env", v.Env, "host", hostOf(cb.ResponseURL))
		http.Error(w, "response_url not allowed", http.StatusBadRequest)
		return
	}
	d := ButtonDecision{RunID: v.Run, Env: v.Env, Approve: act.ActionID == ActionApprove,
		UserID: cb.User.ID, UserName: cb.User.Username, TeamID: cb.User.TeamID}
	if d.UserName == "" {
		d.UserName = cb.User.Name
	}
	if d.TeamID == "" {
		d.TeamID = cb.Team.ID
	}
	key := strings.Join([]string{d.TeamID, d.UserID, act.ActionTs, act.BlockID, act.ActionID, act.Value}, "\x00")
	switch h.accept(key) {
	case errClosed:
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	case errSeen:
		h.log.Info("slack interaction: ignoring a repeated click", "run", d.RunID, "env", d.Env, "user", d.UserID)
		w.WriteHeader(http.StatusOK)
		return
	}
	go h.carryOut(d, cb.ResponseURL)
	w.WriteHeader(http.StatusOK)
}

func (h *Interactions) verify(header http.Header, body []byte) error {
	// NewSecretsVerifier also refuses a timestamp more than five minutes from now.
	sv, err := slack.NewSecretsVerifier(header, h.secret)
	if err != nil {
		return err
	}
	if _, err := sv.Write(body); err != nil {
		return err
	}
	return sv.Ensure()
}

var (
	errClosed = errors.New("closed")
	errSeen   = errors.New("seen")
)

// accept records the click and counts it in flight, unless it was seen before or the handler is closed.
func (h *Interactions) accept(key string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errClosed
	}
	now := time.Now()
	if at, ok := h.seen[key]; ok && now.Sub(at) < seenFor {
		return errSeen
	}
	if len(h.seen) >= maxSeen/2 {
		for k, at := range h.seen {
			if now.Sub(at) >= seenFor {
				delete(h.seen, k)
			}
		}
	}
	for len(h.seen) >= maxSeen { // only with thousands of signed clicks in minutes: forget the oldest
		oldest, first := "", now
		for k, at := range h.seen {
			if at.Before(first) || oldest == "" {
				oldest, first = k, at
			}
		}
		delete(h.seen, oldest)
	}
	h.seen[key] = now
	h.wg.Add(1)
	return nil
}

// carryOut makes the decision and tells the person how it went.
func (h *Interactions) carryOut(d ButtonDecision, responseURL string) {
	defer h.wg.Done()
	ctx, cancel := context.WithTimeout(h.ctx, decideTimeout)
	msg, err := h.decider.Decide(ctx, d)
	cancel()
	text := msg
	if err != nil {
		text = "Not done: " + h.redact.String(err.Error())
		h.log.Warn("slack decision not done", "run", d.RunID, "env", d.Env, "approve", d.Approve, "user", d.UserID, "err", h.redact.String(err.Error()))
	} else {
		h.log.Info("slack decision done", "run", d.RunID, "env", d.Env, "approve", d.Approve, "user", d.UserID)
	}
	if responseURL == "" || text == "" {
		return
	}
	ctx, cancel = context.WithTimeout(h.ctx, respondTimeout)
	defer cancel()
	if err := h.respond(ctx, responseURL, text); err != nil {
		h.log.Warn("slack decision: answer not delivered", "run", d.RunID, "env", d.Env, "err", err)
	}
}

// respond posts text to the response_url as a message only the clicker sees, leaving the deploy message alone.
func (h *Interactions) respond(ctx context.Context, responseURL, text string) error {
	body, err := json.Marshal(map[string]any{"response_type": "ephemeral", "replace_original": false, "text": escapeCut(text, maxSection)})
	if err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("answer to %s: %w", hostOf(responseURL), err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.hc.Do(req)
	if err != nil {
		// The URL is a credential for the channel for half an hour: name its host only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("answer to %s: %w", hostOf(responseURL), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answer to %s: status %d", hostOf(responseURL), resp.StatusCode)
	}
	return nil
}

// allowedResponseURL: Slack's https://hooks.slack.com, or under the configured prefix on the same scheme and
// host (a prefix match alone would let "http://127.0.0.1:80" admit "http://127.0.0.1:8080" or a user@host).
func (h *Interactions) allowedResponseURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil {
		return false
	}
	if u.Scheme == "https" && u.Host == "hooks.slack.com" {
		return true
	}
	return h.prefix != nil && strings.HasPrefix(raw, h.rawPfx) && u.Scheme == h.prefix.Scheme && u.Host == h.prefix.Host
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "an unparsable URL"
	}
	return u.Host
}

// decodeValue reads a button's value strictly: {"run":<positive id>,"env":"<environment name>"}, nothing else.
func decodeValue(s string) (buttonValue, error) {
	if len(s) > 2000 {
		return buttonValue{}, errors.New("value longer than Slack allows")
	}
	var v struct {
		Run *int64  `json:"run"`
		Env *string `json:"env"`
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return buttonValue{}, fmt.Errorf("decode value: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return buttonValue{}, errors.New("decode value: data after the object")
	}
	switch {
	case v.Run == nil || *v.Run <= 0:
		return buttonValue{}, errors.New("value has no positive run id")
	case v.Env == nil || !validEnv(*v.Env):
		return buttonValue{}, errors.New("value has no valid environment name")
	}
	return buttonValue{Run: *v.Run, Env: *v.Env}, nil
}

// Wait waits for the decisions accepted so far, and their answers, to finish.
func (h *Interactions) Wait() { h.wg.Wait() }

// Close refuses further clicks (503), lets the decisions in flight finish until ctx ends, then cancels them and
// waits for them to return. It returns ctx's error when it had to cancel.
func (h *Interactions) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	h.cancel()
	<-done
	return err
}
