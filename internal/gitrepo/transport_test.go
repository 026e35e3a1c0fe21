package gitrepo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// eachTransport runs a sync test with go-git and, when a usable git CLI is installed, with the git CLI:
// both transports pass the same tests.
func eachTransport(t *testing.T, test func(t *testing.T, tr Option)) {
	t.Run("go-git", func(t *testing.T) { test(t, WithTransport(TransportGoGit)) })
	t.Run("git", func(t *testing.T) {
		if _, _, err := gitCLI(context.Background(), "git"); err != nil {
			t.Skipf("the git CLI transport is not usable here: %v", err)
		}
		test(t, WithTransport(TransportGit))
	})
}

func TestParseTransport(t *testing.T) {
	tests := []struct {
		in   string
		want Transport
		err  bool
	}{
		{"", TransportAuto, false},
		{"auto", TransportAuto, false},
		{"GIT", TransportGit, false},
		{" go-git ", TransportGoGit, false},
		{"libgit2", "", true},
	}
	for _, tc := range tests {
		got, err := ParseTransport(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseTransport(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestTransportResolution(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "git")
	if err := os.WriteFile(old, []byte("#!/bin/sh\necho 'git version 2.20.1'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Run("auto falls back to go-git when git is too old", func(t *testing.T) {
		tr, desc, err := NewMirrors(t.TempDir(), Auth{}, nil, WithGitBinary(old)).Transport(ctx)
		if err != nil || tr != TransportGoGit || !strings.Contains(desc, "older than 2.31") {
			t.Errorf("got %q %q %v; want go-git, saying why", tr, desc, err)
		}
	})
	t.Run("auto falls back to go-git without git", func(t *testing.T) {
		tr, _, err := NewMirrors(t.TempDir(), Auth{}, nil, WithGitBinary(filepath.Join(dir, "missing"))).Transport(ctx)
		if err != nil || tr != TransportGoGit {
			t.Errorf("got %q %v; want go-git", tr, err)
		}
	})
	t.Run("git asked for explicitly must be usable", func(t *testing.T) {
		ms := NewMirrors(t.TempDir(), Auth{}, nil, WithTransport(TransportGit), WithGitBinary(old))
		if _, _, err := ms.Transport(ctx); err == nil || !strings.Contains(err.Error(), "older than") {
			t.Errorf("err = %v, want the version refused", err)
		}
		if _, err := ms.Sync(ctx, "https://github.com/acme/app.git"); err == nil {
			t.Error("Sync ran with an unusable git")
		}
	})
	t.Run("go-git never looks for git", func(t *testing.T) {
		tr, desc, err := NewMirrors(t.TempDir(), Auth{}, nil, WithTransport(TransportGoGit), WithGitBinary(old)).Transport(ctx)
		if err != nil || tr != TransportGoGit || desc != "go-git" {
			t.Errorf("got %q %q %v", tr, desc, err)
		}
	})
}

// Auto makes the first mirror with git clone and fetches into a small mirror with go-git, which keeps each
// fetch as a pack (git would unpack a fetch of fewer than 100 objects into loose objects).
func TestAutoFetchesSmallMirrorsWithGoGit(t *testing.T) {
	if _, _, err := gitCLI(context.Background(), "git"); err != nil {
		t.Skipf("the git CLI is not usable here: %v", err)
	}
	ctx := context.Background()
	src := newSource(t)
	h := buildBase(src)
	ms := NewMirrors(t.TempDir(), Auth{Token: testToken}, nil)
	m, err := ms.Sync(ctx, src.url)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := os.ReadFile(filepath.Join(m.Path(), "config")); err != nil || !strings.Contains(string(cfg), "refs/pull/*/head") {
		t.Errorf("the first mirror is not git clone's with the mirror's refspecs: %s %v", cfg, err)
	}
	packs := func() int {
		p, _ := filepath.Glob(filepath.Join(m.Path(), "objects", "pack", "*.pack"))
		return len(p)
	}
	before := packs()
	buildMore(src, &h)
	if _, err := ms.Sync(ctx, src.url, h.merge); err != nil {
		t.Fatal(err)
	}
	if got := packs(); got != before+1 {
		t.Errorf("packs after a small fetch: %d, want %d (go-git's)", got, before+1)
	}
}
