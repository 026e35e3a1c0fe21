// Package webhook receives GitHub deliveries: it checks the signature, parses the
// event, drops what the runner does not act on, and hands the rest to an Acceptor
// that stores and enqueues it. It never clones or calls out.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/gitops-runner/runner/internal/event"
)

// DefaultMaxBody is GitHub's own cap on a delivery's payload.
const DefaultMaxBody = 25 << 20

// Defaults of the limits on bodies not yet verified.
const (
	// DefaultUnverifiedBudget bounds the bytes held at once by all bodies whose signature is not
	// checked yet: a little over two deliveries of GitHub's maximum size, and thousands of ordinary ones.
	DefaultUnverifiedBudget = 64 << 20
	// DefaultBudgetWait is how long a delivery waits for budget before it is refused with 503:
	// short enough that the answer reaches GitHub within its 10-second delivery timeout.
	DefaultBudgetWait = 3 * time.Second
	// DefaultBodyTimeout bounds reading one body: GitHub gives up on a delivery after 10 s.
	DefaultBodyTimeout = 10 * time.Second
)

const signatureHeader = github.SHA256SignatureHeader

// Acceptor durably records an event and queues its run. A delivery it has seen
// before, by delivery id or by content (event.Event.ContentKey), is answered with
// the earlier run and a Duplicate receipt.
type Acceptor interface {
	Accept(ctx context.Context, ev event.Event) (event.Receipt, error)
}

// Config is what the handler needs to judge a delivery.
type Config struct {
	Secret       []byte
	AllowedRepos []string // owner/name globs (path.Match syntax); empty allows none
	MaxBody      int64    // largest body accepted; default DefaultMaxBody
	// UnverifiedBudget bounds the bytes held by bodies not yet verified, across all requests;
	// default DefaultUnverifiedBudget, and never less than MaxBody.
	UnverifiedBudget int64
	BudgetWait       time.Duration // default DefaultBudgetWait
	BodyTimeout      time.Duration // default DefaultBodyTimeout
	// Observe learns how each delivery ended (e.g. to count it); nil: nobody. Its values are bounded:
	// event is one of the events the runner knows ("other" for the rest), outcome one of the Outcome
	// constants, reason one of the Reason constants ("" for accepted deliveries).
	Observe func(event, outcome, reason string)
}

// Outcomes of a delivery, as Config.Observe is told.
const (
	OutcomeAccepted  = "accepted"  // stored, its run queued
	OutcomeDuplicate = "duplicate" // seen before (ReasonDeliveryID, ReasonReplay): not run again
	OutcomeIgnored   = "ignored"   // well formed and signed, but nothing to do (ping, other events and actions)
	OutcomeRefused   = "refused"   // answered 4xx or 503: see the reason
	OutcomeError     = "error"     // the runner failed to store it (GitHub may redeliver)
)

// Reasons of a delivery's outcome, as Config.Observe is told.
const (
	ReasonDeliveryID       = "delivery_id"        // duplicate: same X-GitHub-Delivery
	ReasonReplay           = "replay"             // duplicate: another delivery id with the same content
	ReasonPing             = "ping"               // ignored
	ReasonUnsupportedEvent = "unsupported_event"  // ignored: an event the runner does not act on
	ReasonNotActedOn       = "not_acted_on"       // ignored: an action or branch the runner does not act on
	ReasonMethod           = "method_not_allowed" // refused
	ReasonMissingSignature = "missing_signature"  // refused
	ReasonBadSignature     = "bad_signature"      // refused: malformed or not matching
	ReasonContentType      = "content_type"       // refused
	ReasonMissingHeaders   = "missing_headers"    // refused: no X-GitHub-Event or X-GitHub-Delivery
	ReasonBodyTooLarge     = "body_too_large"     // refused
	ReasonBusy             = "busy"               // refused: the unverified-bytes budget is exhausted
	ReasonReadFailed       = "read_failed"        // refused: the body could not be read
	ReasonMalformed        = "malformed"          // refused: a signed body that does not parse
	ReasonNoRepository     = "no_repository"      // refused
	ReasonRepoNotAllowed   = "repo_not_allowed"   // refused
	ReasonStoreFailed      = "store_failed"       // error
)

// Handler is the POST /webhooks/github endpoint.
type Handler struct {
	cfg    Config
	acc    Acceptor
	log    *slog.Logger
	budget *budget
}

// New returns a handler. It refuses an empty secret: an unsigned endpoint would
// let anyone trigger deploys.
func New(cfg Config, acc Acceptor, log *slog.Logger) (*Handler, error) {
	if len(cfg.Secret) == 0 {
		return nil, errors.New("webhook secret is empty")
	}
	for _, p := range cfg.AllowedRepos {
		if _, err := path.Match(p, "x/y"); err != nil {
			return nil, fmt.Errorf("allowed repository pattern %q: %w", p, err)
		}
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.UnverifiedBudget <= 0 {
		cfg.UnverifiedBudget = DefaultUnverifiedBudget
	}
	// One body of the largest size, and one chunk of a chunked body, must fit.
	cfg.UnverifiedBudget = max(cfg.UnverifiedBudget, cfg.MaxBody, chunkSize)
	if cfg.BudgetWait <= 0 {
		cfg.BudgetWait = DefaultBudgetWait
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if log == nil {
		log = slog.Default()
	}
	return &Handler{cfg: cfg, acc: acc, log: log, budget: newBudget(cfg.UnverifiedBudget)}, nil
}

// UnverifiedBytes reports the bytes now held by bodies not yet verified, and
// the most ever held at once.
func (h *Handler) UnverifiedBytes() (held, peak int64) { return h.budget.gauge() }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	event := eventLabel(github.WebHookType(r))
	if r.Method != http.MethodPost {
		h.observe(event, OutcomeRefused, ReasonMethod)
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, map[string]any{"error": "use POST"})
		return
	}
	// Everything that can be judged from the headers is, before a byte of the
	// body is read: an unsigned request costs nothing but its headers.
	sig, ref := signature(r.Header.Get(signatureHeader))
	if ref != nil {
		h.refuse(w, event, ref)
		return
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (ct != "application/json" && ct != "application/x-www-form-urlencoded") {
		h.observe(event, OutcomeRefused, ReasonContentType)
		reply(w, http.StatusUnsupportedMediaType, map[string]any{"error": "content type must be application/json or application/x-www-form-urlencoded"})
		return
	}
	name, delivery := github.WebHookType(r), github.DeliveryID(r)
	if name == "" || delivery == "" {
		h.observe(event, OutcomeRefused, ReasonMissingHeaders)
		reply(w, http.StatusBadRequest, map[string]any{"error": "missing X-GitHub-Event or X-GitHub-Delivery"})
		return
	}
	// The signature covers the raw body, whatever its encoding: it is checked
	// first, so that a signed body which then fails to parse is a 400, not a 401.
	body, ref := h.readSigned(w, r, sig)
	if ref != nil {
		h.refuse(w, event, ref)
		return
	}
	payload := body
	if ct == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			h.observe(event, OutcomeRefused, ReasonMalformed)
			reply(w, http.StatusBadRequest, map[string]any{"error": "malformed payload"})
			return
		}
		payload = []byte(form.Get("payload"))
	}
	if name == "ping" {
		h.observe(event, OutcomeIgnored, ReasonPing)
		reply(w, http.StatusOK, map[string]any{"pong": true})
		return
	}
	if !handled(name) {
		h.observe(event, OutcomeIgnored, ReasonUnsupportedEvent)
		reply(w, http.StatusAccepted, map[string]any{"ignored": "event " + name + " is not acted on"})
		return
	}
	parsed, err := github.ParseWebHook(name, payload)
	if err != nil {
		h.observe(event, OutcomeRefused, ReasonMalformed)
		reply(w, http.StatusBadRequest, map[string]any{"error": "malformed " + name + " payload"})
		return
	}
	ev, ignored := Normalize(parsed)
	if ignored != "" {
		h.observe(event, OutcomeIgnored, ReasonNotActedOn)
		reply(w, http.StatusAccepted, map[string]any{"ignored": ignored})
		return
	}
	if ev.Repo == "" {
		h.observe(event, OutcomeRefused, ReasonNoRepository)
		reply(w, http.StatusBadRequest, map[string]any{"error": "payload names no repository"})
		return
	}
	if !h.allowed(ev.Repo) {
		h.observe(event, OutcomeRefused, ReasonRepoNotAllowed)
		h.log.Warn("delivery from a repository not on the allowlist", "repo", ev.Repo, "delivery", delivery)
		reply(w, http.StatusForbidden, map[string]any{"error": "repository " + ev.Repo + " is not allowed"})
		return
	}
	ev.DeliveryID, ev.Name = delivery, name
	rec, err := h.acc.Accept(r.Context(), ev)
	if err != nil {
		h.log.Error("accept delivery", "delivery", delivery, "err", err)
		h.observe(event, OutcomeError, ReasonStoreFailed)
		reply(w, http.StatusServiceUnavailable, map[string]any{"error": "could not store the delivery; GitHub may redeliver it"})
		return
	}
	switch {
	case rec.Replay:
		// A new delivery id with the content of an accepted one: a replayed body, or one
		// event sent to two hooks. Either way it must not run twice.
		h.log.Warn("replayed delivery: not run again", "delivery", delivery, "event", name, "action", ev.Action,
			"repo", ev.Repo, "sha", ev.SHA, "pr", ev.PR, "run", rec.Run)
		h.observe(event, OutcomeDuplicate, ReasonReplay)
		reply(w, http.StatusOK, map[string]any{"duplicate": true, "run": rec.Run, "replay": true})
		return
	case rec.Duplicate:
		h.observe(event, OutcomeDuplicate, ReasonDeliveryID)
		reply(w, http.StatusOK, map[string]any{"duplicate": true, "run": rec.Run})
		return
	}
	h.observe(event, OutcomeAccepted, "")
	h.log.Info("delivery accepted", "delivery", delivery, "event", name, "repo", ev.Repo, "sha", ev.SHA, "run", rec.Run)
	reply(w, http.StatusAccepted, map[string]any{"run": rec.Run, "kind": ev.Kind})
}

func handled(name string) bool {
	switch name {
	case "push", "pull_request", "issue_comment", "check_run":
		return true
	}
	return false
}

func (h *Handler) allowed(repo string) bool {
	repo = strings.ToLower(repo)
	for _, p := range h.cfg.AllowedRepos {
		if ok, _ := path.Match(strings.ToLower(p), repo); ok {
			return true
		}
	}
	return false
}

// eventLabel bounds an X-GitHub-Event name (unverified when it is read) for Config.Observe.
func eventLabel(name string) string {
	if handled(name) || name == "ping" {
		return name
	}
	return "other"
}

func (h *Handler) observe(event, outcome, reason string) {
	if h.cfg.Observe != nil {
		h.cfg.Observe(event, outcome, reason)
	}
}

func (h *Handler) refuse(w http.ResponseWriter, event string, ref *refusal) {
	h.observe(event, OutcomeRefused, ref.reason)
	refuse(w, ref)
}

func refuse(w http.ResponseWriter, ref *refusal) {
	if ref.retryAfter != "" {
		w.Header().Set("Retry-After", ref.retryAfter)
	}
	reply(w, ref.code, map[string]any{"error": ref.msg})
}

func reply(w http.ResponseWriter, code int, body map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}
