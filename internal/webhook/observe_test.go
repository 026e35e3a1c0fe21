package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/webhook"
)

// observed records what Config.Observe was told.
type observed struct {
	mu  sync.Mutex
	got []string
}

func (o *observed) observe(ev, outcome, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, ev+" "+outcome+" "+reason)
}

// failingAcceptor cannot store anything.
type failingAcceptor struct{}

func (failingAcceptor) Accept(context.Context, event.Event) (event.Receipt, error) {
	return event.Receipt{}, errors.New("database is down")
}

// replayAcceptor answers every delivery as a replay of an earlier one.
type replayAcceptor struct{}

func (replayAcceptor) Accept(context.Context, event.Event) (event.Receipt, error) {
	return event.Receipt{Run: 1, Duplicate: true, Replay: true}, nil
}

func pushBody(repo string) []byte {
	return fmt.Appendf(nil, `{"ref":"refs/heads/main","before":"%040d","after":"%040d","repository":{"full_name":%q,
		"clone_url":"https://github.com/%s.git","default_branch":"main"},"sender":{"login":"octocat"}}`, 1, 2, repo, repo)
}

// Every way a delivery ends is observed exactly once, with bounded labels.
func TestObserveTellsHowEachDeliveryEnded(t *testing.T) {
	push := pushBody("acme/infra")
	type req struct {
		method, event, delivery, ctype, sig string
		body                                []byte
	}
	signed := func(event, delivery string, body []byte) req {
		return req{http.MethodPost, event, delivery, "application/json", sign256(body, secret), body}
	}
	tests := []struct {
		name    string
		acc     webhook.Acceptor
		allowed string
		reqs    []req
		want    []string
	}{
		{name: "accepted, then the same delivery again", reqs: []req{signed("push", "d-1", push), signed("push", "d-1", push)},
			want: []string{"push accepted ", "push duplicate delivery_id"}},
		{name: "replayed content", acc: replayAcceptor{}, reqs: []req{signed("push", "d-1", push)},
			want: []string{"push duplicate replay"}},
		{name: "wrong method", reqs: []req{{method: http.MethodGet, event: "push"}}, want: []string{"push refused method_not_allowed"}},
		{name: "no signature", reqs: []req{{http.MethodPost, "push", "d-1", "application/json", "", push}},
			want: []string{"push refused missing_signature"}},
		{name: "signature of another secret", reqs: []req{{http.MethodPost, "push", "d-1", "application/json", sign256(push, "other"), push}},
			want: []string{"push refused bad_signature"}},
		{name: "malformed signature", reqs: []req{{http.MethodPost, "push", "d-1", "application/json", "sha256=zz", push}},
			want: []string{"push refused bad_signature"}},
		{name: "content type", reqs: []req{{http.MethodPost, "push", "d-1", "text/plain", sign256(push, secret), push}},
			want: []string{"push refused content_type"}},
		{name: "no delivery id", reqs: []req{signed("push", "", push)}, want: []string{"push refused missing_headers"}},
		{name: "body too large", reqs: []req{signed("push", "d-1", bytes.Repeat([]byte(" "), webhook.DefaultMaxBody+1))},
			want: []string{"push refused body_too_large"}},
		{name: "ping", reqs: []req{signed("ping", "d-1", []byte(`{"zen":"x"}`))}, want: []string{"ping ignored ping"}},
		{name: "unsupported event, its name bounded", reqs: []req{signed("star; DROP TABLE", "d-1", []byte(`{}`))},
			want: []string{"other ignored unsupported_event"}},
		{name: "malformed payload", reqs: []req{signed("push", "d-1", []byte(`{"ref":`))}, want: []string{"push refused malformed"}},
		{name: "closed without merge", reqs: []req{signed("pull_request", "d-1",
			[]byte(`{"action":"closed","number":1,"pull_request":{"merged":false},"repository":{"full_name":"acme/infra"}}`))},
			want: []string{"pull_request ignored not_acted_on"}},
		{name: "no repository", reqs: []req{signed("push", "d-1", []byte(`{"ref":"refs/heads/main"}`))},
			want: []string{"push refused no_repository"}},
		{name: "repository not allowed", allowed: "acme/other", reqs: []req{signed("push", "d-1", push)},
			want: []string{"push refused repo_not_allowed"}},
		{name: "store failed", acc: failingAcceptor{}, reqs: []req{signed("push", "d-1", push)}, want: []string{"push error store_failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o observed
			acc := tt.acc
			if acc == nil {
				acc = &fakeAcceptor{}
			}
			allowed := []string{"*/*"}
			if tt.allowed != "" {
				allowed = []string{tt.allowed}
			}
			h, err := webhook.New(webhook.Config{Secret: []byte(secret), AllowedRepos: allowed, Observe: o.observe}, acc, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tt.reqs {
				req := httptest.NewRequest(r.method, "/webhooks/github", bytes.NewReader(r.body))
				for k, v := range map[string]string{"X-GitHub-Event": r.event, "X-GitHub-Delivery": r.delivery,
					"Content-Type": r.ctype, "X-Hub-Signature-256": r.sig} {
					if v != "" {
						req.Header.Set(k, v)
					}
				}
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
			if got := strings.Join(o.got, "\n"); got != strings.Join(tt.want, "\n") {
				t.Errorf("observed:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
		})
	}
}
