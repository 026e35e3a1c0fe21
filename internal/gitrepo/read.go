package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// ZeroSHA is what GitHub sends as "before" when a branch is created.
const ZeroSHA = "0000000000000000000000000000000000000000"

// HasCommit reports whether the mirror holds the commit sha.
func (m *Mirror) HasCommit(sha string) bool {
	if !shaRE.MatchString(sha) {
		return false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	repo, done, err := m.open()
	if err != nil {
		return false
	}
	defer done()
	_, err = repo.CommitObject(plumbing.NewHash(sha))
	return err == nil
}

// Checkout writes the tree of commit sha (a full 40-hex SHA, never a branch name) into dir, which
// must not exist or be empty. File modes, the executable bit and symlinks are kept; submodules
// become empty directories. A SHA not in the mirror gives ErrCommitNotFound.
func (m *Mirror) Checkout(ctx context.Context, sha, dir string) error {
	if !shaRE.MatchString(sha) {
		return fmt.Errorf("checkout %q: want a full 40-character commit SHA", sha)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	repo, done, err := m.open()
	if err != nil {
		return err
	}
	defer done()
	commit, err := commitOf(repo, sha)
	if err != nil {
		return fmt.Errorf("checkout %s of %s: %w", sha, m.url, err)
	}
	if err := prepareDir(dir); err != nil {
		return fmt.Errorf("checkout %s: %w", sha, err)
	}
	if m.readsWithCLI() {
		sw := &sparseWriter{ctx: ctx, root: dir, sel: Selection{Paths: []string{"."}}}
		if err := m.checkoutCLI(ctx, sha, sw); err != nil {
			return fmt.Errorf("checkout %s into %s: %w", sha, dir, err)
		}
		m.log.Debug("checked out", "sha", sha, "dir", dir, "by", "git")
		return nil
	}
	tree, err := commit.Tree()
	if err != nil {
		return fmt.Errorf("checkout %s: %w", sha, err)
	}
	if err := writeTree(ctx, tree, dir); err != nil {
		return fmt.Errorf("checkout %s into %s: %w", sha, dir, err)
	}
	m.log.Debug("checked out", "sha", sha, "dir", dir)
	return nil
}

func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); !errors.Is(err, io.EOF) {
		if err == nil {
			return fmt.Errorf("%s is not empty", dir)
		}
		return err
	}
	return nil
}

// writeTree materialises a tree. Names are validated by go-git's TreeWalker (no "..", ".git" and
// the like); directories are created with Mkdir and files with O_EXCL, so a crafted tree cannot
// write through a symlink it created earlier.
func writeTree(ctx context.Context, tree *object.Tree, dir string) error {
	w := object.NewTreeWalker(tree, true, nil)
	defer w.Close()
	for n := 0; ; n++ {
		if n%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		name, entry, err := w.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		switch entry.Mode {
		case filemode.Dir, filemode.Submodule:
			if err := os.Mkdir(dst, 0o755); err != nil {
				return err
			}
		case filemode.Symlink:
			target, err := blobString(tree, entry)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if err := os.Symlink(target, dst); err != nil {
				return err
			}
		case filemode.Regular, filemode.Deprecated, filemode.Executable:
			perm := os.FileMode(0o644)
			if entry.Mode == filemode.Executable {
				perm = 0o755
			}
			if err := writeBlob(tree, entry, dst, perm); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		default:
			return fmt.Errorf("%s: unsupported file mode %v", name, entry.Mode)
		}
	}
}

func blobString(tree *object.Tree, e object.TreeEntry) (string, error) {
	b, err := tree.TreeEntryFile(&e)
	if err != nil {
		return "", err
	}
	r, err := b.Reader()
	if err != nil {
		return "", err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, 4096))
	return string(data), err
}

func writeBlob(tree *object.Tree, e object.TreeEntry, dst string, perm os.FileMode) error {
	b, err := tree.TreeEntryFile(&e)
	if err != nil {
		return err
	}
	r, err := b.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	return writeFile(dst, perm, r)
}

// MergeBase returns the best common ancestor of a and b (SHAs or branch/tag names in the mirror).
func (m *Mirror) MergeBase(ctx context.Context, a, b string) (string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	repo, done, err := m.open()
	if err != nil {
		return "", err
	}
	defer done()
	ca, err := commitOf(repo, a)
	if err != nil {
		return "", fmt.Errorf("merge base of %s and %s: %w", a, b, err)
	}
	cb, err := commitOf(repo, b)
	if err != nil {
		return "", fmt.Errorf("merge base of %s and %s: %w", a, b, err)
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	bases, err := ca.MergeBase(cb)
	if err != nil {
		return "", fmt.Errorf("merge base of %s and %s: %w", a, b, err)
	}
	if len(bases) == 0 {
		return "", fmt.Errorf("merge base of %s and %s: %w", a, b, ErrNoMergeBase)
	}
	// Several best bases happen with criss-cross merges; pick one deterministically.
	sort.Slice(bases, func(i, j int) bool { return bases[i].Hash.String() < bases[j].Hash.String() })
	return bases[0].Hash.String(), nil
}

// ChangedFiles lists the paths that differ between the trees of from and to (SHAs or names),
// sorted and unique. A rename lists both the old and the new path. When from is "", the all-zero
// SHA, or a commit the mirror does not have (e.g. force-pushed away), every file in to is listed.
// An unknown to gives ErrCommitNotFound.
func (m *Mirror) ChangedFiles(ctx context.Context, from, to string) ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	repo, done, err := m.open()
	if err != nil {
		return nil, err
	}
	defer done()
	ct, err := commitOf(repo, to)
	if err != nil {
		return nil, fmt.Errorf("changed files %s..%s: %w", from, to, err)
	}
	toTree, err := ct.Tree()
	if err != nil {
		return nil, fmt.Errorf("changed files %s..%s: %w", from, to, err)
	}
	var fromTree *object.Tree
	if from != "" && from != ZeroSHA {
		if cf, err := commitOf(repo, from); err == nil {
			if fromTree, err = cf.Tree(); err != nil {
				return nil, fmt.Errorf("changed files %s..%s: %w", from, to, err)
			}
		} else if !errors.Is(err, ErrCommitNotFound) {
			return nil, fmt.Errorf("changed files %s..%s: %w", from, to, err)
		} else {
			m.log.Info("base commit not in mirror; treating every file as changed", "sha", from)
		}
	}
	if fromTree == nil {
		fromTree = &object.Tree{}
	}
	changes, err := object.DiffTreeWithOptions(ctx, fromTree, toTree, &object.DiffTreeOptions{DetectRenames: false})
	if err != nil {
		return nil, fmt.Errorf("changed files %s..%s: %w", from, to, err)
	}
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, c := range changes {
		add(c.From.Name)
		add(c.To.Name)
	}
	sort.Strings(out)
	return out, nil
}

// commitOf resolves a full SHA or a revision (branch, tag, refs/pull/N/head) to a commit.
func commitOf(repo *git.Repository, rev string) (*object.Commit, error) {
	var h plumbing.Hash
	if shaRE.MatchString(rev) {
		h = plumbing.NewHash(rev)
	} else {
		if rev == "" {
			return nil, fmt.Errorf("empty revision: %w", ErrCommitNotFound)
		}
		p, err := repo.ResolveRevision(plumbing.Revision(rev))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rev, ErrCommitNotFound)
		}
		h = *p
	}
	c, err := repo.CommitObject(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("%s: %w", rev, ErrCommitNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rev, err)
	}
	return c, nil
}

// BranchHead returns the commit a branch of the mirror points at (as of the last sync).
func (m *Mirror) BranchHead(branch string) (string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	repo, done, err := m.open()
	if err != nil {
		return "", err
	}
	defer done()
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		return "", fmt.Errorf("branch %s of %s: %w", branch, m.url, err)
	}
	return ref.Hash().String(), nil
}
