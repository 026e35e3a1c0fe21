package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gitops-runner/runner/internal/action"
	"github.com/gitops-runner/runner/internal/config"
)

// Actor carries out what a person asks through the dashboard or the CLI.
type Actor interface {
	Do(ctx context.Context, req action.Request) (action.Result, error)
}

// ClientHeader names the channel a request to an action endpoint comes by: ClientCLI from the runner
// CLI; anything else, or none, is the dashboard.
const (
	ClientHeader = "X-Runner-Client"
	ClientCLI    = "cli"
)

// maxActionBody bounds an action's JSON body: a few short fields.
const maxActionBody = 16 << 10

// maxReason bounds a reason, in bytes: it is recorded and shown in comments and Slack messages.
const maxReason = 500

var (
	loginPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}(?:\[bot\])?$`)
	ownerPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}$`)
	namePattern  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	shaPattern   = regexp.MustCompile(`^[0-9a-fA-F]{4,64}$`)
)

// decisionBody is the body of approve and reject.
type decisionBody struct {
	Env    string `json:"env"`
	Reason string `json:"reason"`
	As     string `json:"as"`
}

// rollbackBody is the body of rollback.
type rollbackBody struct {
	Repo   string `json:"repo"`
	Env    string `json:"env"`
	To     string `json:"to"`
	Reason string `json:"reason"`
	As     string `json:"as"`
}

// unlockBody is the body of unlock, drift and fix.
type unlockBody struct {
	Repo   string `json:"repo"`
	Env    string `json:"env"`
	Reason string `json:"reason"`
	As     string `json:"as"`
}

// actionRoutes registers the endpoints through which a person acts on runs.
func actionRoutes(mux *http.ServeMux, exp exposure, actor Actor, log *slog.Logger) {
	a := actions{actor: actor, log: log}
	if actor != nil && exp.token == nil {
		log.Warn("dashboard and CLI actions are off: they need RUNNER_API_TOKEN")
	}
	for pattern, kind := range map[string]string{
		"POST /api/runs/{id}/approve": action.KindApprove,
		"POST /api/runs/{id}/reject":  action.KindReject,
		"POST /api/rollback":          action.KindRollback,
		"POST /api/unlock":            action.KindUnlock,
		"POST /api/drift":             action.KindDrift,
		"POST /api/fix":               action.KindFix,
	} {
		mux.Handle(pattern, exp.guardAction(a.handle(kind)))
	}
}

// guardAction lets a request that changes something through only when it carries the configured
// token and cannot have been sent by another site's page.
//
// Without a token the API is read-only: its loopback-only mode trusts every local process and
// every local browser tab, which is fine for reading and not for deploying.
//
// With a token, a browser that has been given it by Basic auth sends it with every request to the
// runner, including those another site's page makes it send (CSRF). Such pages can send a POST
// without a CORS preflight only with a form content type, which is why application/json is
// required (the runner answers no preflight); Origin and Sec-Fetch-Site, which browsers set and
// pages cannot, refuse the rest. A single sign-on session cookie is sent the same way (SameSite=Lax
// keeps it off other sites' POSTs in current browsers, but not from same-site pages), so the same
// checks hold for requests let in by a session.
func (e exposure) guardAction(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.token == nil {
			writeJSON(w, http.StatusForbidden, map[string]any{
				"error": "acting through the API needs RUNNER_API_TOKEN: without it the API is read-only",
			})
			return
		}
		r, ok := e.authenticate(r)
		if !ok {
			e.unauthorized(w)
			return
		}
		if why := e.crossSite(r); why != "" {
			writeJSON(w, http.StatusForbidden, map[string]any{"error": why})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// crossSite says why a request may come from another site's page, or "" when it cannot.
func (e exposure) crossSite(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return "actions need Content-Type: application/json"
	}
	switch site := strings.ToLower(r.Header.Get("Sec-Fetch-Site")); site {
	case "cross-site", "same-site":
		return "refused: the browser says another site sent this request (Sec-Fetch-Site: " + site + ")"
	}
	origins := r.Header.Values("Origin")
	if len(origins) > 1 {
		return "refused: more than one Origin header"
	}
	if len(origins) == 1 && !e.ownOrigin(origins[0], r.Host) {
		return fmt.Sprintf("refused: origin %q is not this runner (%s)", origins[0], r.Host)
	}
	return ""
}

// ownOrigin reports whether an Origin header names the host and port the request was sent to, or
// the public URL's origin (a proxy may rewrite Host). The request's scheme is not known behind a
// TLS-terminating proxy, so a Host without a port is taken to use the origin scheme's default.
func (e exposure) ownOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Path != "" {
		return false
	}
	if hostPort(u.Host, u.Scheme) == hostPort(host, u.Scheme) {
		return true
	}
	return e.public != nil && strings.EqualFold(e.public.Scheme, u.Scheme) &&
		hostPort(u.Host, u.Scheme) == hostPort(e.public.Host, u.Scheme)
}

func hostPort(h, scheme string) string {
	name, port, err := net.SplitHostPort(h)
	if err != nil {
		name, port = h, map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return hostname(name) + " " + port
}

type actions struct {
	actor Actor
	log   *slog.Logger
}

// handle serves one kind of action: it reads and checks the request, asks the actor, and answers
// with the result or why not.
func (a actions) handle(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.actor == nil {
			writeJSON(w, http.StatusNotImplemented, map[string]any{"error": "actions are not configured"})
			return
		}
		req, code, err := readRequest(w, r, kind, signedIn(r))
		if err != nil {
			writeJSON(w, code, map[string]any{"error": err.Error()})
			return
		}
		req.Actor.Channel = action.ChannelDashboard
		if strings.EqualFold(r.Header.Get(ClientHeader), ClientCLI) {
			req.Actor.Channel = action.ChannelCLI
		}
		// The token's holder operates the runner and acts as whom they name. A person signed in by single
		// sign-on holds no token: their login's own permissions are checked through the policy.
		req.Actor.Operator = signedIn(r) == ""
		log := a.log.With("kind", kind, "run", req.RunID, "repo", req.Repo, "env", req.Env, "as", req.Actor.Login, "channel", req.Actor.Channel)
		res, err := a.actor.Do(r.Context(), req)
		var denied *action.Denied
		switch {
		case err == nil:
			log.Info("action done", "result_run", res.RunID)
			writeJSON(w, http.StatusOK, actionAnswer{Message: res.Message, RunID: res.RunID})
		case errors.As(err, &denied):
			log.Warn("action denied", "err", err)
			writeJSON(w, http.StatusForbidden, map[string]any{"error": denied.Error()})
		case errors.Is(err, action.ErrInvalid):
			log.Info("action refused", "err", err)
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		default:
			log.Error("action failed", "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		}
	}
}

// actionAnswer is a successful action's answer.
type actionAnswer struct {
	Message string `json:"message"`
	RunID   int64  `json:"run_id,omitempty"`
}

// readRequest reads an action of kind from r and checks it; on failure it gives the status to answer.
// A person signed in by single sign-on (login not "") acts as that login: "as" may be left out, and
// naming anyone else is refused.
func readRequest(w http.ResponseWriter, r *http.Request, kind, login string) (action.Request, int, error) {
	req := action.Request{Kind: kind}
	var body any
	switch kind {
	case action.KindApprove, action.KindReject:
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || id <= 0 {
			return req, http.StatusBadRequest, errors.New("run id must be a positive number")
		}
		req.RunID = id
		body = &decisionBody{}
	case action.KindRollback:
		body = &rollbackBody{}
	case action.KindUnlock, action.KindDrift, action.KindFix:
		body = &unlockBody{}
	default:
		return req, http.StatusNotFound, fmt.Errorf("no action %q", kind)
	}
	if code, err := decodeBody(w, r, body); err != nil {
		return req, code, err
	}
	switch b := body.(type) {
	case *decisionBody:
		req.Env, req.Reason, req.Actor.Login = b.Env, b.Reason, b.As
	case *rollbackBody:
		req.Repo, req.Env, req.To, req.Reason, req.Actor.Login = b.Repo, b.Env, b.To, b.Reason, b.As
	case *unlockBody:
		req.Repo, req.Env, req.Reason, req.Actor.Login = b.Repo, b.Env, b.Reason, b.As
	}
	if login != "" {
		if req.Actor.Login != "" && !strings.EqualFold(req.Actor.Login, login) {
			return req, http.StatusForbidden, fmt.Errorf(`"as" %q is not who is signed in (%s): signed in, you act as yourself`, req.Actor.Login, login)
		}
		req.Actor.Login = login
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if err := check(req); err != nil {
		return req, http.StatusBadRequest, err
	}
	return req, 0, nil
}

// decodeBody decodes exactly one JSON object of known fields into v.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) (int, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxActionBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, next := dec.Token(); !errors.Is(next, io.EOF) {
			err = next
			if err == nil {
				err = errors.New("more than one JSON value")
			}
		}
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, fmt.Errorf("the body is larger than %d KiB", maxActionBody>>10)
	default:
		return http.StatusBadRequest, fmt.Errorf("the body must be one JSON object of known fields: %v", err)
	}
}

// check refuses a request whose fields are missing or malformed, before anything acts on it.
func check(req action.Request) error {
	if req.Actor.Login == "" {
		return errors.New(`"as" is required: the GitHub login you act as`)
	}
	if !loginPattern.MatchString(req.Actor.Login) {
		return fmt.Errorf(`"as" %q is not a GitHub login`, req.Actor.Login)
	}
	if !config.ValidEnvironmentName(req.Env) {
		if req.Env == "" {
			return errors.New(`"env" is required`)
		}
		return fmt.Errorf(`"env" %q is not an environment name (lower case letters, digits, - and _)`, req.Env)
	}
	switch req.Kind {
	case action.KindRollback, action.KindUnlock, action.KindDrift, action.KindFix:
		if !validRepo(req.Repo) {
			return fmt.Errorf(`"repo" %q is not owner/name`, req.Repo)
		}
	}
	if req.Kind == action.KindRollback && req.To != "" && req.To != "previous" && !shaPattern.MatchString(req.To) {
		return fmt.Errorf(`"to" %q is neither a commit SHA (or a prefix of 4 or more hex digits) nor "previous"`, req.To)
	}
	switch req.Kind {
	case action.KindReject, action.KindRollback, action.KindUnlock, action.KindFix:
		if req.Reason == "" {
			return fmt.Errorf(`"reason" is required to %s`, req.Kind)
		}
	}
	if len(req.Reason) > maxReason {
		return fmt.Errorf(`"reason" is longer than %d bytes`, maxReason)
	}
	if !utf8.ValidString(req.Reason) || strings.ContainsFunc(req.Reason, unicode.IsControl) {
		return errors.New(`"reason" must be one line of text`)
	}
	return nil
}

// validRepo reports whether s is a GitHub owner/name.
func validRepo(s string) bool {
	owner, name, ok := strings.Cut(s, "/")
	return ok && ownerPattern.MatchString(owner) && namePattern.MatchString(name) && name != "." && name != ".."
}
