package sso

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/testenv/oidcprovider"
)

const (
	testClientID = "runner-test"
	testSecret   = "client-secret-0123456789"
)

var testKey = DeriveKey("s3cret-api-token-0123456789")

// runner serves single sign-on and a page at / that names the session's login, on 127.0.0.1.
func runner(t *testing.T, opts oidcprovider.Options, allowed ...string) (*SSO, string) {
	t.Helper()
	opts.ClientID, opts.ClientSecret = testClientID, testSecret
	p, err := oidcprovider.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s, err := New(context.Background(), Config{Issuer: p.Issuer(), ClientID: testClientID, ClientSecret: testSecret,
		PublicURL: srv.URL, LoginClaim: opts.LoginClaim, Key: testKey, AllowedLogins: allowed})
	if err != nil {
		t.Fatal(err)
	}
	s.Routes(mux)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		login, ok := s.Login(r)
		if !ok {
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "signed in as "+login)
	})
	return s, srv.URL
}

func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func fetch(t *testing.T, c *http.Client, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestLoginFlow(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts oidcprovider.Options
		code int
		want string
	}{
		{"signs in", oidcprovider.Options{Login: "octo-cat"}, http.StatusOK, "signed in as octo-cat"},
		{"other login claim", oidcprovider.Options{LoginClaim: "github_login", Login: "Hubot"}, http.StatusOK, "signed in as Hubot"},
		{"wrong audience", oidcprovider.Options{Login: "octo-cat", Audience: "another-client"}, http.StatusForbidden, "not valid for this runner"},
		{"wrong nonce", oidcprovider.Options{Login: "octo-cat", Nonce: "not-the-nonce"}, http.StatusForbidden, "nonce does not match"},
		{"html in login", oidcprovider.Options{Login: "<img src=x onerror=alert(1)>"}, http.StatusForbidden, "not a GitHub login"},
		{"no login claim", oidcprovider.Options{}, http.StatusForbidden, "not a GitHub login"},
		{"login not a string", oidcprovider.Options{Login: 42}, http.StatusForbidden, "not a GitHub login"},
		{"login too long", oidcprovider.Options{Login: strings.Repeat("a", 40)}, http.StatusForbidden, "not a GitHub login"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, base := runner(t, tc.opts)
			c := browser(t)
			code, body, h := fetch(t, c, base+LoginPath)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %q, want %d containing %q", code, body, tc.code, tc.want)
			}
			if code != http.StatusOK {
				if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("refusal's Content-Type %q, want text/plain", ct)
				}
				if code, _, _ := fetch(t, c, base+"/"); code != http.StatusUnauthorized {
					t.Errorf("after a refused sign-in, / answered %d, want 401", code)
				}
			}
		})
	}
}

func TestAllowedLogins(t *testing.T) {
	for _, tc := range []struct {
		name    string
		login   string
		allowed []string
		code    int
	}{
		{"listed", "octo-cat", []string{"hubot", "octo-cat"}, http.StatusOK},
		{"listed in other case", "Octo-Cat", []string{"octo-cat"}, http.StatusOK},
		{"not listed", "mallory", []string{"octo-cat"}, http.StatusForbidden},
		{"no list", "mallory", nil, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, base := runner(t, oidcprovider.Options{Login: tc.login}, tc.allowed...)
			code, body, _ := fetch(t, browser(t), base+LoginPath)
			if code != tc.code {
				t.Fatalf("got %d %q, want %d", code, body, tc.code)
			}
		})
	}
	// A session of a login taken off the list stops working.
	s, _ := runner(t, oidcprovider.Options{Login: "octo-cat"}, "hubot")
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: SessionCookie, Value: mustSession(t, testKey, "octo-cat", time.Now().Add(time.Hour))})
	if login, ok := s.Login(r); ok {
		t.Fatalf("a session of %s, not allowed, was accepted", login)
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	_, base := runner(t, oidcprovider.Options{Login: "octo-cat"})
	c := browser(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// Follow by hand to see each Set-Cookie.
	code, _, h := fetch(t, c, base+LoginPath)
	if code != http.StatusFound {
		t.Fatalf("login: %d", code)
	}
	attempt := cookieNamed(t, h, attemptCookie)
	if !attempt.HttpOnly || attempt.SameSite != http.SameSiteLaxMode || attempt.Path != "/auth" || attempt.MaxAge <= 0 {
		t.Errorf("attempt cookie %+v: want HttpOnly, SameSite=Lax, Path=/auth, Max-Age", attempt)
	}
	loc, _ := url.Parse(h.Get("Location"))
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if loc.Query().Get(k) == "" {
			t.Errorf("authorization URL %s has no %s", loc, k)
		}
	}
	if m := loc.Query().Get("code_challenge_method"); m != "S256" {
		t.Errorf("code_challenge_method %q, want S256", m)
	}
	code, _, h = fetch(t, c, loc.String())
	if code != http.StatusFound {
		t.Fatalf("authorize: %d", code)
	}
	code, _, h = fetch(t, c, h.Get("Location"))
	if code != http.StatusFound || h.Get("Location") != "/" {
		t.Fatalf("callback: %d to %q", code, h.Get("Location"))
	}
	s := cookieNamed(t, h, SessionCookie)
	if !s.HttpOnly || s.SameSite != http.SameSiteLaxMode || s.Path != "/" || s.Secure {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/, not Secure on http", s)
	}
}

func cookieNamed(t *testing.T, h http.Header, name string) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name && c.Value != "" {
			return c
		}
	}
	t.Fatalf("no cookie %s in %v", name, h["Set-Cookie"])
	return nil
}

func TestCallbackRefusals(t *testing.T) {
	_, base := runner(t, oidcprovider.Options{Login: "octo-cat"})
	for _, tc := range []struct {
		name string
		// edit changes the provider's redirect back to the runner.
		edit       func(q url.Values)
		noAttempt  bool
		code       int
		want       string
		doNotEmbed string
	}{
		{name: "wrong state", edit: func(q url.Values) { q.Set("state", "forged") }, code: http.StatusBadRequest, want: "state does not match"},
		{name: "no state", edit: func(q url.Values) { q.Del("state") }, code: http.StatusBadRequest, want: "state does not match"},
		{name: "wrong code", edit: func(q url.Values) { q.Set("code", "nope") }, code: http.StatusBadGateway, want: "did not exchange"},
		{name: "no attempt cookie", noAttempt: true, code: http.StatusBadRequest, want: "no sign-in is under way"},
		{name: "provider error is text", edit: func(q url.Values) {
			q.Set("error", "access_denied")
			q.Set("error_description", "<script>alert(1)</script>")
		}, code: http.StatusForbidden, want: "refused the sign-in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := browser(t)
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			_, _, h := fetch(t, c, base+LoginPath)
			_, _, h = fetch(t, c, h.Get("Location"))
			back, _ := url.Parse(h.Get("Location"))
			if tc.edit != nil {
				q := back.Query()
				tc.edit(q)
				back.RawQuery = q.Encode()
			}
			if tc.noAttempt {
				c = browser(t)
			}
			code, body, hh := fetch(t, c, back.String())
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %q, want %d containing %q", code, body, tc.code, tc.want)
			}
			if ct := hh.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || hh.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("refusal is %q (nosniff %q), want text/plain, nosniff", ct, hh.Get("X-Content-Type-Options"))
			}
			c.CheckRedirect = nil
			if code, _, _ := fetch(t, c, base+"/"); code != http.StatusUnauthorized {
				t.Errorf("after a refused callback, / answered %d, want 401", code)
			}
		})
	}
}

func TestSessions(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	valid, err := newSession(testKey, "octo-cat", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := newSession(testKey, "octo-cat", now.Add(-time.Second))
	otherKey, _ := newSession(DeriveKey("another-api-token-000000"), "octo-cat", now.Add(time.Hour))
	attempt, _ := seal(testKey, purposeAttempt, session{Login: "octo-cat"}, now.Add(time.Hour))
	badLogin, _ := seal(testKey, purposeSession, session{Login: "<b>x</b>"}, now.Add(time.Hour))
	body, sig, _ := strings.Cut(valid, ".")
	forgedBody, _, _ := strings.Cut(mustSession(t, DeriveKey("x"), "admin", now.Add(time.Hour)), ".")
	for _, tc := range []struct {
		name, value, want string
	}{
		{"valid", valid, "octo-cat"},
		{"expired", expired, ""},
		{"signed with another key", otherKey, ""},
		{"a login attempt is not a session", attempt, ""},
		{"login not a GitHub login", badLogin, ""},
		{"body swapped, signature kept", forgedBody + "." + sig, ""},
		{"signature flipped", body + "." + flip(sig), ""},
		{"no signature", body, ""},
		{"empty", "", ""},
		{"garbage", "%%%.%%%", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSession(testKey, tc.value, now)
			if got != tc.want || (tc.want == "") != (err != nil) {
				t.Fatalf("parseSession = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func mustSession(t *testing.T, key []byte, login string, exp time.Time) string {
	t.Helper()
	v, err := newSession(key, login, exp)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// flip changes a base64url string's first character.
func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func TestLoginReadsTheCookie(t *testing.T) {
	s, _ := runner(t, oidcprovider.Options{Login: "octo-cat"})
	now := time.Now()
	for _, tc := range []struct {
		name   string
		cookie *http.Cookie
		want   string
	}{
		{"valid", &http.Cookie{Name: SessionCookie, Value: mustSession(t, testKey, "octo-cat", now.Add(time.Hour))}, "octo-cat"},
		{"expired", &http.Cookie{Name: SessionCookie, Value: mustSession(t, testKey, "octo-cat", now.Add(-time.Minute))}, ""},
		{"forged", &http.Cookie{Name: SessionCookie, Value: mustSession(t, DeriveKey("guessed-token-0000000"), "octo-cat", now.Add(time.Hour))}, ""},
		{"none", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.cookie != nil {
				r.AddCookie(tc.cookie)
			}
			if got, ok := s.Login(r); got != tc.want || ok != (tc.want != "") {
				t.Fatalf("Login = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}

func TestLogout(t *testing.T) {
	_, base := runner(t, oidcprovider.Options{Login: "octo-cat"})
	c := browser(t)
	if code, body, _ := fetch(t, c, base+LoginPath); code != http.StatusOK {
		t.Fatalf("sign in: %d %s", code, body)
	}
	for _, tc := range []struct {
		site string
		code int
		in   bool
	}{{"cross-site", http.StatusForbidden, true}, {"same-origin", http.StatusOK, false}} {
		req, _ := http.NewRequest("POST", base+LogoutPath, nil)
		req.Header.Set("Sec-Fetch-Site", tc.site)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s logout: %d, want %d", tc.site, resp.StatusCode, tc.code)
		}
		code, _, _ := fetch(t, c, base+"/")
		if (code == http.StatusOK) != tc.in {
			t.Errorf("after %s logout, / answered %d; signed in wanted %v", tc.site, code, tc.in)
		}
	}
}

func TestNewFailsClearly(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"short key", Config{Issuer: dead.URL, PublicURL: "http://127.0.0.1", Key: []byte("short")}, "shorter than 32 bytes"},
		{"bad public URL", Config{Issuer: dead.URL, PublicURL: "runner", Key: testKey}, "not an http(s) URL"},
		{"provider down", Config{Issuer: dead.URL, PublicURL: "http://127.0.0.1", Key: testKey}, "discover OpenID provider"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzSessionCookie(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	valid, _ := newSession(testKey, "octo-cat", now.Add(time.Hour))
	for _, s := range []string{valid, "", ".", "a.b", valid + "x", strings.Repeat("A", 3000), "eyJleHAiOjF9.AAAA", "%00.%00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		login, err := parseSession(testKey, value, now)
		if err == nil && !loginPattern.MatchString(login) {
			t.Fatalf("accepted %q with login %q", value, login)
		}
		if err == nil && len(value) > maxCookie {
			t.Fatalf("accepted a value of %d bytes", len(value))
		}
	})
}
