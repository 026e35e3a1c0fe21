package gitrepo

import (
	"context"
	"errors"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

const testToken = "ghs_test-token-0123456789"

// source is a real repository built with go-git and served by `git http-backend`.
type source struct {
	t    testing.TB
	dir  string
	repo *git.Repository
	wt   *git.Worktree
	tick int
	url  string
	hits atomic.Int64 // requests that passed the auth check
}

func newSource(t testing.TB) *source {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "acme", "app.git") // http-backend finds app.git/.git
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	s := &source{t: t, dir: dir, repo: repo, wt: wt}
	s.url = serveGit(t, root, &s.hits)
	return s
}

// serveGit serves every repository under root through git http-backend, requiring the token as
// GitHub does: basic auth with any user name and the token as password.
func serveGit(t testing.TB, root string, hits *atomic.Int64) string {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Skipf("git not installed: %v", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Skipf("git-http-backend not found: %v", err)
	}
	cgiHandler := &cgi.Handler{
		Path: backend,
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + root},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != "x-access-token" || pass != testToken {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		hits.Add(1)
		cgiHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/acme/app.git"
}

// commit writes files (nil content deletes; content starting with "->" makes a symlink; a name
// ending in "*" is executable), stages everything and commits with the given extra parents.
func (s *source) commit(msg string, files map[string]*string, parents ...plumbing.Hash) string {
	s.t.Helper()
	for name, content := range files {
		exe := strings.HasSuffix(name, "*")
		name = strings.TrimSuffix(name, "*")
		p := filepath.Join(s.dir, filepath.FromSlash(name))
		_ = os.Remove(p)
		if content == nil {
			if _, err := s.wt.Remove(name); err != nil {
				s.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			s.t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasPrefix(*content, "->"):
			err = os.Symlink(strings.TrimPrefix(*content, "->"), p)
		case exe:
			err = os.WriteFile(p, []byte(*content), 0o755)
		default:
			err = os.WriteFile(p, []byte(*content), 0o644)
		}
		if err != nil {
			s.t.Fatal(err)
		}
		if _, err := s.wt.Add(name); err != nil {
			s.t.Fatal(err)
		}
	}
	s.tick++
	sig := &object.Signature{Name: "Test", Email: "test@example.com", When: time.Unix(1700000000+int64(s.tick)*60, 0)}
	opts := &git.CommitOptions{Author: sig, Committer: sig}
	if len(parents) > 0 {
		head, err := s.repo.Head()
		if err != nil {
			s.t.Fatal(err)
		}
		opts.Parents = append([]plumbing.Hash{head.Hash()}, parents...)
	}
	h, err := s.wt.Commit(msg, opts)
	if err != nil {
		s.t.Fatal(err)
	}
	return h.String()
}

func (s *source) branch(name, from string) {
	s.t.Helper()
	if err := s.wt.Checkout(&git.CheckoutOptions{Hash: plumbing.NewHash(from), Branch: plumbing.NewBranchReferenceName(name), Create: true, Force: true}); err != nil {
		s.t.Fatal(err)
	}
}

func (s *source) switchTo(name string) {
	s.t.Helper()
	if err := s.wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(name), Force: true}); err != nil {
		s.t.Fatal(err)
	}
}

func (s *source) setRef(name, sha string) {
	s.t.Helper()
	if err := s.repo.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(name), plumbing.NewHash(sha))); err != nil {
		s.t.Fatal(err)
	}
}

func str(s string) *string { return &s }

// objectFiles lists the mirror's packs and loose objects (go-git keeps a fetch as a pack; the git CLI
// unpacks one of fewer than 100 objects).
func objectFiles(t *testing.T, m *Mirror) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(m.Path(), "objects"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".pack") || !strings.Contains(p, string(filepath.Separator)+"pack"+string(filepath.Separator))) {
			files[p] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// history builds main: c1 -> c2 -> c3 -> merge(feature); feature: c1 -> f1; refs/pull/7/head = f1.
type history struct{ c1, c2, f1, c3, merge string }

func buildBase(s *source) history {
	var h history
	h.c1 = s.commit("c1", map[string]*string{
		"README.md":                str("v1\n"),
		"environments/dev/main.tf": str("# dev v1\n"),
		"scripts/run.sh*":          str("#!/bin/sh\necho hi\n"),
		"link":                     str("->README.md"),
		"old.txt":                  str("old\n"),
	})
	s.branch("feature", h.c1)
	h.f1 = s.commit("f1", map[string]*string{
		"environments/dev/main.tf": str("# dev v2\n"),
		"old.txt":                  nil,
		"new.txt":                  str("old\n"), // a rename
	})
	s.switchTo("main")
	h.c2 = s.commit("c2", map[string]*string{"terraform/modules/network/main.tf": str("# net\n")})
	s.setRef("refs/pull/7/head", h.f1)
	return h
}

func buildMore(s *source, h *history) {
	h.c3 = s.commit("c3", map[string]*string{"README.md": str("v2\n"), "scripts/run.sh": nil})
	h.merge = s.commit("merge feature", map[string]*string{
		"environments/dev/main.tf": str("# dev v2\n"),
		"old.txt":                  nil,
		"new.txt":                  str("old\n"),
	}, plumbing.NewHash(h.f1))
}

func TestMirrorLifecycle(t *testing.T) { eachTransport(t, testMirrorLifecycle) }

func testMirrorLifecycle(t *testing.T, tr Option) {
	ctx := context.Background()
	src := newSource(t)
	h := buildBase(src)
	mirrors := NewMirrors(t.TempDir(), Auth{Token: testToken}, nil, tr)

	m, err := mirrors.Sync(ctx, src.url)
	if err != nil {
		t.Fatalf("first Sync (clone): %v", err)
	}
	for _, sha := range []string{h.c1, h.c2, h.f1} {
		if !m.HasCommit(sha) {
			t.Errorf("mirror lacks %s after clone", sha)
		}
	}
	if got, err := m.MergeBase(ctx, "refs/pull/7/head", h.c1); err != nil || got != h.c1 {
		t.Errorf("pull request head not mirrored: %v %v", got, err)
	}
	first := objectFiles(t, m)

	buildMore(src, &h)
	if m.HasCommit(h.merge) {
		t.Fatal("mirror has the merge before fetching")
	}
	m2, err := mirrors.Sync(ctx, src.url)
	if err != nil {
		t.Fatalf("second Sync (fetch): %v", err)
	}
	if m2 != m {
		t.Error("Sync returned a new Mirror for the same URL")
	}
	if !m.HasCommit(h.c3) || !m.HasCommit(h.merge) {
		t.Error("fetch did not bring the new commits")
	}
	fetched := objectFiles(t, m)
	for f := range first {
		if !fetched[f] {
			t.Errorf("the fetch rewrote the clone's %s: want an incremental fetch on top of it", f)
		}
	}
	if len(fetched) <= len(first) {
		t.Errorf("the fetch added no object files (%d before, %d after)", len(first), len(fetched))
	}
	if _, err := mirrors.Sync(ctx, src.url); err != nil {
		t.Fatalf("Sync with nothing new: %v", err)
	}
	if got := objectFiles(t, m); len(got) != len(fetched) {
		t.Errorf("an up-to-date Sync wrote objects (%d files, %d before)", len(got), len(fetched))
	}

	t.Run("BranchHead", func(t *testing.T) {
		if got, err := m.BranchHead("main"); err != nil || got != h.merge {
			t.Errorf("BranchHead(main) = %q, %v; want %s", got, err, h.merge)
		}
		if _, err := m.BranchHead("no-such-branch"); err == nil {
			t.Error("BranchHead of a missing branch gave no error")
		}
	})

	t.Run("CommitTime", func(t *testing.T) {
		got, err := m.CommitTime(h.c1)
		if want := time.Unix(1700000000+60, 0).UTC(); err != nil || !got.Equal(want) {
			t.Errorf("CommitTime(c1) = %v, %v; want %v", got, err, want)
		}
		if _, err := m.CommitTime(strings.Repeat("ab", 20)); !errors.Is(err, ErrCommitNotFound) {
			t.Errorf("CommitTime(unknown) = %v, want ErrCommitNotFound", err)
		}
	})

	t.Run("MergeBase", func(t *testing.T) {
		tests := []struct{ a, b, want string }{
			{"feature", "main", ""}, // feature was merged into main: the base is its tip
			{h.c2, h.f1, h.c1},
			{"refs/pull/7/head", h.c3, h.c1},
			{h.c1, h.c2, h.c1},
		}
		tests[0].want = h.f1
		for _, tt := range tests {
			got, err := m.MergeBase(ctx, tt.a, tt.b)
			if err != nil || got != tt.want {
				t.Errorf("MergeBase(%s, %s) = %s, %v; want %s", tt.a, tt.b, got, err, tt.want)
			}
		}
		if _, err := m.MergeBase(ctx, h.c1, strings.Repeat("ab", 20)); !errors.Is(err, ErrCommitNotFound) {
			t.Errorf("MergeBase with unknown SHA: %v, want ErrCommitNotFound", err)
		}
	})

	t.Run("ChangedFiles", func(t *testing.T) {
		all := []string{"README.md", "environments/dev/main.tf", "link", "old.txt", "scripts/run.sh"}
		tests := []struct {
			name, from, to string
			want           []string
		}{
			{"pull request: merge base..head, rename lists both", h.c1, h.f1, []string{"environments/dev/main.tf", "new.txt", "old.txt"}},
			{"pull request by ref", h.c1, "refs/pull/7/head", []string{"environments/dev/main.tf", "new.txt", "old.txt"}},
			{"push range with deletions and a merge", h.c2, h.merge, []string{"README.md", "environments/dev/main.tf", "new.txt", "old.txt", "scripts/run.sh"}},
			{"single commit", h.c1, h.c2, []string{"terraform/modules/network/main.tf"}},
			{"same commit", h.c2, h.c2, nil},
			{"empty from: every file", "", h.c1, all},
			{"zero SHA: every file", ZeroSHA, h.c1, all},
			{"unknown from: every file", strings.Repeat("cd", 20), h.c1, all},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := m.ChangedFiles(ctx, tt.from, tt.to)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("ChangedFiles = %q, want %q", got, tt.want)
				}
			})
		}
		if _, err := m.ChangedFiles(ctx, h.c1, strings.Repeat("ef", 20)); !errors.Is(err, ErrCommitNotFound) {
			t.Errorf("unknown to: %v, want ErrCommitNotFound", err)
		}
	})

	t.Run("Checkout older SHA after the branch moved", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "run")
		if err := m.Checkout(ctx, h.c1, dir); err != nil {
			t.Fatal(err)
		}
		wantFiles := map[string]string{"README.md": "v1\n", "environments/dev/main.tf": "# dev v1\n", "old.txt": "old\n", "scripts/run.sh": "#!/bin/sh\necho hi\n"}
		for name, want := range wantFiles {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || string(got) != want {
				t.Errorf("%s = %q, %v; want %q", name, got, err, want)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "new.txt")); !os.IsNotExist(err) {
			t.Errorf("new.txt exists at c1: %v", err)
		}
		if fi, err := os.Stat(filepath.Join(dir, "scripts/run.sh")); err != nil || fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("scripts/run.sh not executable: %v %v", fi.Mode(), err)
		}
		if fi, err := os.Stat(filepath.Join(dir, "README.md")); err != nil || fi.Mode().Perm()&0o111 != 0 {
			t.Errorf("README.md mode = %v, %v", fi.Mode(), err)
		}
		if target, err := os.Readlink(filepath.Join(dir, "link")); err != nil || target != "README.md" {
			t.Errorf("link = %q, %v; want symlink to README.md", target, err)
		}
	})

	t.Run("Checkout the merge", func(t *testing.T) {
		dir := t.TempDir()
		if err := m.Checkout(ctx, h.merge, dir); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "README.md")); string(got) != "v2\n" {
			t.Errorf("README.md = %q", got)
		}
		for _, gone := range []string{"old.txt", "scripts/run.sh"} {
			if _, err := os.Lstat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
				t.Errorf("%s still there: %v", gone, err)
			}
		}
	})

	t.Run("Checkout refuses", func(t *testing.T) {
		full := t.TempDir()
		if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, sha, dir string
			is             error
			text           string
		}{
			{"branch name", "main", t.TempDir(), nil, "full 40-character commit SHA"},
			{"short SHA", h.c1[:12], t.TempDir(), nil, "full 40-character commit SHA"},
			{"unknown SHA", strings.Repeat("12", 20), t.TempDir(), ErrCommitNotFound, ""},
			{"non-empty dir", h.c1, full, nil, "is not empty"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := m.Checkout(ctx, tt.sha, tt.dir)
				if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) || !strings.Contains(err.Error(), tt.text) {
					t.Errorf("Checkout(%s) = %v", tt.sha, err)
				}
			})
		}
	})
}

func TestSyncWrongTokenFailsWithoutLeakingIt(t *testing.T) {
	eachTransport(t, testSyncWrongTokenFailsWithoutLeakingIt)
}

func testSyncWrongTokenFailsWithoutLeakingIt(t *testing.T, tr Option) {
	src := newSource(t)
	buildBase(src)
	root := t.TempDir()
	for _, token := range []string{"", "ghs_wrong-token-secret"} {
		mirrors := NewMirrors(root, Auth{Token: token}, nil, tr)
		_, err := mirrors.Sync(context.Background(), src.url)
		if err == nil {
			t.Fatalf("Sync with token %q succeeded", token)
		}
		if token != "" && strings.Contains(err.Error(), token) || strings.Contains(err.Error(), testToken) {
			t.Errorf("error leaks the token: %v", err)
		}
		if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "authentication required") {
			t.Errorf("error does not say why: %v", err)
		}
		if entries, _ := filepath.Glob(filepath.Join(root, "*", "acme", "*")); len(entries) > 0 {
			t.Errorf("failed clone left a mirror behind: %v", entries)
		}
	}
	if src.hits.Load() != 0 {
		t.Errorf("%d requests passed auth with a wrong token", src.hits.Load())
	}
}

func TestMaskHidesTokenInErrors(t *testing.T) {
	m := NewMirrors(t.TempDir(), Auth{Token: "s3cret"}, nil)
	base := errors.New("boom")
	err := m.maskErr(errors.Join(base, errors.New("url https://x-access-token:s3cret@example.com failed")))
	if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "[redacted: ") {
		t.Errorf("masked error = %q", err)
	}
	if !errors.Is(err, base) {
		t.Error("masking broke errors.Is")
	}
}

func TestSyncStopsWhenContextIsCancelled(t *testing.T) {
	eachTransport(t, testSyncStopsWhenContextIsCancelled)
}

func testSyncStopsWhenContextIsCancelled(t *testing.T, tr Option) {
	started := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-r.Context().Done() // hold the request until the client gives up
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		cancel()
	}()
	mirrors := NewMirrors(t.TempDir(), Auth{Token: testToken}, nil, tr)
	done := make(chan error, 1)
	go func() {
		_, err := mirrors.Sync(ctx, srv.URL+"/acme/slow.git")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Sync after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Sync did not return after the context was cancelled")
	}
}

func TestConcurrentSyncAndCheckout(t *testing.T) { eachTransport(t, testConcurrentSyncAndCheckout) }

func testConcurrentSyncAndCheckout(t *testing.T, tr Option) {
	src := newSource(t)
	h := buildBase(src)
	mirrors := NewMirrors(t.TempDir(), Auth{Token: testToken}, nil, tr)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := mirrors.Sync(ctx, src.url)
			if err != nil {
				errs <- err
				return
			}
			dir := filepath.Join(t.TempDir(), "run")
			if err := m.Checkout(ctx, h.c2, dir); err != nil {
				errs <- err
				return
			}
			if _, err := m.ChangedFiles(ctx, h.c1, h.c2); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestMirrorPath(t *testing.T) {
	tests := []struct {
		url     string
		want    string // "" means the URL is refused
		wantURL string
	}{
		{"https://github.com/Acme/App.git", "github.com/Acme/App.git", "https://github.com/Acme/App.git"},
		{"https://GitHub.com/acme/app", "github.com/acme/app.git", ""},
		{"http://127.0.0.1:8080/acme/app.git/", "127.0.0.1_8080/acme/app.git", ""},
		{"https://gitlab.example.com/group/sub/app.git", "gitlab.example.com/group/sub/app.git", ""},
		{"file:///srv/git/app.git", "file/srv/git/app.git", ""},
		{"https://github.com/acme/../../etc", "", ""},
		{"https://github.com/acme/%2e%2e", "", ""},
		{"https://github.com/acme/.hidden", "", ""},
		{"https://x-access-token:secret@github.com/acme/app.git", "", ""},
		{"ssh://git@github.com/acme/app.git", "", ""},
		{"git@github.com:acme/app.git", "", ""},
		{"https://github.com/app.git", "", ""},
		{"https:///acme/app.git", "", ""},
		{"https://github.com/acme/app.git?x=1", "", ""},
		{"file://otherhost/srv/app.git", "", ""},
	}
	for _, tt := range tests {
		clean, rel, err := mirrorPath(tt.url)
		if tt.want == "" {
			if err == nil || !errors.Is(err, ErrBadURL) {
				t.Errorf("mirrorPath(%q) = %q, %v; want ErrBadURL", tt.url, rel, err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error leaks credentials: %v", err)
			}
			continue
		}
		if err != nil || rel != tt.want {
			t.Errorf("mirrorPath(%q) = %q, %v; want %q", tt.url, rel, err, tt.want)
		}
		if tt.wantURL != "" && clean != tt.wantURL {
			t.Errorf("mirrorPath(%q) url = %q", tt.url, clean)
		}
	}
}

func TestSyncFileURL(t *testing.T) { eachTransport(t, testSyncFileURL) }

func testSyncFileURL(t *testing.T, tr Option) {
	src := t.TempDir()
	repo, err := git.PlainInit(src, false)
	if err != nil {
		t.Fatal(err)
	}
	s := &source{t: t, dir: src, repo: repo}
	if s.wt, err = repo.Worktree(); err != nil {
		t.Fatal(err)
	}
	sha := s.commit("one", map[string]*string{"a.tf": str("x\n")})
	m, err := NewMirrors(t.TempDir(), Auth{Token: testToken}, nil, tr).Sync(context.Background(), "file://"+src)
	if err != nil {
		t.Fatal(err)
	}
	if !m.HasCommit(sha) {
		t.Error("file:// mirror lacks the commit")
	}
}
