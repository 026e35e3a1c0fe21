package gitrepo

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gitops-runner/runner/internal/testenv/gitserver"
)

// rotating is a git host whose one valid token the test replaces, as installation tokens expire.
type rotating struct {
	mu        sync.Mutex
	valid     string
	presented []string
}

func (r *rotating) check(token string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.presented = append(r.presented, token)
	return token == r.valid
}

func (r *rotating) rotate(token string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.valid = token
}

// serveRotating serves src's repository through testenv/gitserver, accepting only host's current token.
func serveRotating(t *testing.T, src *source, host *rotating) string {
	t.Helper()
	gs, err := gitserver.StartVerifying(filepath.Dir(filepath.Dir(src.dir)), host.check)
	if err != nil {
		t.Skipf("git http server: %v", err)
	}
	t.Cleanup(gs.Close)
	return gs.URL("acme/app")
}

// The token source is asked on every fetch: when the first installation token has expired and
// the source hands out the next, fetching goes on working, which a token fixed at start cannot do.
func TestSyncAsksTheTokenSourceOnEveryFetch(t *testing.T) {
	eachTransport(t, testSyncAsksTheTokenSourceOnEveryFetch)
}

func testSyncAsksTheTokenSourceOnEveryFetch(t *testing.T, tr Option) {
	const tokenA, tokenB = "ghs_installation-token-A-0123456789", "ghs_installation-token-B-0123456789"
	src := newSource(t)
	h := buildBase(src)
	host := &rotating{valid: tokenA}
	url := serveRotating(t, src, host)
	var asked atomic.Int32
	source := func(ctx context.Context) (string, error) {
		if asked.Add(1) == 1 {
			return tokenA, nil
		}
		return tokenB, nil
	}
	mirrors := NewMirrors(t.TempDir(), Auth{Token: "ignored-static-token", TokenSource: source}, nil, tr)
	ctx := context.Background()
	m, err := mirrors.Sync(ctx, url)
	if err != nil {
		t.Fatalf("first sync: %v", err)
	}
	if !m.HasCommit(h.c2) || !m.HasCommit(h.f1) {
		t.Fatal("the clone lacks the history")
	}

	host.rotate(tokenB) // token A expired; GitHub minted B
	next := src.commit("c4", map[string]*string{"README.md": str("v4\n")})
	if _, err := mirrors.Sync(ctx, url, next); err != nil {
		t.Fatalf("sync after the token changed: %v", err)
	}
	if !m.HasCommit(next) {
		t.Fatal("the fetch after the token changed did not arrive")
	}
	if asked.Load() != 2 {
		t.Errorf("token source asked %d times, want once per fetch (2)", asked.Load())
	}
	if _, err := NewMirrors(t.TempDir(), Auth{Token: tokenA}, nil, tr).Sync(ctx, url); err == nil {
		t.Error("the expired static token still clones: the test proves nothing")
	}
}

// Whatever goes wrong with a token from the source, no error carries it.
func TestTokenSourceFailuresDoNotLeakTheToken(t *testing.T) {
	eachTransport(t, testTokenSourceFailuresDoNotLeakTheToken)
}

func testTokenSourceFailuresDoNotLeakTheToken(t *testing.T, tr Option) {
	const wrong = "ghs_revoked-installation-token-0123456789"
	src := newSource(t)
	buildBase(src)
	url := serveRotating(t, src, &rotating{valid: "ghs_the-current-token-0123456789"})
	mintFailed := errors.New("mint installation token: 401 Bad credentials")
	tests := []struct {
		name   string
		source func(context.Context) (string, error)
		is     error
		says   string
	}{
		{"revoked token", func(context.Context) (string, error) { return wrong, nil }, nil, "authentication required"},
		{"source fails", func(context.Context) (string, error) { return "", mintFailed }, mintFailed, "git token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			mirrors := NewMirrors(root, Auth{TokenSource: tc.source}, nil, tr)
			_, err := mirrors.Sync(context.Background(), url)
			if err == nil {
				t.Fatal("sync succeeded")
			}
			if strings.Contains(err.Error(), wrong) {
				t.Errorf("error leaks the token: %v", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
			if entries, _ := filepath.Glob(filepath.Join(root, "*", "acme", "*")); len(entries) > 0 {
				t.Errorf("failed clone left a mirror behind: %v", entries)
			}
		})
	}
}
