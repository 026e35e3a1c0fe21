// Package webhook receives GitHub deliveries: it checks the signature, parses the
// event, drops what the runner does not act on, and hands the rest to an Acceptor
// that stores and enqueues it. It never clones or calls out.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/gitops-runner/runner/internal/event"
)

// DefaultMaxBody is GitHub's own cap on a delivery's payload.
const DefaultMaxBody = 25 << 20

// Acceptor durably records an event and queues its run.
type Acceptor interface {
	Accept(ctx context.Context, ev event.Event) (runID int64, duplicate bool, err error)
}

// Config is what the handler needs to judge a delivery.
type Config struct {
	Secret       []byte
	AllowedRepos []string // owner/name globs (path.Match syntax); empty allows none
	MaxBody      int64
}

// Handler is the POST /webhooks/github endpoint.
type Handler struct {
	cfg Config
	acc Acceptor
	log *slog.Logger
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
	if log == nil {
		log = slog.Default()
	}
	return &Handler{cfg: cfg, acc: acc, log: log}, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, map[string]any{"error": "use POST"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			reply(w, http.StatusRequestEntityTooLarge, map[string]any{"error": fmt.Sprintf("payload over %d bytes", h.cfg.MaxBody)})
			return
		}
		reply(w, http.StatusBadRequest, map[string]any{"error": "reading body failed"})
		return
	}
	if r.Header.Get(github.SHA256SignatureHeader) == "" {
		// A sha1-only signature is refused: SHA-1 HMACs are deprecated by GitHub.
		reply(w, http.StatusUnauthorized, map[string]any{"error": "missing " + github.SHA256SignatureHeader})
		return
	}
	if !strings.HasPrefix(r.Header.Get(github.SHA256SignatureHeader), "sha256=") {
		// ValidatePayload trusts the value's own prefix: "sha1=..." here would be checked as SHA-1.
		reply(w, http.StatusUnauthorized, map[string]any{"error": "signature does not match"})
		return
	}
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || (ct != "application/json" && ct != "application/x-www-form-urlencoded") {
		reply(w, http.StatusUnsupportedMediaType, map[string]any{"error": "content type must be application/json or application/x-www-form-urlencoded"})
		return
	}
	// The signature covers the raw body, whatever its encoding: check it first, so
	// that a signed body which then fails to parse is a 400, not a 401.
	if err := github.ValidateSignature(r.Header.Get(github.SHA256SignatureHeader), body, h.cfg.Secret); err != nil {
		reply(w, http.StatusUnauthorized, map[string]any{"error": "signature does not match"})
		return
	}
	r.Header.Del(github.SHA1SignatureHeader)
	r.Body = io.NopCloser(bytes.NewReader(body))
	payload, err := github.ValidatePayload(r, h.cfg.Secret)
	if err != nil {
		reply(w, http.StatusBadRequest, map[string]any{"error": "malformed payload"})
		return
	}
	name, delivery := github.WebHookType(r), github.DeliveryID(r)
	if name == "" || delivery == "" {
		reply(w, http.StatusBadRequest, map[string]any{"error": "missing X-GitHub-Event or X-GitHub-Delivery"})
		return
	}
	if name == "ping" {
		reply(w, http.StatusOK, map[string]any{"pong": true})
		return
	}
	if !handled(name) {
		reply(w, http.StatusAccepted, map[string]any{"ignored": "event " + name + " is not acted on"})
		return
	}
	parsed, err := github.ParseWebHook(name, payload)
	if err != nil {
		reply(w, http.StatusBadRequest, map[string]any{"error": "malformed " + name + " payload"})
		return
	}
	ev, ignored := Normalize(parsed)
	if ignored != "" {
		reply(w, http.StatusAccepted, map[string]any{"ignored": ignored})
		return
	}
	if ev.Repo == "" {
		reply(w, http.StatusBadRequest, map[string]any{"error": "payload names no repository"})
		return
	}
	if !h.allowed(ev.Repo) {
		h.log.Warn("delivery from a repository not on the allowlist", "repo", ev.Repo, "delivery", delivery)
		reply(w, http.StatusForbidden, map[string]any{"error": "repository " + ev.Repo + " is not allowed"})
		return
	}
	ev.DeliveryID, ev.Name = delivery, name
	runID, dup, err := h.acc.Accept(r.Context(), ev)
	if err != nil {
		h.log.Error("accept delivery", "delivery", delivery, "err", err)
		reply(w, http.StatusServiceUnavailable, map[string]any{"error": "could not store the delivery; GitHub may redeliver it"})
		return
	}
	if dup {
		reply(w, http.StatusOK, map[string]any{"duplicate": true, "run": runID})
		return
	}
	h.log.Info("delivery accepted", "delivery", delivery, "event", name, "repo", ev.Repo, "sha", ev.SHA, "run", runID)
	reply(w, http.StatusAccepted, map[string]any{"run": runID, "kind": ev.Kind})
}

func handled(name string) bool {
	switch name {
	case "push", "pull_request", "issue_comment":
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

// Normalize reduces a parsed go-github event to an event.Event. A non-empty
// ignored says why the runner does not act on it.
func Normalize(parsed any) (ev event.Event, ignored string) {
	switch e := parsed.(type) {
	case *github.PushEvent:
		ev = event.Event{
			Kind: event.KindDeploy, Repo: e.GetRepo().GetFullName(), CloneURL: e.GetRepo().GetCloneURL(),
			SHA: e.GetAfter(), BaseSHA: e.GetBefore(), Ref: e.GetRef(), Sender: e.GetSender().GetLogin(),
		}
		if e.GetHeadCommit() != nil && e.GetHeadCommit().GetAuthor() != nil && e.GetHeadCommit().GetAuthor().GetName() != "" {
			ev.Sender = e.GetHeadCommit().GetAuthor().GetName()
		}
		return ev, ""
	case *github.PullRequestEvent:
		pr := e.GetPullRequest()
		ev = event.Event{
			Action: e.GetAction(), Repo: e.GetRepo().GetFullName(), CloneURL: e.GetRepo().GetCloneURL(),
			SHA: pr.GetHead().GetSHA(), BaseSHA: pr.GetBase().GetSHA(), Ref: pr.GetHead().GetRef(),
			BaseRef: pr.GetBase().GetRef(), PR: e.GetNumber(), Sender: e.GetSender().GetLogin(),
		}
		if ev.PR == 0 {
			ev.PR = pr.GetNumber()
		}
		switch e.GetAction() {
		case "opened", "reopened", "synchronize":
			ev.Kind = event.KindPlan
		case "closed":
			if !pr.GetMerged() {
				return ev, "pull request closed without merge"
			}
			ev.Kind, ev.SHA = event.KindMerged, pr.GetMergeCommitSHA()
		default:
			return ev, "pull_request action " + e.GetAction() + " is not acted on"
		}
		return ev, ""
	case *github.IssueCommentEvent:
		ev = event.Event{
			Kind: event.KindComment, Action: e.GetAction(), Repo: e.GetRepo().GetFullName(),
			CloneURL: e.GetRepo().GetCloneURL(), PR: e.GetIssue().GetNumber(), Sender: e.GetSender().GetLogin(),
			Comment: e.GetComment().GetBody(),
		}
		// Only a new comment by a person can be a command: edits and deletions
		// never are, and the runner's own sticky plan comments (a bot's, edited
		// on every push) would otherwise each become a run.
		if e.GetAction() != "created" {
			return ev, "issue_comment action " + e.GetAction() + " is not acted on"
		}
		if e.GetComment().GetUser().GetType() == "Bot" {
			return ev, "comment by a bot (" + e.GetComment().GetUser().GetLogin() + ") is not acted on"
		}
		return ev, ""
	}
	return ev, fmt.Sprintf("event %T is not acted on", parsed)
}

func reply(w http.ResponseWriter, code int, body map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}
