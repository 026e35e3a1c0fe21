package gitrepo_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/gitrepo"
)

// A mirror that already holds the wanted commits does not fetch: the source may
// be gone and Sync still succeeds; a commit it lacks makes it fetch (and fail here).
func TestSyncSkipsFetchWhenCommitsArePresent(t *testing.T) {
	eachTransport(t, testSyncSkipsFetchWhenCommitsArePresent)
}

func testSyncSkipsFetchWhenCommitsArePresent(t *testing.T, tr gitrepo.Option) {
	src := filepath.Join(t.TempDir(), "src")
	for _, args := range [][]string{
		{"init", "-q", "-b", "main", src},
		{"-C", src, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "one"},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	out, err := exec.Command("git", "-C", src, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	head := strings.TrimSpace(string(out))
	url := "file://" + src
	ms := gitrepo.NewMirrors(t.TempDir(), gitrepo.Auth{}, nil, tr)
	ctx := context.Background()
	if _, err := ms.Sync(ctx, url, head); err != nil {
		t.Fatalf("first sync: %v", err)
	}
	if err := os.RemoveAll(src); err != nil {
		t.Fatal(err)
	}
	if _, err := ms.Sync(ctx, url, head); err != nil {
		t.Fatalf("sync of a commit the mirror holds fetched anyway: %v", err)
	}
	if _, err := ms.Sync(ctx, url, strings.Repeat("1", 40)); err == nil {
		t.Fatal("sync of a missing commit with the source gone should fail")
	}
}

// A process killed while creating a mirror (after `init`, before its remote was
// recorded) leaves a bare repository without "origin"; the next Sync must still work.
func TestSyncRepairsMirrorLeftWithoutRemote(t *testing.T) {
	eachTransport(t, testSyncRepairsMirrorLeftWithoutRemote)
}

func testSyncRepairsMirrorLeftWithoutRemote(t *testing.T, tr gitrepo.Option) {
	src := filepath.Join(t.TempDir(), "src")
	for _, args := range [][]string{
		{"init", "-q", "-b", "main", src},
		{"-C", src, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "one"},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	out, err := exec.Command("git", "-C", src, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	head := strings.TrimSpace(string(out))
	root := t.TempDir()
	ms := gitrepo.NewMirrors(root, gitrepo.Auth{}, nil, tr)
	m, err := ms.Sync(context.Background(), "file://"+src, head)
	if err != nil {
		t.Fatalf("first sync: %v", err)
	}
	// What the killed process left: the mirror directory, initialised, without a remote.
	if err := os.RemoveAll(m.Path()); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("git", "init", "-q", "--bare", m.Path()).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	fresh := gitrepo.NewMirrors(root, gitrepo.Auth{}, nil, tr) // the restarted process
	m, err = fresh.Sync(context.Background(), "file://"+src, head)
	if err != nil {
		t.Fatalf("sync into a mirror without a remote: %v", err)
	}
	if !m.HasCommit(head) {
		t.Fatal("mirror lacks the commit after sync")
	}
}

// eachTransport runs a sync test with go-git and with the git CLI (when installed).
func eachTransport(t *testing.T, test func(t *testing.T, tr gitrepo.Option)) {
	t.Run("go-git", func(t *testing.T) { test(t, gitrepo.WithTransport(gitrepo.TransportGoGit)) })
	t.Run("git", func(t *testing.T) {
		ms := gitrepo.NewMirrors(t.TempDir(), gitrepo.Auth{}, nil, gitrepo.WithTransport(gitrepo.TransportGit))
		if _, _, err := ms.Transport(context.Background()); err != nil {
			t.Skipf("the git CLI transport is not usable here: %v", err)
		}
		test(t, gitrepo.WithTransport(gitrepo.TransportGit))
	})
}
