// Package gitrepo keeps one bare mirror per Git repository (go-git, fetched incrementally) and
// checks out exact commits from it into per-run directories, and lists files changed between commits.
package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/gitops-runner/runner/internal/redact"
)

// Errors callers branch on.
var (
	ErrCommitNotFound = errors.New("commit not found")
	ErrNoMergeBase    = errors.New("no merge base")
	ErrBadURL         = errors.New("unsupported repository URL")
)

// fetchSpecs mirror branches, tags and GitHub pull request heads. Wildcard refspecs that match
// nothing (a server without refs/pull/*) are not an error in go-git.
var fetchSpecs = []gitconfig.RefSpec{
	"+refs/heads/*:refs/heads/*",
	"+refs/tags/*:refs/tags/*",
	"+refs/pull/*/head:refs/pull/*/head",
}

// Auth is how the runner authenticates to the Git host. The token is sent as the password of
// x-access-token basic auth over HTTP(S), never put in a URL, and masked out of every error.
type Auth struct {
	Token string // GitHub token (personal, or an installation's that does not expire while the runner lives)
	// TokenSource, when set, is asked for the token before every fetch and wins over Token: a GitHub
	// App's installation token expires after an hour, so the source (ghinstallation) caches and renews it.
	TokenSource func(ctx context.Context) (string, error)
}

// token is the token for one fetch, or "" for none.
func (a Auth) token(ctx context.Context) (string, error) {
	if a.TokenSource == nil {
		return a.Token, nil
	}
	return a.TokenSource(ctx)
}

// Mirrors is a directory of bare mirrors, one per repository URL.
type Mirrors struct {
	root   string
	auth   Auth
	log    *slog.Logger
	redact *redact.Redactor // the token, out of errors

	mu      sync.Mutex
	mirrors map[string]*Mirror // by mirror path
}

// NewMirrors keeps mirrors under root. A nil log discards.
func NewMirrors(root string, auth Auth, log *slog.Logger) *Mirrors {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	red := redact.New(redact.Secret{Kind: redact.KindGitHubToken, Value: auth.Token})
	return &Mirrors{root: root, auth: auth, log: log, redact: red, mirrors: map[string]*Mirror{}}
}

// Mirror is one bare mirror. Its methods are safe for concurrent use: a fetch excludes readers,
// readers run in parallel, each with its own go-git repository value.
type Mirror struct {
	url  string // without credentials
	path string
	auth Auth
	http bool // the URL is http(s): the token is sent
	mask func(err error, tokens ...string) error
	log  *slog.Logger

	mu sync.RWMutex
}

// Sync creates the mirror of url (cloning it) or fetches into it, and returns it. Concurrent
// Syncs of one repository are serialised. "Already up to date" is success. When the mirror
// already holds every commit in want, nothing is fetched: a burst of deliveries for the same
// commits costs one fetch, not one each.
func (m *Mirrors) Sync(ctx context.Context, rawURL string, want ...string) (*Mirror, error) {
	return m.SyncProgress(ctx, rawURL, nil, want...)
}

// progressEvery is the longest a fetch's progress stays unlogged while a phase's percentage moves.
const progressEvery = 3 * time.Second

// SyncProgress is Sync writing the fetch's progress (the server's "Counting objects: 40% (8/20)",
// throttled and stripped of control characters) to progress, a stage log; nil: none.
func (m *Mirrors) SyncProgress(ctx context.Context, rawURL string, progress io.Writer, want ...string) (*Mirror, error) {
	u, rel, err := mirrorPath(rawURL)
	if err != nil {
		return nil, m.maskErr(err)
	}
	p := filepath.Join(m.root, filepath.FromSlash(rel))
	m.mu.Lock()
	mi, ok := m.mirrors[p]
	if !ok {
		mi = &Mirror{
			url: u, path: p, auth: m.auth, mask: m.maskErr, log: m.log.With("repo", u),
			http: strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://"),
		}
		m.mirrors[p] = mi
	}
	m.mu.Unlock()
	if err := mi.sync(ctx, want, progress); err != nil {
		return nil, err
	}
	return mi, nil
}

func (m *Mirror) sync(ctx context.Context, want []string, progress io.Writer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	start := time.Now()
	repo, err := git.PlainOpen(m.path)
	if err == nil && len(want) > 0 && hasAll(repo, want) {
		return nil
	}
	created := false
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = m.create()
		created = true
	}
	if err == nil {
		if _, rerr := repo.Remote("origin"); errors.Is(rerr, git.ErrRemoteNotFound) {
			// A process killed between init and CreateRemote left the mirror without its remote.
			_, err = repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{m.url}, Fetch: fetchSpecs})
		}
	}
	if err != nil {
		return m.mask(fmt.Errorf("open mirror of %s: %w", m.url, err))
	}
	var auth transport.AuthMethod
	token := ""
	if m.http {
		if token, err = m.auth.token(ctx); err != nil {
			if created {
				_ = os.RemoveAll(m.path)
			}
			return m.mask(fmt.Errorf("fetch %s: git token: %w", m.url, err))
		}
		if token != "" {
			auth = &githttp.BasicAuth{Username: "x-access-token", Password: token}
		}
	}
	var sideband *progressFilter
	if progress != nil {
		sideband = newProgressFilter(progress, progressEvery, nil)
	}
	opts := &git.FetchOptions{
		RemoteName: "origin",
		RemoteURL:  m.url,
		RefSpecs:   fetchSpecs,
		Auth:       auth,
		Tags:       git.NoTags, // tags come from the refspec
		Force:      true,
	}
	if sideband != nil {
		opts.Progress = sideband
	}
	err = repo.FetchContext(ctx, opts)
	if sideband != nil {
		sideband.Flush()
	}
	if errors.Is(err, git.NoErrAlreadyUpToDate) || errors.Is(err, transport.ErrEmptyRemoteRepository) {
		err = nil
	}
	if err != nil {
		if created {
			_ = os.RemoveAll(m.path) // a failed first fetch leaves no half mirror behind
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return m.mask(fmt.Errorf("fetch %s: %w", m.url, err), token)
	}
	m.log.Info("mirror synced", "created", created, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (m *Mirror) create() (*git.Repository, error) {
	if err := os.MkdirAll(filepath.Dir(m.path), 0o755); err != nil {
		return nil, err
	}
	repo, err := git.PlainInit(m.path, true)
	if err != nil {
		return nil, err
	}
	if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{m.url}, Fetch: fetchSpecs}); err != nil {
		_ = os.RemoveAll(m.path)
		return nil, err
	}
	return repo, nil
}

// open gives each reader its own repository value: go-git's storage caches are not shared.
func (m *Mirror) open() (*git.Repository, error) {
	repo, err := git.PlainOpen(m.path)
	if err != nil {
		return nil, fmt.Errorf("open mirror of %s: %w", m.url, err)
	}
	return repo, nil
}

// URL is the repository URL the mirror fetches from (without credentials).
func (m *Mirror) URL() string { return m.url }

// Path is the mirror's bare repository directory.
func (m *Mirror) Path() string { return m.path }

// maskErr redacts the configured token, the tokens a fetch used (and any credential) in err's text while
// keeping errors.Is/As working.
func (m *Mirrors) maskErr(err error, tokens ...string) error {
	red := m.redact
	if len(tokens) > 0 {
		red = red.With(redact.Secrets(redact.KindGitHubToken, tokens...)...)
	}
	return red.Err(err)
}

var segmentRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// mirrorPath checks a repository URL and derives the mirror's relative path, host/owner/name.git,
// from it. Only http, https and file URLs are accepted; credentials in the URL are refused (the
// token comes from Auth), and every path segment must be a plain name, so no URL can reach
// outside the mirror root.
func mirrorPath(raw string) (clean, rel string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("%w: cannot parse", ErrBadURL)
	}
	if u.User != nil {
		return "", "", fmt.Errorf("%w: credentials in the URL (use the token setting)", ErrBadURL)
	}
	var parts []string
	switch u.Scheme {
	case "https", "http":
		host := strings.ToLower(u.Host)
		if host == "" {
			return "", "", fmt.Errorf("%w: %s: no host", ErrBadURL, u.Redacted())
		}
		parts = append(parts, strings.ReplaceAll(host, ":", "_"))
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return "", "", fmt.Errorf("%w: %s: file URL with a host", ErrBadURL, u.Redacted())
		}
		parts = append(parts, "file")
	default:
		return "", "", fmt.Errorf("%w: %s: scheme must be https, http or file", ErrBadURL, u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("%w: %s: query or fragment", ErrBadURL, u.Redacted())
	}
	p := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	segs := strings.Split(p, "/")
	if p == "" || (u.Scheme != "file" && len(segs) < 2) {
		return "", "", fmt.Errorf("%w: %s: want host/owner/name", ErrBadURL, u.Redacted())
	}
	for _, s := range segs {
		if !segmentRE.MatchString(s) || strings.Contains(s, "..") {
			return "", "", fmt.Errorf("%w: %s: path segment %q", ErrBadURL, u.Redacted(), s)
		}
	}
	if !segmentRE.MatchString(parts[0]) {
		return "", "", fmt.Errorf("%w: %s: host %q", ErrBadURL, u.Redacted(), u.Host)
	}
	parts = append(parts, segs...)
	rel = path.Join(parts...) + ".git"
	return u.String(), rel, nil
}

// hasAll reports whether repo holds every commit in shas.
func hasAll(repo *git.Repository, shas []string) bool {
	for _, sha := range shas {
		if !shaRE.MatchString(sha) {
			return false
		}
		if _, err := repo.CommitObject(plumbing.NewHash(sha)); err != nil {
			return false
		}
	}
	return true
}
