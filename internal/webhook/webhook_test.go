package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/webhook"
)

const secret = "s3cr3t"

// fakeAcceptor records accepted events and answers duplicates by delivery id.
type fakeAcceptor struct {
	mu   sync.Mutex
	seen map[string]int64
	evs  []event.Event
}

func (f *fakeAcceptor) Accept(_ context.Context, ev event.Event) (event.Receipt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = map[string]int64{}
	}
	if id, ok := f.seen[ev.DeliveryID]; ok {
		return event.Receipt{Run: id, Duplicate: true}, nil
	}
	f.evs = append(f.evs, ev)
	id := int64(len(f.evs))
	f.seen[ev.DeliveryID] = id
	return event.Receipt{Run: id}, nil
}

// payload reads a real GitHub payload from ../shared, or skips. The real issue_comment payload is a comment
// on an issue: it is made a pull request's (issue.pull_request set, as GitHub sends it), the comments the
// runner acts on; rawPayload reads it unchanged.
func payload(t testing.TB, name string) []byte {
	t.Helper()
	b := rawPayload(t, name)
	if name == "issue_comment.created.json" {
		b = setJSON(t, b, "issue.pull_request", map[string]any{"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"})
	}
	return b
}

func rawPayload(t testing.TB, name string) []byte {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "testdata", "github-webhooks", name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("real GitHub payloads not available (%v): run with ../shared beside the repository", err)
	}
	return b
}

func sign256(body []byte, key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func sign512(body []byte, key string) string {
	m := hmac.New(sha512.New, []byte(key))
	m.Write(body)
	return "sha512=" + hex.EncodeToString(m.Sum(nil))
}

func sign1(body []byte, key string) string {
	m := hmac.New(sha1.New, []byte(key))
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

// setJSON rewrites one top-level field path of a payload (e.g. action, pull_request.merged).
func setJSON(t testing.TB, body []byte, path string, v any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(path, ".")
	cur := m
	for _, p := range parts[:len(parts)-1] {
		cur = cur[p].(map[string]any)
	}
	cur[parts[len(parts)-1]] = v
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func newHandler(t testing.TB, acc webhook.Acceptor, allowed ...string) http.Handler {
	t.Helper()
	if len(allowed) == 0 {
		allowed = []string{"*/*"}
	}
	h, err := webhook.New(webhook.Config{Secret: []byte(secret), AllowedRepos: allowed, MaxBody: webhook.DefaultMaxBody}, acc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type delivery struct {
	event, id string
	body      []byte
	sig256    string
	sig1      string
	ctype     string
}

func send(t testing.TB, h http.Handler, d delivery) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(d.body))
	if d.ctype == "" {
		d.ctype = "application/json"
	}
	req.Header.Set("Content-Type", d.ctype)
	req.Header.Set("X-GitHub-Event", d.event)
	if d.id == "" {
		d.id = "delivery-" + d.event
	}
	req.Header.Set("X-GitHub-Delivery", d.id)
	if d.sig256 != "" {
		req.Header.Set("X-Hub-Signature-256", d.sig256)
	}
	if d.sig1 != "" {
		req.Header.Set("X-Hub-Signature", d.sig1)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return rec, body
}

func TestSignatures(t *testing.T) {
	body := payload(t, "push.with-new-branch.json")
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-3] ^= 1
	tests := []struct {
		name string
		d    delivery
		want int
	}{
		{"valid sha256", delivery{event: "push", body: body, sig256: sign256(body, secret)}, http.StatusAccepted},
		{"missing signature", delivery{event: "push", body: body}, http.StatusUnauthorized},
		{"wrong secret", delivery{event: "push", body: body, sig256: sign256(body, "other")}, http.StatusUnauthorized},
		{"sha1 only", delivery{event: "push", body: body, sig1: sign1(body, secret)}, http.StatusUnauthorized},
		{"sha1 in the sha256 header", delivery{event: "push", body: body, sig256: sign1(body, secret)}, http.StatusUnauthorized},
		{"sha512 in the sha256 header", delivery{event: "push", body: body, sig256: sign512(body, secret)}, http.StatusUnauthorized},
		{"tampered body", delivery{event: "push", body: tampered, sig256: sign256(body, secret)}, http.StatusUnauthorized},
		{"garbage signature", delivery{event: "push", body: body, sig256: "sha256=zz"}, http.StatusUnauthorized},
		{"wrong content type", delivery{event: "push", body: body, sig256: sign256(body, secret), ctype: "text/plain"}, http.StatusUnsupportedMediaType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acc := &fakeAcceptor{}
			rec, _ := send(t, newHandler(t, acc), tc.d)
			if rec.Code != tc.want {
				t.Fatalf("status = %d, want %d (body %s)", rec.Code, tc.want, rec.Body)
			}
			if tc.want != http.StatusAccepted && len(acc.evs) != 0 {
				t.Fatalf("a refused delivery was accepted: %+v", acc.evs)
			}
		})
	}
}

func TestOversizedBody(t *testing.T) {
	acc := &fakeAcceptor{}
	body := bytes.Repeat([]byte(" "), webhook.DefaultMaxBody+1)
	rec, _ := send(t, newHandler(t, acc), delivery{event: "push", body: body, sig256: sign256(body, secret)})
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", rec.Code)
	}
}

func TestMalformedJSON(t *testing.T) {
	body := []byte(`{"ref": "refs/heads/main", "repository": {`)
	rec, _ := send(t, newHandler(t, &fakeAcceptor{}), delivery{event: "push", body: body, sig256: sign256(body, secret)})
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400", rec.Code)
	}
}

// A form-encoded delivery (GitHub's other content type) carries the JSON in its
// "payload" field; the signature covers the raw form body.
func TestFormEncoded(t *testing.T) {
	pushJSON := `{"ref":"refs/heads/main","after":"` + strings.Repeat("a", 40) + `","repository":{"full_name":"acme/infra"}}`
	good := []byte("payload=" + url.QueryEscape(pushJSON))
	tests := []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"valid", good, sign256(good, secret), http.StatusAccepted},
		{"wrong signature", good, sign256(good, "other"), http.StatusUnauthorized},
		{"signed but not a form", []byte("payload=%zz"), sign256([]byte("payload=%zz"), secret), http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, _ := send(t, newHandler(t, &fakeAcceptor{}), delivery{event: "push", body: tc.body, sig256: tc.sig, ctype: "application/x-www-form-urlencoded"})
			if rec.Code != tc.want {
				t.Fatalf("status = %d, want %d (body %s)", rec.Code, tc.want, rec.Body)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	prOpened := payload(t, "pull_request.opened.json")
	closed := payload(t, "pull_request.closed.json")
	merged := setJSON(t, setJSON(t, closed, "pull_request.merged", true), "pull_request.merge_commit_sha", "aaaabbbbccccddddeeeeffff0000111122223333")
	tests := []struct {
		name     string
		event    string
		body     []byte
		want     int
		wantKind string
		ignored  bool
	}{
		{"ping", "ping", payload(t, "ping.json"), http.StatusOK, "", false},
		{"ping from an app", "ping", payload(t, "ping.with-app_id.json"), http.StatusOK, "", false},
		{"push to a branch", "push", payload(t, "push.with-new-branch.json"), http.StatusAccepted, event.KindDeploy, false},
		{"push of a tag", "push", payload(t, "push.json"), http.StatusAccepted, event.KindDeploy, false},
		{"push from an installation", "push", payload(t, "push.with-installation.json"), http.StatusAccepted, event.KindDeploy, false},
		{"pr opened", "pull_request", prOpened, http.StatusAccepted, event.KindPlan, false},
		{"pr opened with null body", "pull_request", payload(t, "pull_request.opened.with-null-body.json"), http.StatusAccepted, event.KindPlan, false},
		{"pr reopened", "pull_request", payload(t, "pull_request.reopened.json"), http.StatusAccepted, event.KindPlan, false},
		{"pr synchronize", "pull_request", payload(t, "pull_request.synchronize.json"), http.StatusAccepted, event.KindPlan, false},
		{"pr closed and merged", "pull_request", merged, http.StatusAccepted, event.KindMerged, false},
		{"pr closed without merge", "pull_request", closed, http.StatusAccepted, "", true},
		{"pr labeled", "pull_request", payload(t, "pull_request.labeled.json"), http.StatusAccepted, "", true},
		{"issue comment", "issue_comment", payload(t, "issue_comment.created.json"), http.StatusAccepted, event.KindComment, false},
		{"comment on an issue", "issue_comment", rawPayload(t, "issue_comment.created.json"), http.StatusAccepted, "", true},
		{"issue comment edited", "issue_comment", setJSON(t, payload(t, "issue_comment.created.json"), "action", "edited"), http.StatusAccepted, "", true},
		{"issue comment deleted", "issue_comment", setJSON(t, payload(t, "issue_comment.created.json"), "action", "deleted"), http.StatusAccepted, "", true},
		{"issue comment by a bot", "issue_comment", setJSON(t, payload(t, "issue_comment.created.json"), "comment.user.type", "Bot"), http.StatusAccepted, "", true},
		{"other event", "star", []byte(`{"action":"created"}`), http.StatusAccepted, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acc := &fakeAcceptor{}
			rec, body := send(t, newHandler(t, acc), delivery{event: tc.event, body: tc.body, sig256: sign256(tc.body, secret)})
			if rec.Code != tc.want {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tc.want, rec.Body)
			}
			if tc.ignored {
				if _, ok := body["ignored"]; !ok || len(acc.evs) != 0 {
					t.Fatalf("want ignored and nothing queued, got %v, queued %d", body, len(acc.evs))
				}
				return
			}
			if tc.wantKind == "" {
				return
			}
			if len(acc.evs) != 1 || acc.evs[0].Kind != tc.wantKind {
				t.Fatalf("queued %+v, want one %s", acc.evs, tc.wantKind)
			}
			if body["run"] != float64(1) {
				t.Fatalf("body = %v, want run id 1", body)
			}
			ev := acc.evs[0]
			if ev.Repo == "" || ev.DeliveryID == "" || ev.Name != tc.event {
				t.Fatalf("event not filled: %+v", ev)
			}
			if tc.wantKind != event.KindComment && ev.SHA == "" {
				t.Fatalf("event without sha: %+v", ev)
			}
		})
	}
}

func TestPullRequestFields(t *testing.T) {
	body := payload(t, "pull_request.synchronize.json")
	acc := &fakeAcceptor{}
	send(t, newHandler(t, acc), delivery{event: "pull_request", body: body, sig256: sign256(body, secret)})
	var raw struct {
		Number      int `json:"number"`
		PullRequest struct {
			Head struct{ SHA, Ref string }
			Base struct{ SHA, Ref string }
		} `json:"pull_request"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	ev := acc.evs[0]
	if ev.SHA != raw.PullRequest.Head.SHA || ev.BaseSHA != raw.PullRequest.Base.SHA || ev.PR != raw.Number || ev.BaseRef != raw.PullRequest.Base.Ref {
		t.Fatalf("event %+v does not match payload %+v", ev, raw)
	}
}

func TestAllowlist(t *testing.T) {
	body := payload(t, "push.with-new-branch.json")
	var raw struct {
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	_ = json.Unmarshal(body, &raw)
	owner := strings.Split(raw.Repository.FullName, "/")[0]
	tests := []struct {
		name    string
		allowed []string
		want    int
	}{
		{"exact", []string{raw.Repository.FullName}, http.StatusAccepted},
		{"owner glob", []string{owner + "/*"}, http.StatusAccepted},
		{"case-insensitive", []string{strings.ToUpper(raw.Repository.FullName)}, http.StatusAccepted},
		{"other repo", []string{"someone/else"}, http.StatusForbidden},
		{"other owner glob", []string{"other/*"}, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acc := &fakeAcceptor{}
			rec, _ := send(t, newHandler(t, acc, tc.allowed...), delivery{event: "push", body: body, sig256: sign256(body, secret)})
			if rec.Code != tc.want {
				t.Fatalf("status = %d, want %d", rec.Code, tc.want)
			}
		})
	}
}

func TestDuplicateDelivery(t *testing.T) {
	body := payload(t, "push.with-new-branch.json")
	acc := &fakeAcceptor{}
	h := newHandler(t, acc)
	d := delivery{event: "push", id: "same-id", body: body, sig256: sign256(body, secret)}
	if rec, _ := send(t, h, d); rec.Code != http.StatusAccepted {
		t.Fatalf("first delivery: %d", rec.Code)
	}
	rec, got := send(t, h, d)
	if rec.Code != http.StatusOK || got["duplicate"] != true || got["run"] != float64(1) {
		t.Fatalf("repeat delivery: %d %v", rec.Code, got)
	}
	if len(acc.evs) != 1 {
		t.Fatalf("queued %d times", len(acc.evs))
	}
}

func TestRefusesEmptySecret(t *testing.T) {
	if _, err := webhook.New(webhook.Config{}, &fakeAcceptor{}, nil); err == nil {
		t.Fatal("want an error for an empty secret")
	}
}

func FuzzNormalize(f *testing.F) {
	for _, n := range []string{"push.json", "pull_request.opened.json", "issue_comment.created.json"} {
		p := filepath.Join("..", "..", "..", "shared", "testdata", "github-webhooks", n)
		if b, err := os.ReadFile(p); err == nil {
			f.Add(strings.SplitN(n, ".", 2)[0], b)
		}
	}
	f.Add("push", []byte(`{"ref":"refs/heads/main","repository":{"full_name":"a/b"}}`))
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		h := newHandler(t, &fakeAcceptor{})
		rec, _ := send(t, h, delivery{event: name, id: "x", body: body, sig256: sign256(body, secret)})
		switch rec.Code {
		case http.StatusOK, http.StatusAccepted, http.StatusBadRequest, http.StatusForbidden:
		default:
			t.Fatalf("unexpected status %d for %q", rec.Code, name)
		}
	})
}
