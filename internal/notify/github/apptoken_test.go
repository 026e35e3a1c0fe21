package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
)

func appKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// The installation token comes from GitHub's access_tokens endpoint, and is minted once while it is valid.
func TestInstallationTokens(t *testing.T) {
	key, keyPEM := appKey(t)
	fake := startFake(t, fakegithub.Config{APIPrefix: "/api/v3", Tokens: []string{}})
	fake.RegisterApp(11, 22, &key.PublicKey)
	tokens, err := NewInstallationTokens(Options{AppID: 11, InstallationID: 22, PrivateKey: keyPEM,
		BaseURL: fake.URL(), HTTPClient: fake.HTTPClient(), Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	if len(fake.IssuedTokens()) != 0 {
		t.Fatal("a token was minted before it was needed")
	}
	first, err := tokens.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	again, err := tokens.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if issued := fake.IssuedTokens(); len(issued) != 1 || !slices.Contains(issued, first) || again != first {
		t.Fatalf("tokens %q, %q; GitHub issued %v: want one token, reused", first, again, issued)
	}
}

func TestInstallationTokensRefusals(t *testing.T) {
	key, keyPEM := appKey(t)
	fake := startFake(t, fakegithub.Config{Tokens: []string{}})
	fake.RegisterApp(11, 22, &key.PublicKey)
	tests := []struct {
		name      string
		opts      Options
		configErr bool // refused by NewInstallationTokens, before any call
	}{
		{"no installation", Options{AppID: 11, PrivateKey: keyPEM}, true},
		{"not a key", Options{AppID: 11, InstallationID: 22, PrivateKey: []byte("-----BEGIN RSA PRIVATE KEY-----\nsecretstuff\n-----END RSA PRIVATE KEY-----\n")}, true},
		{"bad API URL", Options{AppID: 11, InstallationID: 22, PrivateKey: keyPEM, BaseURL: "::nope"}, true},
		{"another App's id", Options{AppID: 99, InstallationID: 22, PrivateKey: keyPEM}, false},
		{"unknown installation", Options{AppID: 11, InstallationID: 23, PrivateKey: keyPEM}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.BaseURL == "" {
				tc.opts.BaseURL, tc.opts.HTTPClient, tc.opts.Retry = fake.URL(), fake.HTTPClient(), fastRetry
			}
			tokens, err := NewInstallationTokens(tc.opts)
			if err == nil {
				_, err = tokens.Token(context.Background())
			}
			if err == nil {
				t.Fatal("want an error")
			}
			if errors.Is(err, ErrConfig) != tc.configErr {
				t.Errorf("error %v: ErrConfig = %v, want %v", err, !tc.configErr, tc.configErr)
			}
			if strings.Contains(err.Error(), "secretstuff") || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}
	if n := len(fake.IssuedTokens()); n != 0 {
		t.Errorf("%d tokens issued to wrong credentials", n)
	}
}
