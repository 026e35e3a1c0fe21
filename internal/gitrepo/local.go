package gitrepo

import (
	"fmt"
	"io"
	"log/slog"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// OpenLocal opens a repository on disk (a working copy or a bare repository) for reading, as the CLI
// reads the user's own checkout: commits, changed files and trees, never its working files.
func OpenLocal(path string) (*Mirror, error) {
	repo, err := git.PlainOpenWithOptions(path, &git.PlainOpenOptions{DetectDotGit: false})
	if err != nil {
		return nil, fmt.Errorf("open the repository at %s: %w", path, err)
	}
	gitDir := path // a bare repository
	if st, ok := repo.Storer.(*filesystem.Storage); ok {
		gitDir = st.Filesystem().Root() // a working copy's .git, wherever its .git file points
	}
	return &Mirror{url: path, path: path, gitDir: gitDir, log: slog.New(slog.NewTextHandler(io.Discard, nil))}, nil
}

// Resolve returns the full SHA of a revision (a SHA, a short SHA, a branch, a tag, HEAD~1 ...).
func (m *Mirror) Resolve(rev string) (string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	repo, done, err := m.open()
	if err != nil {
		return "", err
	}
	defer done()
	c, err := commitOf(repo, rev)
	if err != nil {
		return "", fmt.Errorf("resolve %q: %w", rev, err)
	}
	return c.Hash.String(), nil
}
