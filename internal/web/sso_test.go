package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/action"
	"github.com/gitops-runner/runner/internal/sso"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/oidcprovider"
	"github.com/gitops-runner/runner/internal/web"
)

// ssoServer serves the API, the dashboard and single sign-on against a fake provider on 127.0.0.1.
func ssoServer(t *testing.T, login any, actor web.Actor) string {
	t.Helper()
	return ssoServerAt(t, login, actor, time.Now)
}

// ssoServerAt is ssoServer whose sessions are sealed and checked at the time now tells.
func ssoServerAt(t *testing.T, login any, actor web.Actor, now func() time.Time) string {
	t.Helper()
	p, err := oidcprovider.New(oidcprovider.Options{ClientID: "runner", ClientSecret: "client-secret-0123", Login: login})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	st, err := store.OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	signOn, err := sso.New(t.Context(), sso.Config{Issuer: p.Issuer(), ClientID: "runner", ClientSecret: "client-secret-0123",
		PublicURL: srv.URL, Key: sso.DeriveKey(actionToken), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	signOn.Routes(mux)
	web.Routes(mux, st, nil, web.Options{Token: actionToken, PublicURL: srv.URL, Actions: actor, Sessions: signOn,
		Approvals: fakeApprovals{}})
	return srv.URL
}

// signIn signs a new cookie-jar browser in and returns it with the page it lands on.
func signIn(t *testing.T, base string) (*http.Client, int, string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	code, body := browse(t, c, base+"/")
	return c, code, body
}

func browse(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSingleSignOnDashboard(t *testing.T) {
	for _, tc := range []struct {
		name  string
		login any
		code  int
		want  []string
	}{
		{"signs in and shows the login", "octo-cat", http.StatusOK, []string{
			`signed in as <strong id="signed-in">octo-cat</strong>`, `value="octo-cat" readonly`,
			`<form id="session" method="post" action="/auth/logout">`}},
		{"html in the login claim", "<img src=x onerror=alert(1)>", http.StatusForbidden, []string{"not a GitHub login"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := ssoServer(t, tc.login, &fakeActor{})
			_, code, body := signIn(t, base)
			if code != tc.code {
				t.Fatalf("landed on %d:\n%s", code, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q:\n%s", w, body)
				}
			}
			if strings.Contains(body, "<img") {
				t.Errorf("the login claim's markup reached the page:\n%s", body)
			}
		})
	}
}

func TestSingleSignOnGuards(t *testing.T) {
	base := ssoServer(t, "octo-cat", &fakeActor{})
	c, code, _ := signIn(t, base)
	if code != http.StatusOK {
		t.Fatalf("sign in: %d", code)
	}
	u, _ := url.Parse(base)
	var session *http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == sso.SessionCookie {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("no session cookie after signing in")
	}
	body, sig, _ := strings.Cut(session.Value, ".")
	tamperedBody := []byte(body)
	tamperedBody[len(tamperedBody)/2] ^= 1
	for _, tc := range []struct {
		name     string
		path     string
		cookie   string
		bearer   string
		code     int
		location string
	}{
		{name: "page with a session", path: "/", cookie: session.Value, code: http.StatusOK},
		{name: "API with a session", path: "/api/runs", cookie: session.Value, code: http.StatusOK},
		{name: "page with the token", path: "/locks", bearer: actionToken, code: http.StatusOK},
		{name: "page without either goes to sign in", path: "/locks", code: http.StatusSeeOther, location: web.SignInPath},
		{name: "static file without either goes to sign in", path: "/static/dashboard.js", code: http.StatusSeeOther, location: web.SignInPath},
		{name: "API without either is 401", path: "/api/runs", code: http.StatusUnauthorized},
		{name: "tampered session", path: "/api/runs", cookie: string(tamperedBody) + "." + sig, code: http.StatusUnauthorized},
		{name: "forged signature", path: "/api/runs", cookie: body + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", code: http.StatusUnauthorized},
		{name: "forged page session", path: "/", cookie: "eyJleHAiOjk5OTk5OTk5OTksImQiOnsibG9naW4iOiJhZG1pbiJ9fQ.x", code: http.StatusSeeOther, location: web.SignInPath},
		{name: "wrong token", path: "/api/runs", bearer: "not-the-token-0123456789", code: http.StatusUnauthorized},
		{name: "health stays open", path: "/healthz", code: http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", base+tc.path, nil)
			if tc.cookie != "" {
				req.AddCookie(&http.Cookie{Name: sso.SessionCookie, Value: tc.cookie})
			}
			if tc.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+tc.bearer)
			}
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code || resp.Header.Get("Location") != tc.location {
				t.Fatalf("%s: %d to %q, want %d to %q", tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.code, tc.location)
			}
			if tc.code == http.StatusUnauthorized && strings.Contains(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("with single sign-on, a 401 must not ask for Basic auth (a browser would pop up a dialog)")
			}
			if tc.path == "/" && tc.code == http.StatusOK && resp.Header.Get("Content-Security-Policy") == "" {
				t.Errorf("page without its Content-Security-Policy")
			}
		})
	}
}

// A session ends after 12 hours: its cookie, still in the browser, is refused.
func TestSingleSignOnSessionExpires(t *testing.T) {
	var mu sync.Mutex
	at := time.Now()
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return at
	}
	base := ssoServerAt(t, "octo-cat", &fakeActor{}, now)
	c, code, _ := signIn(t, base)
	if code != http.StatusOK {
		t.Fatalf("sign in: %d", code)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, tc := range []struct {
		name  string
		later time.Duration
		page  int
		api   int
	}{
		{"within the session", 11 * time.Hour, http.StatusOK, http.StatusOK},
		{"after it", 12*time.Hour + time.Second, http.StatusSeeOther, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			at = time.Now().Add(tc.later)
			mu.Unlock()
			if code, _ := browse(t, c, base+"/locks"); code != tc.page {
				t.Errorf("page: %d, want %d", code, tc.page)
			}
			if code, _ := browse(t, c, base+"/api/locks"); code != tc.api {
				t.Errorf("API: %d, want %d", code, tc.api)
			}
		})
	}
}

func TestSingleSignOnActions(t *testing.T) {
	actor := &fakeActor{result: action.Result{Message: "done"}}
	base := ssoServer(t, "octo-cat", actor)
	c, code, _ := signIn(t, base)
	if code != http.StatusOK {
		t.Fatalf("sign in: %d", code)
	}
	host := strings.TrimPrefix(base, "http://")
	for _, tc := range []struct {
		name    string
		body    string
		headers map[string]string
		code    int
		want    string // error text, or the login acted as
	}{
		{name: "as left out acts as the session", body: `{"env":"prod"}`, code: http.StatusOK, want: "octo-cat"},
		{name: "as the session", body: `{"env":"prod","as":"octo-cat"}`, code: http.StatusOK, want: "octo-cat"},
		{name: "as the session in other case", body: `{"env":"prod","as":"Octo-Cat"}`, code: http.StatusOK, want: "octo-cat"},
		{name: "as someone else", body: `{"env":"prod","as":"mallory"}`, code: http.StatusForbidden, want: "is not who is signed in"},
		{name: "cross-site", body: `{"env":"prod"}`, headers: map[string]string{"Sec-Fetch-Site": "cross-site"},
			code: http.StatusForbidden, want: "another site sent this request"},
		{name: "foreign origin", body: `{"env":"prod"}`, headers: map[string]string{"Origin": "https://evil.example"},
			code: http.StatusForbidden, want: "is not this runner"},
		{name: "form content type", body: `{"env":"prod"}`, headers: map[string]string{"Content-Type": "text/plain"},
			code: http.StatusForbidden, want: "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(actor.requests())
			req, _ := http.NewRequestWithContext(t.Context(), "POST", base+"/api/runs/7/approve", strings.NewReader(tc.body))
			h := map[string]string{"Content-Type": "application/json", "Origin": "http://" + host, "Sec-Fetch-Site": "same-origin"}
			for k, v := range tc.headers {
				h[k] = v
			}
			for k, v := range h {
				req.Header.Set(k, v)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&got)
			if resp.StatusCode != tc.code {
				t.Fatalf("%d %v, want %d", resp.StatusCode, got, tc.code)
			}
			asked := actor.requests()[before:]
			if tc.code != http.StatusOK {
				if msg, _ := got["error"].(string); !strings.Contains(msg, tc.want) {
					t.Errorf("error %q, want it to say %q", msg, tc.want)
				}
				if len(asked) != 0 {
					t.Errorf("a refused request reached the actor: %+v", asked)
				}
				return
			}
			if len(asked) != 1 || asked[0].Actor.Login != tc.want || asked[0].Actor.Operator ||
				asked[0].Actor.Channel != action.ChannelDashboard {
				t.Fatalf("actor asked %+v, want one request as %s, not as an operator", asked, tc.want)
			}
		})
	}
	// The token still acts as whom it names, as an operator.
	before := len(actor.requests())
	code, got := send(t, "POST", base+"/api/runs/7/approve", `{"env":"prod","as":"someone"}`, headers(host))
	asked := actor.requests()[before:]
	if code != http.StatusOK || len(asked) != 1 || asked[0].Actor.Login != "someone" || !asked[0].Actor.Operator {
		t.Fatalf("with the token: %d %v, asked %+v", code, got, asked)
	}
}

// The dashboard links to the paths single sign-on serves.
func TestSignInPaths(t *testing.T) {
	if web.SignInPath != sso.LoginPath || web.SignOutPath != sso.LogoutPath {
		t.Fatalf("web links %s and %s; sso serves %s and %s", web.SignInPath, web.SignOutPath, sso.LoginPath, sso.LogoutPath)
	}
}
