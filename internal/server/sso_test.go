//go:build e2e

package server_test

import (
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/server"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/testenv/oidcprovider"
)

// With RUNNER_OIDC_ISSUER the runner signs a browser in at the provider: the dashboard then shows who
// is signed in and the API answers that browser's session, while a client with neither the token nor
// a session is still refused.
func TestDashboardSignsInWithOIDC(t *testing.T) {
	p, err := oidcprovider.New(oidcprovider.Options{ClientID: "runner", ClientSecret: "oidc-client-secret-0123", Login: "octo-cat"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	// The redirect URL is the public URL's: the runner listens where the public URL says.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	h := newHarness(t, fixture.Options{}, server.Collaborators{}, func(c *config.Server) {
		c.Listen, c.PublicURL, c.APIToken = addr, "http://"+addr, metricsToken
		c.OIDCIssuer, c.OIDCClientID, c.OIDCClientSecret = p.Issuer(), "runner", "oidc-client-secret-0123"
	})
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(c *http.Client, path string) (int, string) {
		t.Helper()
		resp, err := c.Get(h.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(browser, "/"); code != http.StatusOK || !strings.Contains(body, `<strong id="signed-in">octo-cat</strong>`) {
		t.Fatalf("after signing in, / = %d and does not say who is signed in:\n%.600s", code, body)
	}
	if code, _ := get(browser, "/api/runs"); code != http.StatusOK {
		t.Errorf("/api/runs with the session = %d, want 200", code)
	}
	anonymous := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	if code, _ := get(anonymous, "/api/runs"); code != http.StatusUnauthorized {
		t.Errorf("/api/runs without token or session = %d, want 401", code)
	}
	if code, _ := get(anonymous, "/environments"); code != http.StatusSeeOther {
		t.Errorf("a page without token or session = %d, want 303 to sign in", code)
	}
}
