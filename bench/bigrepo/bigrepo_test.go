package bigrepo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/config"
)

// tiny is a repository small enough for every test run, with every kind of ref.
var tiny = Options{Commits: 50, Files: 300, PRs: 8, Tags: 3, Branches: 4, Seed: 7}

func TestGenerateIsDeterministic(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, b := filepath.Join(t.TempDir(), "a.git"), filepath.Join(t.TempDir(), "b.git")
	sa, err := Generate(ctx, a, tiny, nil)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := Generate(ctx, b, tiny, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sa.Head != sb.Head {
		t.Fatalf("two generations gave main %s and %s", sa.Head, sb.Head)
	}
	refsA, refsB := refs(t, a), refs(t, b)
	if refsA != refsB {
		t.Errorf("refs differ:\n%s\n---\n%s", refsA, refsB)
	}
	if sa.FirstParent != tiny.Commits || sa.Files != tiny.Files || sa.Refs != 1+tiny.PRs+tiny.Tags+tiny.Branches {
		t.Errorf("stats %+v, want %d first-parent commits, %d files, %d refs", sa, tiny.Commits, tiny.Files, 1+tiny.PRs+tiny.Tags+tiny.Branches)
	}
	if !strings.Contains(refsA, "refs/pull/1/head") || !strings.Contains(refsA, "refs/tags/") || !strings.Contains(refsA, "refs/heads/release/") {
		t.Errorf("want pull request heads, tags and release branches; got\n%s", refsA)
	}

	other := tiny
	other.Seed++
	sc, err := Generate(ctx, filepath.Join(t.TempDir(), "c.git"), other, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Head == sa.Head {
		t.Errorf("another seed gave the same main %s", sc.Head)
	}
}

func TestGenerateReusesAFinishedRepository(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "r.git")
	first, err := Generate(ctx, dir, tiny, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Generate(ctx, dir, tiny, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Cached || again.Head != first.Head {
		t.Errorf("second generation: cached %v, head %s; want the first one's %s reused", again.Cached, again.Head, first.Head)
	}
	// Other options, or a repository whose main moved, are generated anew.
	bigger := tiny
	bigger.Commits++
	s, err := Generate(ctx, dir, bigger, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Cached || s.FirstParent != bigger.Commits {
		t.Errorf("other options: cached %v, %d commits; want a new repository of %d", s.Cached, s.FirstParent, bigger.Commits)
	}
	if _, err := git(ctx, nil, "-C", dir, "update-ref", "refs/heads/main", "refs/heads/main~1"); err != nil {
		t.Fatal(err)
	}
	if s, err = Generate(ctx, dir, bigger, nil); err != nil {
		t.Fatal(err)
	}
	if s.Cached {
		t.Error("a repository whose main moved was reused")
	}
}

// The generated tree is a repository the runner accepts: .runner.yaml parses, every environment has
// valid Terraform, and modules are called by relative source paths.
func TestGeneratedTreeIsAValidRunnerRepository(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	ctx := context.Background()
	repo := filepath.Join(t.TempDir(), "r.git")
	if _, err := Generate(ctx, repo, tiny, nil); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	cmd := exec.Command("sh", "-c", `git -C "$1" archive main | tar -x -C "$2"`, "sh", repo, work)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git archive: %v\n%s", err, out)
	}
	for _, err := range config.ValidateRepoDir(work) {
		t.Error(err)
	}
	main, err := os.ReadFile(filepath.Join(work, "environments", "dev", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(main), `source = "../../terraform/modules/network"`) {
		t.Errorf("environments/dev/main.tf does not call the network module:\n%s", main)
	}
}

func refs(t *testing.T, repo string) string {
	t.Helper()
	out, err := git(context.Background(), nil, "-C", repo, "for-each-ref", "--format=%(objectname) %(refname)")
	if err != nil {
		t.Fatal(err)
	}
	return out
}
