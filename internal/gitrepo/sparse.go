package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Selection is the part of a commit's tree a sparse work tree holds: whole subtrees (or single files)
// by path, plus every file anywhere whose path Match accepts.
type Selection struct {
	Paths []string               // slash-separated repository paths: a folder brings everything under it
	Match func(name string) bool // nil: nothing beyond Paths
	Links bool                   // and every symlink anywhere
	Dirs  bool                   // and every folder, empty where nothing in it is selected
}

// selected reports whether the file at p is in the selection.
func (s Selection) selected(p string) bool {
	for _, q := range s.Paths {
		if q == "." || p == q || strings.HasPrefix(p, q+"/") {
			return true
		}
	}
	return s.Match != nil && s.Match(p)
}

// descends reports whether the folder at p may hold selected files.
func (s Selection) descends(p string) bool {
	if s.Match != nil || s.Links || s.Dirs {
		return true
	}
	for _, q := range s.Paths {
		if q == "." || p == q || strings.HasPrefix(p, q+"/") || strings.HasPrefix(q, p+"/") {
			return true
		}
	}
	return false
}

// CheckoutPaths writes the files of commit sha that sel selects into dir, reading them from the mirror:
// subtrees outside the selection are not even read. dir may already hold an earlier selection of the same
// commit (a run widening its work tree): files already there are kept, only missing ones are written.
// As in Checkout, names are git's validated ones, and no file is written through a symlink: a folder on
// the way that is a symlink fails the checkout.
func (m *Mirror) CheckoutPaths(ctx context.Context, sha, dir string, sel Selection) (int, error) {
	if !shaRE.MatchString(sha) {
		return 0, fmt.Errorf("checkout %q: want a full 40-character commit SHA", sha)
	}
	for _, p := range sel.Paths {
		if c := path.Clean(p); c != p || strings.HasPrefix(p, "../") || p == ".." || path.IsAbs(p) {
			return 0, fmt.Errorf("checkout %s: path %q is not a clean repository path", sha, p)
		}
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	repo, done, err := m.open()
	if err != nil {
		return 0, err
	}
	defer done()
	commit, err := commitOf(repo, sha)
	if err != nil {
		return 0, fmt.Errorf("checkout %s of %s: %w", sha, m.url, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("checkout %s: %w", sha, err)
	}
	sw := &sparseWriter{ctx: ctx, root: dir, sel: sel}
	if m.readsWithCLI() {
		if err := m.checkoutCLI(ctx, sha, sw); err != nil {
			return sw.written, fmt.Errorf("checkout %s into %s: %w", sha, dir, err)
		}
		return sw.written, nil
	}
	tree, err := commit.Tree()
	if err != nil {
		return 0, fmt.Errorf("checkout %s: %w", sha, err)
	}
	if err := sw.tree(tree, ""); err != nil {
		return sw.written, fmt.Errorf("checkout %s into %s: %w", sha, dir, err)
	}
	return sw.written, nil
}

type sparseWriter struct {
	ctx     context.Context
	root    string
	sel     Selection
	written int
	visited int
	dirs    map[string]bool // folders known to be real folders
}

// tree writes the selected entries of t, the tree at prefix ("" for the root).
func (s *sparseWriter) tree(t *object.Tree, prefix string) error {
	for _, e := range t.Entries {
		if s.visited++; s.visited%256 == 0 && s.ctx.Err() != nil {
			return s.ctx.Err()
		}
		if !validName(e.Name) {
			return fmt.Errorf("%s: invalid name %q in the tree", prefix, e.Name)
		}
		p := e.Name
		if prefix != "" {
			p = prefix + "/" + e.Name
		}
		switch e.Mode {
		case filemode.Dir:
			if !s.sel.descends(p) {
				continue
			}
			if s.sel.Dirs {
				if err := s.mkdirs(p); err != nil {
					return err
				}
			}
			sub, err := t.Tree(e.Name)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if err := s.tree(sub, p); err != nil {
				return err
			}
		case filemode.Submodule:
			if s.sel.selected(p) {
				if err := s.mkdirs(p); err != nil {
					return err
				}
			}
		case filemode.Symlink, filemode.Regular, filemode.Deprecated, filemode.Executable:
			if !s.sel.selected(p) && !(s.sel.Links && e.Mode == filemode.Symlink) {
				continue
			}
			if err := s.file(t, e, p); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		default:
			return fmt.Errorf("%s: unsupported file mode %v", p, e.Mode)
		}
	}
	return nil
}

// file writes one blob (or symlink); one already there is kept.
func (s *sparseWriter) file(t *object.Tree, e object.TreeEntry, p string) error {
	if err := s.mkdirs(path.Dir(p)); err != nil {
		return err
	}
	dst := filepath.Join(s.root, filepath.FromSlash(p))
	var err error
	if e.Mode == filemode.Symlink {
		var target string
		if target, err = blobString(t, e); err == nil {
			err = os.Symlink(target, dst)
		}
	} else {
		perm := os.FileMode(0o644)
		if e.Mode == filemode.Executable {
			perm = 0o755
		}
		err = writeBlob(t, e, dst, perm)
	}
	if errors.Is(err, fs.ErrExist) {
		return nil // written by an earlier selection
	}
	if err == nil {
		s.written++
	}
	return err
}

// mkdirs makes the folders of p under the root one by one, refusing any that exists as something other
// than a folder (a symlink planted by the tree must not lead a write outside the work tree).
func (s *sparseWriter) mkdirs(p string) error {
	if p == "." || p == "" || s.dirs[p] {
		return nil
	}
	if s.dirs == nil {
		s.dirs = map[string]bool{}
	}
	cur := s.root
	rel := ""
	for _, part := range strings.Split(p, "/") {
		cur = filepath.Join(cur, part)
		rel = path.Join(rel, part)
		if s.dirs[rel] {
			continue
		}
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(cur, 0o755); err != nil {
				return err
			}
			s.dirs[rel] = true
			continue
		}
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a folder in the work tree", rel)
		}
		s.dirs[rel] = true
	}
	return nil
}

// validName refuses tree entry names that could leave the folder or touch git's own files.
func validName(n string) bool {
	return n != "" && n != "." && n != ".." && !strings.ContainsAny(n, "/\\\x00") && !strings.EqualFold(n, ".git")
}
