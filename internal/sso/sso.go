// Package sso signs people in to the dashboard with OpenID Connect and keeps them signed in with a
// session cookie: /auth/login sends the browser to the provider (authorization code flow with state,
// nonce and PKCE), /auth/callback checks what comes back and sets the session, /auth/logout ends it.
package sso

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Paths of the endpoints Routes registers.
const (
	LoginPath    = "/auth/login"
	CallbackPath = "/auth/callback"
	LogoutPath   = "/auth/logout"
)

// Cookie names: the session, and the short-lived login attempt (state, nonce, PKCE verifier).
const (
	SessionCookie = "runner_session"
	attemptCookie = "runner_auth"
)

// attemptTTL bounds how long a person may take at the provider.
const attemptTTL = 10 * time.Minute

// loginPattern is the syntax of a GitHub login: the login claim must be one, as it becomes the actor
// of actions that policy checks against GitHub permissions.
var loginPattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)

// Config is what single sign-on needs.
type Config struct {
	Issuer       string
	ClientID     string
	ClientSecret string // "" for a public client (PKCE alone)
	// PublicURL is the runner's base URL: the redirect URL is PublicURL + CallbackPath, and cookies are
	// Secure when it is https.
	PublicURL string
	// LoginClaim names the ID token claim holding the person's GitHub login; default preferred_username.
	LoginClaim string
	// Key authenticates session and login-attempt cookies (HMAC-SHA256); at least 32 bytes.
	Key []byte
	// AllowedLogins, when not empty, are the only GitHub logins (any case) that may sign in; a session of
	// a login taken off the list stops working at once.
	AllowedLogins []string
	// SessionTTL is how long a session lasts; default 12 hours.
	SessionTTL time.Duration
	// HTTPClient talks to the provider; nil: http.DefaultClient.
	HTTPClient *http.Client
	// Logger hears sign-ins and refusals; nil discards.
	Logger *slog.Logger
	// Now tells the time sessions are sealed and checked at; nil: time.Now.
	Now func() time.Time
}

// SSO serves the sign-in endpoints and recognises sessions.
type SSO struct {
	provider   *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	oauth      oauth2.Config
	claim      string
	allowed    map[string]bool // lower-case logins; nil: any
	key        []byte
	secure     bool
	ttl        time.Duration
	httpClient *http.Client
	log        *slog.Logger
	now        func() time.Time
}

// New discovers the provider and returns single sign-on ready to serve.
func New(ctx context.Context, cfg Config) (*SSO, error) {
	if len(cfg.Key) < 32 {
		return nil, errors.New("single sign-on: the session key is shorter than 32 bytes")
	}
	pub, err := url.Parse(cfg.PublicURL)
	if err != nil || (pub.Scheme != "http" && pub.Scheme != "https") || pub.Host == "" {
		return nil, fmt.Errorf("single sign-on: public URL %q is not an http(s) URL", cfg.PublicURL)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("single sign-on: discover OpenID provider %s: %w", cfg.Issuer, err)
	}
	s := &SSO{
		provider: provider,
		verifier: provider.Verifier(&oidc.Config{ClientID: cfg.ClientID}),
		oauth: oauth2.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: provider.Endpoint(),
			RedirectURL: strings.TrimSuffix(cfg.PublicURL, "/") + CallbackPath,
			Scopes:      []string{oidc.ScopeOpenID, "profile", "email"},
		},
		claim: cfg.LoginClaim, key: cfg.Key, secure: pub.Scheme == "https", ttl: cfg.SessionTTL,
		httpClient: client, log: cfg.Logger, now: time.Now,
	}
	if s.claim == "" {
		s.claim = "preferred_username"
	}
	if s.ttl <= 0 {
		s.ttl = 12 * time.Hour
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now != nil {
		s.now = cfg.Now
	}
	for _, l := range cfg.AllowedLogins {
		if s.allowed == nil {
			s.allowed = map[string]bool{}
		}
		s.allowed[strings.ToLower(l)] = true
	}
	return s, nil
}

// Routes registers the sign-in endpoints on mux.
func (s *SSO) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+LoginPath, s.login)
	mux.HandleFunc("GET "+CallbackPath, s.callback)
	mux.HandleFunc("POST "+LogoutPath, s.logout)
}

// Login gives the GitHub login of the request's valid session, if it has one.
func (s *SSO) Login(r *http.Request) (string, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return "", false
	}
	login, err := parseSession(s.key, c.Value, s.now())
	return login, err == nil && s.allows(login)
}

// allows reports whether login may sign in.
func (s *SSO) allows(login string) bool {
	return s.allowed == nil || s.allowed[strings.ToLower(login)]
}

// attempt is a login under way, kept in its cookie between /auth/login and /auth/callback.
type attempt struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
}

func (s *SSO) login(w http.ResponseWriter, r *http.Request) {
	a := attempt{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier()}
	value, err := seal(s.key, purposeAttempt, a, s.now().Add(attemptTTL))
	if err != nil {
		s.fail(w, http.StatusInternalServerError, "could not start signing in", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: attemptCookie, Value: value, Path: "/auth", MaxAge: int(attemptTTL / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.oauth.AuthCodeURL(a.State, oidc.Nonce(a.Nonce), oauth2.S256ChallengeOption(a.Verifier)), http.StatusFound)
}

func (s *SSO) callback(w http.ResponseWriter, r *http.Request) {
	// The attempt is used once, whatever happens.
	http.SetCookie(w, &http.Cookie{Name: attemptCookie, Value: "", Path: "/auth", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	c, err := r.Cookie(attemptCookie)
	if err != nil {
		s.fail(w, http.StatusBadRequest, "no sign-in is under way in this browser (or it took too long): start again at "+LoginPath, err)
		return
	}
	var a attempt
	if err := open(s.key, purposeAttempt, c.Value, s.now(), &a); err != nil {
		s.fail(w, http.StatusBadRequest, "the sign-in attempt is invalid or expired: start again at "+LoginPath, err)
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		s.fail(w, http.StatusForbidden, "the identity provider refused the sign-in: "+e+" "+q.Get("error_description"), nil)
		return
	}
	if st := q.Get("state"); st == "" || st != a.State {
		s.fail(w, http.StatusBadRequest, "the sign-in's state does not match this browser's: start again at "+LoginPath, nil)
		return
	}
	ctx := oidc.ClientContext(r.Context(), s.httpClient)
	tok, err := s.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(a.Verifier))
	if err != nil {
		s.fail(w, http.StatusBadGateway, "the identity provider did not exchange the code", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		s.fail(w, http.StatusBadGateway, "the identity provider sent no ID token", nil)
		return
	}
	idt, err := s.verifier.Verify(ctx, raw)
	if err != nil {
		s.fail(w, http.StatusForbidden, "the ID token is not valid for this runner", err)
		return
	}
	if idt.Nonce != a.Nonce {
		s.fail(w, http.StatusForbidden, "the ID token's nonce does not match this sign-in", nil)
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		s.fail(w, http.StatusForbidden, "the ID token's claims cannot be read", err)
		return
	}
	login, _ := claims[s.claim].(string)
	if !loginPattern.MatchString(login) {
		s.fail(w, http.StatusForbidden, fmt.Sprintf("the ID token's %s claim is not a GitHub login: ask the identity provider's administrator to map it to your GitHub login", s.claim), nil)
		return
	}
	if !s.allows(login) {
		s.fail(w, http.StatusForbidden, login+" may not sign in to this runner (RUNNER_OIDC_ALLOWED_LOGINS)", nil)
		return
	}
	value, err := newSession(s.key, login, s.now().Add(s.ttl))
	if err != nil {
		s.fail(w, http.StatusInternalServerError, "could not start the session", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: value, Path: "/", MaxAge: int(s.ttl / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	s.log.Info("signed in", "login", login, "subject", idt.Subject)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/", http.StatusFound)
}

// logout ends the session. A page of another site cannot sign a person out: the browser says so.
func (s *SSO) logout(w http.ResponseWriter, r *http.Request) {
	switch site := strings.ToLower(r.Header.Get("Sec-Fetch-Site")); site {
	case "cross-site", "same-site":
		s.fail(w, http.StatusForbidden, "refused: the browser says another site sent this request", nil)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = fmt.Fprintln(w, "Signed out of the runner. Sign in again at "+LoginPath)
}

// fail answers with msg as plain text, never as HTML: it may carry what the provider said.
func (s *SSO) fail(w http.ResponseWriter, code int, msg string, err error) {
	s.log.Warn("sign-in refused", "why", msg, "err", err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, msg)
}
