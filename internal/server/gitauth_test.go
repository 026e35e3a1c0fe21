package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/gitrepo"
	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
	"github.com/gitops-runner/runner/internal/testenv/gitserver"
)

// privateRepo makes root/acme/app.git with one commit, as the git server serves it, and returns the commit.
func privateRepo(t *testing.T, root string) string {
	t.Helper()
	dir := filepath.Join(root, "acme", "app.git") // http-backend finds app.git/.git
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("private\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Add("README.md"); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "dana", Email: "dana@example.com", When: time.Unix(1700000000, 0)}
	h, err := wt.Commit("private", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// In GitHub App mode the mirrors clone with the installation token GitHub minted for the App: a
// private repository clones, and that token, nothing else, is what reaches the git host.
func TestAppModeClonesWithTheInstallationToken(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "app.pem")
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	gh := fakegithub.New(fakegithub.Config{Tokens: []string{}})
	t.Cleanup(gh.Close)
	gh.RegisterApp(11, 22, &key.PublicKey)

	root := t.TempDir()
	sha := privateRepo(t, root)
	var mu sync.Mutex
	var presented []string
	// Like GitHub, the git host accepts the installation tokens GitHub issued, and nothing else.
	gs, err := gitserver.StartVerifying(root, func(token string) bool {
		mu.Lock()
		presented = append(presented, token)
		mu.Unlock()
		return slices.Contains(gh.IssuedTokens(), token)
	})
	if err != nil {
		t.Skipf("git http server: %v", err)
	}
	t.Cleanup(gs.Close)

	tests := []struct {
		name    string
		cfg     config.Server
		wantErr bool
	}{
		{"app mode", config.Server{GitHubAppID: 11, GitHubInstallationID: 22, GitHubAppKeyFile: keyFile, GitHubAPIURL: gh.URL()}, false},
		{"a personal token the host does not know", config.Server{GitHubToken: "ghp_not-an-installation-token-012345"}, true},
		{"no credentials", config.Server{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			auth, err := gitAuth(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			m, err := gitrepo.NewMirrors(t.TempDir(), auth, nil).Sync(context.Background(), gs.URL("acme/app"))
			if tc.wantErr {
				if err == nil {
					t.Fatal("cloned without an installation token")
				}
				if tc.cfg.GitHubToken != "" && strings.Contains(err.Error(), tc.cfg.GitHubToken) {
					t.Fatalf("error leaks the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("clone in App mode: %v", err)
			}
			if !m.HasCommit(sha) {
				t.Fatal("the clone lacks the commit")
			}
			issued := gh.IssuedTokens()
			mu.Lock()
			defer mu.Unlock()
			if len(issued) != 1 {
				t.Fatalf("GitHub issued %d tokens, want 1", len(issued))
			}
			for _, p := range presented {
				if p != issued[0] {
					t.Fatalf("the git host was shown %q, not the installation token", p)
				}
			}
			if len(presented) == 0 {
				t.Fatal("no token reached the git host")
			}
		})
	}
}

func TestAppModeNeedsItsKey(t *testing.T) {
	_, err := gitAuth(config.Server{GitHubAppID: 11, GitHubInstallationID: 22, GitHubAppKeyFile: filepath.Join(t.TempDir(), "missing.pem")})
	if err == nil || !strings.Contains(err.Error(), "private key") {
		t.Fatalf("gitAuth = %v, want an error about the private key", err)
	}
}
