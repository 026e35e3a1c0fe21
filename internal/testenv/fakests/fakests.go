// Package fakests is an in-process stand-in for AWS STS (AssumeRole and GetCallerIdentity) that speaks the real
// Query protocol and XML, reached by the real aws-sdk-go-v2 STS client through BaseEndpoint.
package fakests

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AccountID is the account of the runner's own identity, used when a role's ARN names none.
const AccountID = "123456789012"

// RunnerARN is who any caller that is not an issued session is: the runner's own identity.
const RunnerARN = "arn:aws:iam::" + AccountID + ":user/runner"

// defaultMaxSession is IAM's default MaxSessionDuration for a role.
const defaultMaxSession = time.Hour

// Role is a role the fake lets the runner assume.
type Role struct {
	ARN string
	// ExternalID, when set, is the sts:ExternalId condition of the role's trust policy: AssumeRole without this
	// exact external ID is refused with AccessDenied, as AWS does.
	ExternalID string
	// MaxSessionDuration is the role's longest session; default one hour, as IAM's.
	MaxSessionDuration time.Duration
}

// Request is one call the fake received, in arrival order.
type Request struct {
	// Action is the STS operation, e.g. "AssumeRole".
	Action string
	// CallerAccessKeyID is the access key that signed the request (from the SigV4 Authorization header).
	CallerAccessKeyID string
	// RoleARN, RoleSessionName, ExternalID and Policy are the AssumeRole parameters as sent; empty when absent.
	RoleARN, RoleSessionName, ExternalID, Policy string
	// DurationSeconds is 0 when not sent.
	DurationSeconds int
	// Form is the whole request form.
	Form url.Values
}

// Session is a session the fake issued.
type Session struct {
	RoleARN, SessionName, AssumedRoleARN       string
	AccessKeyID, SecretAccessKey, SessionToken string
	Expires                                    time.Time
}

// Server is a running fake on 127.0.0.1. Create it with New and Close it when done.
type Server struct {
	URL string

	srv      *httptest.Server
	mu       sync.Mutex
	roles    map[string]Role
	sessions map[string]Session // by access key ID
	requests []Request
	seq      int // request IDs
	keys     int // issued access keys
}

// New starts the fake on 127.0.0.1. It knows no role until AddRole.
func New() *Server {
	s := &Server{roles: map[string]Role{}, sessions: map[string]Session{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// AddRole adds or replaces a role whose trust policy lets the runner assume it.
func (s *Server) AddRole(r Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.MaxSessionDuration == 0 {
		r.MaxSessionDuration = defaultMaxSession
	}
	s.roles[r.ARN] = r
}

// Requests returns a copy of the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// apiError is an STS error answer.
type apiError struct {
	status        int
	code, message string
}

func validation(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "ValidationError", message: fmt.Sprintf(format, args...)}
}

// credentialRE pulls the access key ID out of "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sts/aws4_request, ...".
var credentialRE = regexp.MustCompile(`Credential=([^/,\s]+)/`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, s.nextID(), &apiError{status: http.StatusMethodNotAllowed, code: "InvalidAction",
			message: "STS takes POST requests in this fake"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, s.nextID(), &apiError{status: http.StatusBadRequest, code: "MalformedQueryString", message: err.Error()})
		return
	}
	req := Request{
		Action:          r.PostForm.Get("Action"),
		RoleARN:         r.PostForm.Get("RoleArn"),
		RoleSessionName: r.PostForm.Get("RoleSessionName"),
		ExternalID:      r.PostForm.Get("ExternalId"),
		Policy:          r.PostForm.Get("Policy"),
		Form:            r.PostForm,
	}
	if m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		req.CallerAccessKeyID = m[1]
	}
	if d := r.PostForm.Get("DurationSeconds"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil {
			writeError(w, s.nextID(), validation("Value '%s' at 'durationSeconds' is not a number", d))
			return
		}
		req.DurationSeconds = n
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
	id := s.nextIDLocked()
	if r.PostForm.Get("Version") != "2011-06-15" {
		writeError(w, id, &apiError{status: http.StatusBadRequest, code: "InvalidAction",
			message: "Could not find operation " + req.Action + " for version " + r.PostForm.Get("Version")})
		return
	}
	caller, aerr := s.caller(req.CallerAccessKeyID, r.Header.Get("X-Amz-Security-Token"))
	if aerr != nil {
		writeError(w, id, aerr)
		return
	}
	switch req.Action {
	case "AssumeRole":
		res, aerr := s.assumeRole(req, caller)
		if aerr != nil {
			writeError(w, id, aerr)
			return
		}
		writeResult(w, id, "AssumeRole", res)
	case "GetCallerIdentity":
		writeResult(w, id, "GetCallerIdentity", identityResult{Arn: caller.arn, UserID: caller.userID, Account: caller.account})
	default:
		writeError(w, id, &apiError{status: http.StatusBadRequest, code: "InvalidAction",
			message: "Could not find operation " + req.Action + " for version 2011-06-15"})
	}
}

type identity struct{ arn, userID, account string }

// caller is who signed the request: an issued session (whose token must come with it), else the runner.
func (s *Server) caller(keyID, token string) (identity, *apiError) {
	sess, ok := s.sessions[keyID]
	if !ok {
		return identity{arn: RunnerARN, userID: "AIDARUNNER", account: AccountID}, nil
	}
	if token != sess.SessionToken {
		return identity{}, &apiError{status: http.StatusForbidden, code: "InvalidClientTokenId",
			message: "The security token included in the request is invalid."}
	}
	return identity{arn: sess.AssumedRoleARN, userID: "AROAFAKE:" + sess.SessionName, account: accountOf(sess.RoleARN)}, nil
}

// sessionNameRE is STS's pattern for RoleSessionName (and ExternalId, which also allows ':' and '/').
var (
	sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]*$`)
	externalIDRE  = regexp.MustCompile(`^[\w+=,.@:/-]*$`)
)

func (s *Server) assumeRole(req Request, caller identity) (assumeRoleResult, *apiError) {
	name := req.RoleSessionName
	switch {
	case len(name) < 2 || len(name) > 64:
		return assumeRoleResult{}, validation("1 validation error detected: Value '%s' at 'roleSessionName' failed to "+
			"satisfy constraint: Member must have length between 2 and 64", name)
	case !sessionNameRE.MatchString(name):
		return assumeRoleResult{}, validation("1 validation error detected: Value '%s' at 'roleSessionName' failed to "+
			`satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*`, name)
	case req.ExternalID != "" && (len(req.ExternalID) < 2 || len(req.ExternalID) > 1224 || !externalIDRE.MatchString(req.ExternalID)):
		return assumeRoleResult{}, validation("1 validation error detected: Value at 'externalId' failed to satisfy constraint")
	case req.Form.Has("DurationSeconds") && (req.DurationSeconds < 900 || req.DurationSeconds > 43200):
		return assumeRoleResult{}, validation("1 validation error detected: Value '%d' at 'durationSeconds' failed to "+
			"satisfy constraint: Member must have value between 900 and 43200", req.DurationSeconds)
	case req.Policy != "" && !json.Valid([]byte(req.Policy)):
		return assumeRoleResult{}, &apiError{status: http.StatusBadRequest, code: "MalformedPolicyDocument",
			message: "The policy is not in the valid JSON format."}
	}
	role, ok := s.roles[req.RoleARN]
	// AWS answers a missing role and an unmet trust policy condition alike.
	if !ok || role.ExternalID != req.ExternalID {
		return assumeRoleResult{}, &apiError{status: http.StatusForbidden, code: "AccessDenied",
			message: "User: " + caller.arn + " is not authorized to perform: sts:AssumeRole on resource: " + req.RoleARN}
	}
	duration := time.Hour
	if req.DurationSeconds > 0 {
		duration = time.Duration(req.DurationSeconds) * time.Second
	}
	if duration > role.MaxSessionDuration {
		return assumeRoleResult{}, validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	s.keys++
	roleName := req.RoleARN[strings.LastIndex(req.RoleARN, "/")+1:]
	sess := Session{
		RoleARN:         req.RoleARN,
		SessionName:     name,
		AssumedRoleARN:  "arn:aws:sts::" + accountOf(req.RoleARN) + ":assumed-role/" + roleName + "/" + name,
		AccessKeyID:     fmt.Sprintf("ASIAFAKE%012d", s.keys),
		SecretAccessKey: randomHex(20),
		SessionToken:    "FwoGZXIvYXdzFAKE" + randomHex(64),
		Expires:         time.Now().UTC().Add(duration).Truncate(time.Second),
	}
	s.sessions[sess.AccessKeyID] = sess
	var res assumeRoleResult
	res.AssumedRoleUser.Arn = sess.AssumedRoleARN
	res.AssumedRoleUser.AssumedRoleID = fmt.Sprintf("AROAFAKE%012d:%s", s.keys, name)
	res.Credentials = credentialsXML{AccessKeyID: sess.AccessKeyID, SecretAccessKey: sess.SecretAccessKey,
		SessionToken: sess.SessionToken, Expiration: sess.Expires.Format(time.RFC3339)}
	res.PackedPolicySize = len(req.Policy) * 100 / 2048
	return res, nil
}

// accountOf is the account field of an ARN, or the runner's account.
func accountOf(arn string) string {
	if f := strings.Split(arn, ":"); len(f) > 4 && f[4] != "" {
		return f[4]
	}
	return AccountID
}

func (s *Server) nextID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextIDLocked()
}

func (s *Server) nextIDLocked() string {
	s.seq++
	return fmt.Sprintf("%08x-aaaa-4bbb-8ccc-%012x", s.seq, s.seq)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
