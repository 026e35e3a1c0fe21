package oidcprovider

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The token endpoint gives an ID token only for a known code, once, with the right client and the
// PKCE verifier of the code's challenge.
func TestTokenChecksCodeClientAndVerifier(t *testing.T) {
	p, err := New(Options{ClientID: "c", ClientSecret: "s", Login: "octo-cat"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const verifier = "verifier-0123456789-0123456789-0123456789-abc"
	sum := sha256.Sum256([]byte(verifier))
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	code := func() string {
		q := url.Values{"client_id": {"c"}, "response_type": {"code"}, "redirect_uri": {"http://127.0.0.1/cb"}, "state": {"st"},
			"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
		resp, err := noFollow.Get(p.Issuer() + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if loc.Query().Get("state") != "st" {
			t.Fatalf("redirect %s lost the state", loc)
		}
		return loc.Query().Get("code")
	}
	good := code()
	for _, tc := range []struct {
		name string
		form url.Values
		want int
	}{
		{"wrong verifier", url.Values{"code": {code()}, "code_verifier": {"nope"}, "client_secret": {"s"}}, http.StatusBadRequest},
		{"wrong secret", url.Values{"code": {code()}, "code_verifier": {verifier}, "client_secret": {"x"}}, http.StatusUnauthorized},
		{"unknown code", url.Values{"code": {"nope"}, "code_verifier": {verifier}, "client_secret": {"s"}}, http.StatusBadRequest},
		{"good", url.Values{"code": {good}, "code_verifier": {verifier}, "client_secret": {"s"}}, http.StatusOK},
		{"code used twice", url.Values{"code": {good}, "code_verifier": {verifier}, "client_secret": {"s"}}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("grant_type", "authorization_code")
			tc.form.Set("client_id", "c")
			tc.form.Set("redirect_uri", "http://127.0.0.1/cb")
			resp, err := http.Post(p.Issuer()+"/token", "application/x-www-form-urlencoded", strings.NewReader(tc.form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("token: %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}
