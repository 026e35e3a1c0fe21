package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/action"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/web"
)

const actionToken = "s3cret-api-token-0123456789"

// fakeActor records what it is asked and answers with result or err.
type fakeActor struct {
	mu     sync.Mutex
	asked  []action.Request
	result action.Result
	err    error
}

func (f *fakeActor) Do(_ context.Context, req action.Request) (action.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, req)
	return f.result, f.err
}

func (f *fakeActor) requests() []action.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]action.Request(nil), f.asked...)
}

// fakeApprovals lists fixed approvals.
type fakeApprovals struct {
	list []web.ApprovalView
	err  error
}

func (f fakeApprovals) Approvals(context.Context) ([]web.ApprovalView, error) { return f.list, f.err }

// actionServer serves the API on 127.0.0.1 with opts and returns its URL and store.
func actionServer(t *testing.T, opts web.Options) (string, *store.Store) {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mux := http.NewServeMux()
	web.Routes(mux, st, nil, opts)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, st
}

// send makes a request with headers (a "" value removes a header) and returns the status and the
// decoded JSON answer.
func send(t *testing.T, method, u, body string, headers map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s = %d, not JSON: %s", method, u, resp.StatusCode, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, u, ct)
	}
	return resp.StatusCode, out
}

// headers are what the dashboard sends, changed by the pairs given ("" removes).
func headers(host string, kv ...string) map[string]string {
	h := map[string]string{
		"Content-Type":   "application/json",
		"Authorization":  "Bearer " + actionToken,
		"Origin":         "http://" + host,
		"Sec-Fetch-Site": "same-origin",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return h
}

func TestActions(t *testing.T) {
	actor := &fakeActor{result: action.Result{Message: "done", RunID: 42}}
	base, _ := actionServer(t, web.Options{Token: actionToken, Actions: actor, PublicURL: "https://runner.example.com/"})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Host
	basic := "Basic " + basicAuth("dana", actionToken)
	long := strings.Repeat("x", 501)
	huge := `{"env":"prod","as":"alice","reason":"` + strings.Repeat("x", 17<<10) + `"}`
	dashboard := func(login string) action.Actor {
		return action.Actor{Login: login, Channel: action.ChannelDashboard, Operator: true}
	}
	tests := []struct {
		name      string
		path      string
		body      string
		headers   map[string]string
		want      int
		wantError string          // part of the error answer
		wantReq   *action.Request // what the actor is asked; nil: not asked
	}{
		// What each endpoint asks.
		{name: "approve from the dashboard", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host), want: 200,
			wantReq: &action.Request{Kind: action.KindApprove, RunID: 7, Env: "prod", Actor: dashboard("alice")}},
		{name: "approve from the CLI", path: "/api/runs/7/approve", body: `{"env":"prod","reason":"looks right","as":"alice"}`,
			headers: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + actionToken, "X-Runner-Client": "cli"}, want: 200,
			wantReq: &action.Request{Kind: action.KindApprove, RunID: 7, Env: "prod", Reason: "looks right", Actor: action.Actor{Login: "alice", Channel: action.ChannelCLI, Operator: true}}},
		{name: "reject", path: "/api/runs/8/reject", body: `{"env":"staging","reason":" wrong version ","as":"bob-2"}`, headers: headers(host), want: 200,
			wantReq: &action.Request{Kind: action.KindReject, RunID: 8, Env: "staging", Reason: "wrong version", Actor: dashboard("bob-2")}},
		{name: "rollback to the previous deploy", path: "/api/rollback", body: `{"repo":"acme/infra","env":"prod","to":"previous","reason":"500s","as":"alice"}`, headers: headers(host), want: 200,
			wantReq: &action.Request{Kind: action.KindRollback, Repo: "acme/infra", Env: "prod", To: "previous", Reason: "500s", Actor: dashboard("alice")}},
		{name: "rollback to a commit", path: "/api/rollback", body: `{"repo":"acme/infra.live","env":"prod","to":"0123abcd","reason":"500s","as":"alice"}`, headers: headers(host), want: 200,
			wantReq: &action.Request{Kind: action.KindRollback, Repo: "acme/infra.live", Env: "prod", To: "0123abcd", Reason: "500s", Actor: dashboard("alice")}},
		{name: "rollback with no target", path: "/api/rollback", body: `{"repo":"acme/infra","env":"prod","reason":"500s","as":"alice"}`, headers: headers(host), want: 200,
			wantReq: &action.Request{Kind: action.KindRollback, Repo: "acme/infra", Env: "prod", Reason: "500s", Actor: dashboard("alice")}},
		{name: "unlock", path: "/api/unlock", body: `{"repo":"acme/infra","env":"dev","reason":"stuck","as":"dependabot[bot]"}`, headers: headers(host), want: 200,
			wantReq: &action.Request{Kind: action.KindUnlock, Repo: "acme/infra", Env: "dev", Reason: "stuck", Actor: dashboard("dependabot[bot]")}},
		{name: "drift check", path: "/api/drift", body: `{"repo":"acme/infra","env":"prod","as":"alice"}`, headers: headers(host), want: 200,
			wantReq: &action.Request{Kind: action.KindDrift, Repo: "acme/infra", Env: "prod", Actor: dashboard("alice")}},
		{name: "drift check of a bad repository", path: "/api/drift", body: `{"repo":"acme","env":"prod","as":"alice"}`, headers: headers(host), want: 400, wantError: "owner/name"},

		// The token.
		{name: "without the token", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host, "Authorization", ""), want: 401, wantError: "RUNNER_API_TOKEN"},
		{name: "with a wrong token", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host, "Authorization", "Bearer nope"), want: 401, wantError: "RUNNER_API_TOKEN"},
		{name: "with the token by basic auth", path: "/api/unlock", body: `{"repo":"acme/infra","env":"dev","reason":"stuck","as":"alice"}`, headers: headers(host, "Authorization", basic), want: 200,
			wantReq: &action.Request{Kind: action.KindUnlock, Repo: "acme/infra", Env: "dev", Reason: "stuck", Actor: dashboard("alice")}},

		// Requests another site's page could make a browser send.
		{name: "a form's content type", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host, "Content-Type", "text/plain"), want: 403, wantError: "Content-Type: application/json"},
		{name: "an url-encoded form", path: "/api/runs/7/approve", body: `env=prod&as=alice`, headers: headers(host, "Content-Type", "application/x-www-form-urlencoded"), want: 403, wantError: "Content-Type"},
		{name: "no content type", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host, "Content-Type", ""), want: 403, wantError: "Content-Type"},
		{name: "a JSON look-alike type", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host, "Content-Type", "application/json-patch+json"), want: 403, wantError: "Content-Type"},
		{name: "JSON with a charset", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host, "Content-Type", "application/json; charset=utf-8"), want: 200,
			wantReq: &action.Request{Kind: action.KindApprove, RunID: 7, Env: "prod", Actor: dashboard("alice")}},
		{name: "another origin", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host, "Origin", "https://evil.example"), want: 403, wantError: "evil.example"},
		{name: "the same host on another port", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host, "Origin", "http://127.0.0.1:1"), want: 403, wantError: "origin"},
		{name: "the public URL's origin (behind a proxy that rewrites Host)", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host, "Origin", "https://runner.example.com"), want: 200,
			wantReq: &action.Request{Kind: action.KindApprove, RunID: 7, Env: "prod", Actor: dashboard("alice")}},
		{name: "the public host over another scheme", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host, "Origin", "http://runner.example.com"), want: 403, wantError: "origin"},
		{name: "a subdomain of the public host", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host, "Origin", "https://x.runner.example.com"), want: 403, wantError: "origin"},
		{name: "an opaque origin", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host, "Origin", "null"), want: 403, wantError: "origin"},
		{name: "no origin (not a browser)", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host, "Origin", "", "Sec-Fetch-Site", ""), want: 200,
			wantReq: &action.Request{Kind: action.KindApprove, RunID: 7, Env: "prod", Actor: dashboard("alice")}},
		{name: "cross-site fetch", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host, "Origin", "", "Sec-Fetch-Site", "cross-site"), want: 403, wantError: "cross-site"},
		{name: "same-site fetch", path: "/api/rollback", body: `{"repo":"acme/infra","env":"prod","reason":"x","as":"alice"}`, headers: headers(host, "Sec-Fetch-Site", "same-site"), want: 403, wantError: "same-site"},
		{name: "typed into the address bar", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host, "Sec-Fetch-Site", "none"), want: 200,
			wantReq: &action.Request{Kind: action.KindApprove, RunID: 7, Env: "prod", Actor: dashboard("alice")}},

		// Bodies.
		{name: "an oversize body", path: "/api/runs/7/reject", body: huge, headers: headers(host), want: 413, wantError: "16 KiB"},
		{name: "an unknown field", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice","repo":"acme/infra"}`, headers: headers(host), want: 400, wantError: "repo"},
		{name: "two objects", path: "/api/runs/7/approve", body: `{"env":"prod","as":"alice"}{"env":"dev","as":"alice"}`, headers: headers(host), want: 400, wantError: "one JSON object"},
		{name: "not an object", path: "/api/runs/7/approve", body: `["prod"]`, headers: headers(host), want: 400, wantError: "one JSON object"},
		{name: "not JSON", path: "/api/runs/7/approve", body: `env=prod`, headers: headers(host), want: 400, wantError: "one JSON object"},
		{name: "an empty body", path: "/api/runs/7/approve", body: ``, headers: headers(host), want: 400, wantError: "one JSON object"},
		{name: "a run id that is no number", path: "/api/runs/x/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host), want: 400, wantError: "run id"},
		{name: "run id zero", path: "/api/runs/0/approve", body: `{"env":"prod","as":"alice"}`, headers: headers(host), want: 400, wantError: "run id"},

		// Fields.
		{name: "no login", path: "/api/runs/7/approve", body: `{"env":"prod"}`, headers: headers(host), want: 400, wantError: `"as" is required`},
		{name: "a login with a space", path: "/api/runs/7/approve", body: `{"env":"prod","as":"al ice"}`, headers: headers(host), want: 400, wantError: "not a GitHub login"},
		{name: "a login starting with a dash", path: "/api/runs/7/approve", body: `{"env":"prod","as":"-alice"}`, headers: headers(host), want: 400, wantError: "not a GitHub login"},
		{name: "a login of 40 characters", path: "/api/runs/7/approve", body: `{"env":"prod","as":"` + strings.Repeat("a", 40) + `"}`, headers: headers(host), want: 400, wantError: "not a GitHub login"},
		{name: "a login with markup", path: "/api/runs/7/approve", body: `{"env":"prod","as":"<b>alice</b>"}`, headers: headers(host), want: 400, wantError: "not a GitHub login"},
		{name: "no environment", path: "/api/runs/7/approve", body: `{"as":"alice"}`, headers: headers(host), want: 400, wantError: `"env" is required`},
		{name: "an environment in capitals", path: "/api/runs/7/approve", body: `{"env":"Prod","as":"alice"}`, headers: headers(host), want: 400, wantError: "not an environment name"},
		{name: "an environment that is a path", path: "/api/unlock", body: `{"repo":"acme/infra","env":"../prod","reason":"x","as":"alice"}`, headers: headers(host), want: 400, wantError: "not an environment name"},
		{name: "reject without a reason", path: "/api/runs/7/reject", body: `{"env":"prod","reason":"  ","as":"alice"}`, headers: headers(host), want: 400, wantError: `"reason" is required`},
		{name: "unlock without a reason", path: "/api/unlock", body: `{"repo":"acme/infra","env":"prod","as":"alice"}`, headers: headers(host), want: 400, wantError: `"reason" is required`},
		{name: "rollback without a reason", path: "/api/rollback", body: `{"repo":"acme/infra","env":"prod","as":"alice"}`, headers: headers(host), want: 400, wantError: `"reason" is required`},
		{name: "a reason over 500 bytes", path: "/api/runs/7/reject", body: `{"env":"prod","reason":"` + long + `","as":"alice"}`, headers: headers(host), want: 400, wantError: "500 bytes"},
		{name: "a reason of several lines", path: "/api/runs/7/reject", body: `{"env":"prod","reason":"a\nb","as":"alice"}`, headers: headers(host), want: 400, wantError: "one line"},
		{name: "rollback without a repository", path: "/api/rollback", body: `{"env":"prod","reason":"x","as":"alice"}`, headers: headers(host), want: 400, wantError: "owner/name"},
		{name: "rollback of a repository path", path: "/api/rollback", body: `{"repo":"acme/../x","env":"prod","reason":"x","as":"alice"}`, headers: headers(host), want: 400, wantError: "owner/name"},
		{name: "rollback to a branch", path: "/api/rollback", body: `{"repo":"acme/infra","env":"prod","to":"main","reason":"x","as":"alice"}`, headers: headers(host), want: 400, wantError: `"to"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(actor.requests())
			code, answer := send(t, http.MethodPost, base+tc.path, tc.body, tc.headers)
			if code != tc.want {
				t.Fatalf("POST %s = %d %v, want %d", tc.path, code, answer, tc.want)
			}
			if tc.want == 200 {
				if answer["message"] != "done" || answer["run_id"] != float64(42) {
					t.Errorf("answer = %v, want the actor's message and run", answer)
				}
			} else if msg, _ := answer["error"].(string); !strings.Contains(msg, tc.wantError) {
				t.Errorf("error = %q, want it to say %q", msg, tc.wantError)
			}
			asked := actor.requests()[before:]
			switch {
			case tc.wantReq == nil && len(asked) > 0:
				t.Errorf("the actor was asked %+v", asked)
			case tc.wantReq != nil && (len(asked) != 1 || !reflect.DeepEqual(asked[0], *tc.wantReq)):
				t.Errorf("the actor was asked %+v, want %+v", asked, *tc.wantReq)
			}
			if strings.Contains(fmt.Sprint(answer), actionToken) {
				t.Errorf("the answer shows the token: %v", answer)
			}
		})
	}
}

func TestActionOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		want    int
		wantMsg string
	}{
		{"denied", &action.Denied{Kind: "approve", Actor: "alice (dashboard)", Why: "the author of the change may not approve it", Needs: "to be one of the approvers of prod"}, 403,
			"alice (dashboard) may not approve: the author of the change may not approve it; it needs to be one of the approvers of prod"},
		{"invalid", action.Invalidf("nothing is waiting for approval in run 7"), 400, "nothing is waiting for approval in run 7"},
		{"wrapped invalid", fmt.Errorf("approve: %w", action.Invalidf("no environment qa")), 400, "no environment qa"},
		{"failed", errors.New("store: database is locked"), 500, "store: database is locked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base, _ := actionServer(t, web.Options{Token: actionToken, Actions: &fakeActor{err: tc.err}})
			code, answer := send(t, http.MethodPost, base+"/api/runs/7/approve", `{"env":"prod","as":"alice"}`,
				map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + actionToken})
			if msg, _ := answer["error"].(string); code != tc.want || !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("answer = %d %v, want %d saying %q", code, answer, tc.want, tc.wantMsg)
			}
		})
	}
}

// Without a token the API is read-only, even on loopback where it reads freely.
func TestActionsNeedAConfiguredToken(t *testing.T) {
	actor := &fakeActor{result: action.Result{Message: "done"}}
	base, _ := actionServer(t, web.Options{Actions: actor})
	for _, path := range []string{"/api/runs/7/approve", "/api/runs/7/reject", "/api/rollback", "/api/unlock"} {
		code, answer := send(t, http.MethodPost, base+path, `{"repo":"acme/infra","env":"prod","reason":"x","as":"alice"}`,
			map[string]string{"Content-Type": "application/json", "Authorization": "Bearer anything"})
		if msg, _ := answer["error"].(string); code != http.StatusForbidden || !strings.Contains(msg, "acting through the API needs RUNNER_API_TOKEN") {
			t.Errorf("POST %s = %d %v, want 403 naming RUNNER_API_TOKEN", path, code, answer)
		}
	}
	if code, _ := send(t, http.MethodGet, base+"/api/runs", "", nil); code != http.StatusOK {
		t.Errorf("GET /api/runs on loopback = %d, want 200: reading stays open", code)
	}
	if asked := actor.requests(); len(asked) != 0 {
		t.Errorf("the actor was asked %+v", asked)
	}
}

func TestActionsNotConfigured(t *testing.T) {
	base, _ := actionServer(t, web.Options{Token: actionToken})
	code, answer := send(t, http.MethodPost, base+"/api/unlock", `{"repo":"acme/infra","env":"prod","reason":"x","as":"alice"}`,
		map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + actionToken})
	if code != http.StatusNotImplemented || answer["error"] != "actions are not configured" {
		t.Errorf("answer = %d %v, want 501", code, answer)
	}
	code, _ = send(t, http.MethodPost, base+"/api/unlock", `{}`, map[string]string{"Content-Type": "application/json"})
	if code != http.StatusUnauthorized {
		t.Errorf("without the token = %d, want 401 before saying what is configured", code)
	}
}

func TestActionsArePostOnly(t *testing.T) {
	base, _ := actionServer(t, web.Options{Token: actionToken, Actions: &fakeActor{}})
	for _, path := range []string{"/api/runs/7/approve", "/api/rollback", "/api/unlock"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+actionToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET %s = %d, want 405", path, resp.StatusCode)
		}
	}
}

func TestDeployments(t *testing.T) {
	base, st := actionServer(t, web.Options{})
	ctx := context.Background()
	at := time.Date(2025, 3, 4, 5, 0, 0, 0, time.UTC)
	for i, d := range []store.Deployment{
		{Repo: "acme/infra", Env: "prod", SHA: "a1", Outcome: "succeeded"},
		{Repo: "acme/infra", Env: "dev", SHA: "a2", Outcome: "succeeded"},
		{Repo: "acme/api", Env: "prod", SHA: "b1", Outcome: "succeeded"},
		{Repo: "acme/infra", Env: "prod", SHA: "a2", Outcome: "failed"},
	} {
		d.RunID, d.At = int64(i+1), at.Add(time.Duration(i)*time.Minute)
		if err := st.RecordDeployment(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		query string
		want  string
	}{
		{"?repo=acme/infra&env=prod", "acme/infra:prod:a2 acme/infra:prod:a1"},
		{"?repo=acme/infra", "acme/infra:prod:a2 acme/infra:dev:a2 acme/infra:prod:a1"},
		{"?env=prod&limit=2", "acme/infra:prod:a2 acme/api:prod:b1"},
		{"", "acme/infra:prod:a2 acme/api:prod:b1 acme/infra:dev:a2 acme/infra:prod:a1"},
		{"?repo=acme/none", ""},
	} {
		t.Run(tc.query, func(t *testing.T) {
			var got struct{ Deployments []store.Deployment }
			raw := get(t, base+"/api/deployments"+tc.query, &got)
			if !strings.Contains(raw, `"deployments": [`) {
				t.Errorf("answer %s lacks a deployments array", raw)
			}
			var ids []string
			for _, d := range got.Deployments {
				ids = append(ids, d.Repo+":"+d.Env+":"+d.SHA)
			}
			if strings.Join(ids, " ") != tc.want {
				t.Errorf("deployments = %s, want %s", strings.Join(ids, " "), tc.want)
			}
		})
	}
	for _, q := range []string{"?repo=acme", "?env=Prod", "?limit=501", "?limit=x"} {
		if code, answer := send(t, http.MethodGet, base+"/api/deployments"+q, "", nil); code != http.StatusBadRequest || answer["error"] == nil {
			t.Errorf("GET /api/deployments%s = %d %v, want 400", q, code, answer)
		}
	}
}

func TestApprovals(t *testing.T) {
	list := []web.ApprovalView{
		{RunID: 7, Repo: "acme/infra", Env: "prod", State: "waiting", Summary: "1 to add", RequestedAt: "2025-03-04T05:00:00Z"},
		{RunID: 6, Repo: "acme/infra", Env: "prod", State: "rejected", DecidedBy: "bob", Channel: "slack", Reason: "not today"},
	}
	for _, tc := range []struct {
		name      string
		approvals web.Approvals
		want      int
		wantRaw   string
	}{
		{"none configured", nil, 200, `"approvals": []`},
		{"none waiting", fakeApprovals{}, 200, `"approvals": []`},
		{"listed", fakeApprovals{list: list}, 200, `"decided_by": "bob"`},
		{"failing", fakeApprovals{err: errors.New("boom")}, 500, `"error": "boom"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, _ := actionServer(t, web.Options{Approvals: tc.approvals})
			resp, err := http.Get(base + "/api/approvals")
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want || !strings.Contains(string(raw), tc.wantRaw) {
				t.Fatalf("GET /api/approvals = %d %s, want %d with %s", resp.StatusCode, raw, tc.want, tc.wantRaw)
			}
			if tc.name == "listed" {
				var got struct{ Approvals []web.ApprovalView }
				if err := json.Unmarshal(raw, &got); err != nil || !reflect.DeepEqual(got.Approvals, list) {
					t.Errorf("approvals = %+v, %v; want %+v", got.Approvals, err, list)
				}
			}
		})
	}
}

func get(t *testing.T, u string, out any) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s", u, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func basicAuth(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// The dashboard's script acts through the action endpoints as JSON, and puts what it shows into the
// page as text only: run data comes from pull requests.
func TestDashboardActsAndInsertsTextOnly(t *testing.T) {
	base, _ := actionServer(t, web.Options{})
	resp, err := http.Get(base + "/static/dashboard.js")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /static/dashboard.js = %d", resp.StatusCode)
	}
	script := string(raw)
	for _, want := range []string{"form.dataset.endpoint", "'Content-Type': 'application/json'", "credentials: 'same-origin'",
		"localStorage", "EventSource", "textContent", "data.seq <= last"} {
		if !strings.Contains(script, want) {
			t.Errorf("the script lacks %q", want)
		}
	}
	for _, never := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(script, never) {
			t.Errorf("the script uses %s", never)
		}
	}
}
