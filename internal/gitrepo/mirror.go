// Package gitrepo keeps one bare mirror per Git repository (fetched incrementally by the git CLI or go-git) and
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

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/gitops-runner/runner/internal/redact"
)

// Errors callers branch on.
var (
	// ErrAuth: the Git host refused the credentials (or asked for some and none were set).
	ErrAuth = errors.New("authentication required: the Git host refused the token")
	// ErrRepoNotFound: the Git host has no such repository (or hides it from this token).
	ErrRepoNotFound = errors.New("repository not found")

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

	transport    Transport // as configured; resolved once, at the first sync
	gitBin       string
	resolve      sync.Once
	resolved     Transport
	resolvedDesc string
	gitPath      string
	resolveErr   error

	mu      sync.Mutex
	mirrors map[string]*Mirror // by mirror path
}

// NewMirrors keeps mirrors under root. A nil log discards.
func NewMirrors(root string, auth Auth, log *slog.Logger, opts ...Option) *Mirrors {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	red := redact.New(redact.Secret{Kind: redact.KindGitHubToken, Value: auth.Token})
	m := &Mirrors{root: root, auth: auth, log: log, redact: red, mirrors: map[string]*Mirror{}, transport: TransportAuto}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Transport resolves the configured transport (once: TransportAuto becomes the git CLI when a recent
// enough one is on PATH, go-git otherwise) and returns it with a description for the log, e.g.
// "git CLI 2.39.5 at /usr/bin/git". An explicit TransportGit without a usable git CLI is an error.
func (m *Mirrors) Transport(ctx context.Context) (Transport, string, error) {
	m.resolve.Do(func() {
		m.resolved, m.gitPath, m.resolvedDesc, m.resolveErr = resolveTransport(ctx, m.transport, m.gitBin)
		if m.resolveErr == nil {
			m.log.Info("git transport", "transport", m.resolvedDesc)
		}
	})
	return m.resolved, m.resolvedDesc, m.resolveErr
}

// Mirror is one bare mirror. Its methods are safe for concurrent use: a fetch excludes readers,
// readers run in parallel, each with its own go-git repository value.
type Mirror struct {
	url    string // without credentials
	path   string
	auth   Auth
	http   bool // the URL is http(s): the token is sent
	mask   func(err error, tokens ...string) error
	log    *slog.Logger
	gitBin string // the git CLI that fetches; "" fetches with go-git
	auto   bool   // TransportAuto: the git CLI fetches only into big mirrors (see cliFetchFrom)
	gitDir string // where the objects and refs are when not at path (a local working copy's .git)

	mu sync.RWMutex // readers share it; a fetch holds it alone

	idleMu sync.Mutex
	idle   []*handle // opened repository values waiting for a reader (see open)

	blobsOnce sync.Once
	blobs     *blobCache // what trees read, kept for the next ones (see Tree)
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
	t, _, err := m.Transport(ctx)
	if err != nil {
		return nil, err
	}
	p := filepath.Join(m.root, filepath.FromSlash(rel))
	m.mu.Lock()
	mi, ok := m.mirrors[p]
	if !ok {
		mi = &Mirror{
			url: u, path: p, auth: m.auth, mask: m.maskErr, log: m.log.With("repo", u),
			http: strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://"),
		}
		if t == TransportGit {
			mi.gitBin = m.gitPath
			mi.auto = m.transport == TransportAuto
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
	if len(want) > 0 && m.has(want) {
		return nil
	}
	// Whatever happens next may change the mirror: no reader may use a value opened before.
	m.forget()
	defer m.forget()
	_, err := git.PlainOpen(m.path)
	created := false
	switch {
	case errors.Is(err, git.ErrRepositoryNotExists):
		created = true
	case err != nil:
		// Not a repository any more (a damaged config or HEAD): make it anew.
		m.rebuilding(progress, err)
		if err := os.RemoveAll(m.path); err != nil {
			return fmt.Errorf("remove the damaged mirror of %s: %w", m.url, err)
		}
		created = true
	}
	token := ""
	if m.http {
		if token, err = m.auth.token(ctx); err != nil {
			return m.mask(fmt.Errorf("fetch %s: git token: %w", m.url, err))
		}
	}
	var sideband *progressFilter
	var fetchProgress io.Writer // nil, not a nil *progressFilter
	if progress != nil {
		sideband = newProgressFilter(progress, progressEvery, nil)
		fetchProgress = sideband
	}
	err = m.fetch(ctx, created, token, fetchProgress)
	if !created && ctx.Err() == nil && (err != nil || !m.holds(want)) {
		// A fetch that failed, or left a wanted commit missing, may be the mirror's fault (a truncated
		// pack, a lost object): a damaged mirror is rebuilt from scratch, a sound one keeps the error.
		if cerr := m.check(); cerr != nil {
			m.rebuilding(progress, cerr)
			if rerr := os.RemoveAll(m.path); rerr != nil {
				return fmt.Errorf("remove the damaged mirror of %s: %w", m.url, rerr)
			}
			created = true
			err = m.fetch(ctx, true, token, fetchProgress)
		}
	}
	if sideband != nil {
		sideband.Flush()
	}
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return m.mask(fmt.Errorf("fetch %s: %w", m.url, err), token)
	}
	m.log.Info("mirror synced", "created", created, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// rebuilding says, in the log and the stage's, that the mirror is damaged and made anew.
func (m *Mirror) rebuilding(progress io.Writer, why error) {
	m.log.Warn("mirror damaged: rebuilding it", "path", m.path, "err", why)
	if progress != nil {
		fmt.Fprintf(progress, "the mirror of %s is damaged (%v): fetching it anew\n", m.url, m.mask(why))
	}
}

// fetch brings the remote's refs into the mirror, creating it first when created. A failed first
// fetch leaves no half mirror behind.
func (m *Mirror) fetch(ctx context.Context, created bool, token string, progress io.Writer) (err error) {
	var repo *git.Repository
	if created && m.gitBin != "" {
		// git clone, unlike a first git fetch into an empty repository, trusts the pack it receives to be
		// complete and skips walking every object (about 6x less memory on a 240 MB pack).
		if err := os.MkdirAll(filepath.Dir(m.path), 0o755); err != nil {
			return fmt.Errorf("create the mirror: %w", err)
		}
		if err = m.cloneCLI(ctx, token, progress); err != nil {
			_ = os.RemoveAll(m.path)
		}
		return err
	}
	if created {
		if repo, err = m.create(); err != nil {
			return fmt.Errorf("create the mirror: %w", err)
		}
		defer func() {
			if err != nil {
				_ = os.RemoveAll(m.path)
			}
		}()
	} else if repo, err = git.PlainOpen(m.path); err != nil {
		return fmt.Errorf("open the mirror: %w", err)
	}
	if _, rerr := repo.Remote("origin"); errors.Is(rerr, git.ErrRemoteNotFound) {
		// A process killed between init and CreateRemote left the mirror without its remote.
		if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{m.url}, Fetch: fetchSpecs}); err != nil {
			return fmt.Errorf("repair the mirror's remote: %w", err)
		}
	}
	if m.gitBin != "" && (!m.auto || packBytes(m.path) >= cliFetchFrom) {
		return m.fetchCLI(ctx, token, progress)
	}
	return m.fetchGoGit(ctx, repo, token, progress)
}

// cliFetchFrom is the size of a mirror's packs from which TransportAuto fetches with the git CLI rather
// than go-git. Below it go-git, in-process, is the faster (a fetch of one commit into a small mirror: ~70
// ms against ~145 ms for git's processes); above it the git CLI is (3.5x on a 244 MB mirror, see
// bench/README.md). A first mirror is always a git clone.
const cliFetchFrom = 32 << 20

// packBytes is the size of the packs of the bare repository at dir.
func packBytes(dir string) int64 {
	packs, _ := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.pack"))
	var n int64
	for _, p := range packs {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// fetchGoGit fetches with go-git.
func (m *Mirror) fetchGoGit(ctx context.Context, repo *git.Repository, token string, progress io.Writer) error {
	var auth transport.AuthMethod
	if token != "" {
		auth = &githttp.BasicAuth{Username: "x-access-token", Password: token}
	}
	opts := &git.FetchOptions{
		RemoteName: "origin",
		RemoteURL:  m.url,
		RefSpecs:   fetchSpecs,
		Auth:       auth,
		Tags:       git.NoTags, // tags come from the refspec
		Force:      true,
		Prune:      true,
	}
	if progress != nil {
		opts.Progress = progress
	}
	err := repo.FetchContext(ctx, opts)
	switch {
	case errors.Is(err, git.NoErrAlreadyUpToDate) || errors.Is(err, transport.ErrEmptyRemoteRepository):
		return nil
	case errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed):
		return fmt.Errorf("%w (%v)", ErrAuth, err)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return fmt.Errorf("%w (%v)", ErrRepoNotFound, err)
	}
	return err
}

// has reports whether the mirror holds every commit in want. The caller holds the mirror's lock.
func (m *Mirror) has(want []string) bool {
	repo, done, err := m.open()
	if err != nil {
		return false
	}
	defer done()
	return hasAll(repo, want)
}

// holds reports whether the mirror, read anew (a fetch by the git CLI adds packs that a repository value
// opened before it does not see), holds every commit in want. The caller holds the write lock.
func (m *Mirror) holds(want []string) bool {
	if len(want) == 0 {
		return true
	}
	m.forget()
	return m.has(want)
}

// check reads the commit and root tree every ref of the mirror names: nil when all are there.
func (m *Mirror) check() error {
	repo, err := git.PlainOpen(m.path)
	if err != nil {
		return err
	}
	refs, err := repo.References()
	if err != nil {
		return fmt.Errorf("list refs: %w", err)
	}
	defer refs.Close()
	return refs.ForEach(func(r *plumbing.Reference) error {
		if r.Type() != plumbing.HashReference {
			return nil
		}
		obj, err := repo.Storer.EncodedObject(plumbing.AnyObject, r.Hash())
		if err != nil {
			return fmt.Errorf("%s: object %s: %w", r.Name(), r.Hash(), err)
		}
		if obj.Type() != plumbing.CommitObject {
			return nil // an annotated tag
		}
		c, err := object.DecodeCommit(repo.Storer, obj)
		if err != nil {
			return fmt.Errorf("%s: commit %s: %w", r.Name(), r.Hash(), err)
		}
		if _, err := c.Tree(); err != nil {
			return fmt.Errorf("%s: tree of %s: %w", r.Name(), r.Hash(), err)
		}
		return nil
	})
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

// open gives the reader a repository value of its own (go-git's storage is not safe for concurrent use),
// and done, which the reader calls when finished: the value then waits, idle, for the next reader,
// because opening one reads the pack indexes (tens of milliseconds on a big repository). The pack files
// stay open while it is used (one open per pack, not one per object read), and the storage assumes that
// nothing changes the mirror meanwhile: readers hold the mirror's read lock, and a fetch, which holds the
// write lock, closes the idle values (forget) before readers come back.
func (m *Mirror) open() (*git.Repository, func(), error) {
	m.idleMu.Lock()
	if n := len(m.idle); n > 0 {
		h := m.idle[n-1]
		m.idle = m.idle[:n-1]
		m.idleMu.Unlock()
		return h.repo, func() { m.release(h) }, nil
	}
	m.idleMu.Unlock()
	dir := m.path
	if m.gitDir != "" {
		dir = m.gitDir
	}
	st := filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRU(readerCache),
		filesystem.Options{KeepDescriptors: true, ExclusiveAccess: true})
	repo, err := git.Open(st, nil)
	if err != nil {
		_ = st.Close()
		return nil, nil, fmt.Errorf("open mirror of %s: %w", m.url, err)
	}
	h := &handle{repo: repo, st: st}
	return repo, func() { m.release(h) }, nil
}

// Idle repository values a mirror keeps for its readers, and the object cache of each.
const (
	maxIdle     = 2
	readerCache = 32 * cache.MiByte
)

// handle is an opened repository value and its storage.
type handle struct {
	repo *git.Repository
	st   *filesystem.Storage
}

// release keeps h for the next reader, or closes it when enough wait already.
func (m *Mirror) release(h *handle) {
	m.idleMu.Lock()
	defer m.idleMu.Unlock()
	if len(m.idle) < maxIdle {
		m.idle = append(m.idle, h)
		return
	}
	_ = h.st.Close()
}

// forget closes the idle repository values: the mirror changed. The caller holds the write lock.
func (m *Mirror) forget() {
	m.idleMu.Lock()
	defer m.idleMu.Unlock()
	for _, h := range m.idle {
		_ = h.st.Close()
	}
	m.idle = nil
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
