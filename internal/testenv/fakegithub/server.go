// Package fakegithub is an in-process stand-in for the GitHub REST endpoints the runner uses (issue comments and
// their reactions, commit statuses, check runs, deployments, pulls, collaborator permissions, team memberships, the
// authenticated user or App, App installation tokens), speaking GitHub's wire format to the real client.
package fakegithub

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxCommentLength is GitHub's limit on an issue comment body, in characters.
const MaxCommentLength = 65536

// Config says what the fake accepts. The zero value serves at the root without checking credentials.
type Config struct {
	// Tokens are the personal or installation tokens accepted in "Authorization: token X" or "Bearer X".
	// When Tokens is empty and no App is registered, requests are not authenticated. A token starting with
	// "ghs_" is an installation token (as GitHub Actions' GITHUB_TOKEN is): it acts for no user, so GET /user
	// refuses it. Check runs are written only with installation tokens the fake minted for a registered App
	// (RegisterApp); any token listed here gets GitHub's 403 for them.
	Tokens []string
	// APIPrefix serves the API under a path, as GitHub Enterprise does ("/api/v3").
	APIPrefix string
	// Login is the user that authored the comments, statuses and deployments the fake creates, and whom
	// GET /user names for a token; empty means "gitops-runner[bot]".
	Login string
	// AppSlug is what GET /app answers as the registered App's slug (GitHub names the App's bot user
	// "<slug>[bot]"); empty means Login without its "[bot]" suffix, so an App authors the comments it creates.
	AppSlug string
}

// Server is a running fake. It is safe for concurrent use.
type Server struct {
	srv    *httptest.Server
	prefix string
	login  string
	slug   string

	mu       sync.Mutex
	now      func() time.Time
	tokens   map[string]bool
	apps     map[int64]app // by installation id
	issued   []string
	appOf    map[string]int64 // installation token -> the App it was minted for
	failures []Failure
	calls    []Call
	nextID   int64

	comments     []*Comment // in creation order
	statuses     map[string][]Status
	deployments  map[string][]*Deployment
	deplStatuses map[int64][]DeploymentStatus
	pulls        map[string]map[int]Pull
	repos        map[string]Repo
	reactions    map[int64][]reaction   // by comment id
	checkRuns    map[string][]*checkRun // by repository, in creation order

	collaborators map[string]Collaborator // by lower-case "owner/repo/user"
	teams         map[string]string       // membership state by lower-case "org/slug/user"
}

// Call is one request the fake answered.
type Call struct {
	Method string
	Path   string // without the API prefix
	Query  string
	Body   string
	Status int
}

// New starts a fake on 127.0.0.1. Close it when done.
func New(cfg Config) *Server {
	s := &Server{
		prefix:       strings.TrimRight(cfg.APIPrefix, "/"),
		login:        cfg.Login,
		now:          time.Now,
		tokens:       map[string]bool{},
		apps:         map[int64]app{},
		appOf:        map[string]int64{},
		nextID:       1000,
		statuses:     map[string][]Status{},
		deployments:  map[string][]*Deployment{},
		deplStatuses: map[int64][]DeploymentStatus{},
		pulls:        map[string]map[int]Pull{},
		repos:        map[string]Repo{},
		reactions:    map[int64][]reaction{},
		checkRuns:    map[string][]*checkRun{},
	}
	if s.login == "" {
		s.login = "gitops-runner[bot]"
	}
	s.slug = cfg.AppSlug
	if s.slug == "" {
		s.slug = strings.TrimSuffix(s.login, "[bot]")
	}
	for _, t := range cfg.Tokens {
		s.tokens[t] = true
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// URL is the API base URL with a trailing slash, as go-github's BaseURL wants it.
func (s *Server) URL() string { return s.srv.URL + s.prefix + "/" }

// HTTPClient is a client for the fake's listener.
func (s *Server) HTTPClient() *http.Client { return s.srv.Client() }

// AddToken makes token acceptable from now on.
func (s *Server) AddToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = true
}

type app struct {
	id  int64
	pub *rsa.PublicKey
}

// RegisterApp installs the App appID as installationID: POST /app/installations/{installationID}/access_tokens
// then answers a fresh token to a JWT that the App's private key (matching pub) signed with RS256.
func (s *Server) RegisterApp(appID, installationID int64, pub *rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[installationID] = app{id: appID, pub: pub}
}

// IssuedTokens returns the installation tokens minted so far.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// Calls returns every request answered so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

func (s *Server) id() int64 {
	s.nextID++
	return s.nextID
}

type handler func(w http.ResponseWriter, r *http.Request, body []byte, p params) int

type params struct {
	owner, repo string
	rest        []string
}

func (p params) full() string { return p.owner + "/" + p.repo }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	path := r.URL.Path
	status := 0
	defer func() {
		s.mu.Lock()
		s.calls = append(s.calls, Call{Method: r.Method, Path: strings.TrimPrefix(path, s.prefix), Query: r.URL.RawQuery, Body: string(body), Status: status})
		s.mu.Unlock()
	}()

	if s.prefix != "" {
		if !strings.HasPrefix(path, s.prefix+"/") {
			status = writeError(w, http.StatusNotFound, "Not Found")
			return
		}
	}
	rel := strings.TrimPrefix(path, s.prefix)
	if f, ok := s.takeFailure(rel); ok {
		status = f.write(w, s.now())
		return
	}
	segs := strings.Split(strings.Trim(rel, "/"), "/")

	if len(segs) == 4 && segs[0] == "app" && segs[1] == "installations" && segs[3] == "access_tokens" && r.Method == http.MethodPost {
		status = s.accessToken(w, r, segs[2])
		return
	}
	if len(segs) == 1 && segs[0] == "app" && r.Method == http.MethodGet {
		status = s.getApp(w, r)
		return
	}
	if !s.authorized(r) {
		status = writeError(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	if len(segs) == 1 && segs[0] == "user" && r.Method == http.MethodGet {
		status = s.getUser(w, r)
		return
	}
	if len(segs) == 6 && segs[0] == "orgs" && segs[2] == "teams" && segs[4] == "memberships" && r.Method == http.MethodGet {
		status = s.teamMembership(w, segs[1], segs[3], segs[5])
		return
	}
	if len(segs) < 4 || segs[0] != "repos" {
		status = writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	p := params{owner: segs[1], repo: segs[2], rest: segs[3:]}
	h := s.route(r.Method, p.rest)
	if h == nil {
		status = writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	status = h(w, r, body, p)
}

// route maps the path below /repos/{owner}/{repo}/ to a handler.
func (s *Server) route(method string, rest []string) handler {
	key := method + " " + shape(rest)
	switch key {
	case "GET issues/*/comments":
		return s.listComments
	case "POST issues/*/comments":
		return s.createComment
	case "PATCH issues/comments/*":
		return s.editComment
	case "GET issues/comments/*":
		return s.getComment
	case "DELETE issues/comments/*":
		return s.deleteComment
	case "POST issues/comments/*/reactions":
		return s.createReaction
	case "POST statuses/*":
		return s.createStatus
	case "GET commits/*/statuses":
		return s.listStatuses
	case "GET commits/*/status":
		return s.combinedStatus
	case "POST deployments":
		return s.createDeployment
	case "GET deployments":
		return s.listDeployments
	case "POST deployments/*/statuses":
		return s.createDeploymentStatus
	case "GET deployments/*/statuses":
		return s.listDeploymentStatuses
	case "GET commits/*/pulls":
		return s.commitPulls
	case "GET pulls/*":
		return s.getPull
	case "GET collaborators/*/permission":
		return s.collaboratorPermission
	case "POST check-runs":
		return s.createCheckRun
	case "PATCH check-runs/*":
		return s.updateCheckRun
	case "GET check-runs/*":
		return s.getCheckRun
	case "GET commits/*/check-runs":
		return s.listCheckRuns
	}
	return nil
}

// shape replaces the variable segments (numbers and SHAs) with "*" so routes read like GitHub's docs.
func shape(rest []string) string {
	out := make([]string, len(rest))
	for i, seg := range rest {
		out[i] = seg
		if i%2 == 1 {
			out[i] = "*"
		}
	}
	// "issues/comments/{id}[/reactions]" has its variable in the third place.
	if len(rest) >= 3 && rest[0] == "issues" && rest[1] == "comments" {
		out = append([]string{"issues", "comments", "*"}, rest[3:]...)
	}
	return strings.Join(out, "/")
}

func (s *Server) authorized(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tokens) == 0 && len(s.apps) == 0 {
		return true
	}
	tok, ok := bearer(r)
	return ok && s.tokens[tok]
}

// bearer returns the token from "Authorization: token X" or "Bearer X".
func bearer(r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	for _, scheme := range []string{"token ", "Bearer ", "bearer "} {
		if tok, ok := strings.CutPrefix(auth, scheme); ok {
			return tok, true
		}
	}
	return "", false
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return status
}

type apiError struct {
	Message          string       `json:"message"`
	Errors           []fieldError `json:"errors,omitempty"`
	DocumentationURL string       `json:"documentation_url"`
	Status           string       `json:"status"`
}

type fieldError struct {
	Resource string `json:"resource"`
	Code     string `json:"code"`
	Field    string `json:"field"`
	Message  string `json:"message,omitempty"`
}

func writeError(w http.ResponseWriter, status int, msg string) int {
	return writeJSON(w, status, apiError{Message: msg, DocumentationURL: "https://docs.github.com/rest", Status: strconv.Itoa(status)})
}

// writeValidation answers 422 the way GitHub reports a field that failed validation.
func writeValidation(w http.ResponseWriter, resource, field, code, msg string) int {
	return writeJSON(w, http.StatusUnprocessableEntity, apiError{
		Message:          "Validation Failed",
		Errors:           []fieldError{{Resource: resource, Code: code, Field: field, Message: msg}},
		DocumentationURL: "https://docs.github.com/rest",
		Status:           "422",
	})
}

func (s *Server) userJSON() user { return userFor(s.login) }

// userFor is login's user object: GitHub's bot accounts are named "<slug>[bot]" and typed "Bot". The id is
// stable per login.
func userFor(login string) user {
	h := fnv.New32a()
	_, _ = h.Write([]byte(strings.ToLower(login)))
	u := user{Login: login, ID: int64(h.Sum32()%100_000_000) + 1, Type: "User"}
	if strings.HasSuffix(login, "[bot]") {
		u.Type = "Bot"
	}
	return u
}

type user struct {
	Login string `json:"login"`
	ID    int64  `json:"id"`
	Type  string `json:"type"`
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *Server) apiURL(format string, args ...any) string {
	return s.srv.URL + s.prefix + fmt.Sprintf(format, args...)
}
