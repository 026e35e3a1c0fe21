package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/gitops-runner/runner/internal/repofs"
)

// MaxTreeBlob is the largest file a Tree reads into memory; reading a bigger one fails.
const MaxTreeBlob = 16 << 20

// Tree returns commit sha's files as an in-memory file system, without writing anything: what a run
// reads to learn what it needs (its configuration, its Terraform module graph) before it writes a work
// tree. The whole tree is listed at once; the files prefetch accepts (and every symlink) are read at
// once too, in one stream, and any other file when first used. Folders named .terraform are left out, as
// work trees drop them.
func (m *Mirror) Tree(ctx context.Context, sha string, prefetch func(p string) bool) (*repofs.Tree, error) {
	if !shaRE.MatchString(sha) {
		return nil, fmt.Errorf("read the tree of %q: want a full 40-character commit SHA", sha)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	repo, done, err := m.open()
	if err != nil {
		return nil, err
	}
	defer done()
	commit, err := commitOf(repo, sha)
	if err != nil {
		return nil, fmt.Errorf("read the tree of %s of %s: %w", sha, m.url, err)
	}
	var entries []repofs.Entry
	if m.readsWithCLI() {
		entries, err = m.treeEntriesCLI(ctx, sha, prefetch)
	} else {
		entries, err = treeEntries(ctx, commit, prefetch)
	}
	if err != nil {
		return nil, fmt.Errorf("read the tree of %s: %w", sha, err)
	}
	t, err := repofs.NewTree(entries, m.readBlob, commit.Committer.When)
	if err != nil {
		return nil, fmt.Errorf("read the tree of %s: %w", sha, err)
	}
	return t, nil
}

// underTerraformDir reports whether p is, or is inside, a folder named .terraform.
func underTerraformDir(p string) bool {
	return p == ".terraform" || strings.HasPrefix(p, ".terraform/") || strings.HasSuffix(p, "/.terraform") || strings.Contains(p, "/.terraform/")
}

func treeKind(mode filemode.FileMode) (repofs.Kind, error) {
	switch mode {
	case filemode.Dir:
		return repofs.Folder, nil
	case filemode.Submodule:
		return repofs.Submodule, nil
	case filemode.Symlink:
		return repofs.Symlink, nil
	case filemode.Executable:
		return repofs.Executable, nil
	case filemode.Regular, filemode.Deprecated:
		return repofs.File, nil
	}
	return 0, fmt.Errorf("unsupported file mode %v", mode)
}

// treeEntriesCLI lists the tree with `git ls-tree` and reads what prefetch selects with `git cat-file
// --batch`.
func (m *Mirror) treeEntriesCLI(ctx context.Context, sha string, prefetch func(string) bool) ([]repofs.Entry, error) {
	var entries []repofs.Entry
	var wanted []lsEntry
	err := m.lsTree(ctx, sha, nil, func(e lsEntry) error {
		if underTerraformDir(e.path) {
			return nil
		}
		k, err := treeKind(e.mode)
		if err != nil {
			return fmt.Errorf("%s: %w", e.path, err)
		}
		if len(entries) >= maxTreeEntries {
			return fmt.Errorf("more than %d files and folders", maxTreeEntries)
		}
		if k == repofs.Symlink || ((k == repofs.File || k == repofs.Executable) && prefetch != nil && prefetch(e.path)) {
			wanted = append(wanted, lsEntry{mode: e.mode, oid: e.oid, path: e.path, size: int64(len(entries))}) // size: the entry's index
		}
		entries = append(entries, repofs.Entry{Path: e.path, Kind: k, ID: e.oid})
		return nil
	})
	if err != nil || len(wanted) == 0 {
		return entries, err
	}
	at := make(map[string]int, len(wanted)) // path -> index in entries (size carried it)
	for _, w := range wanted {
		at[w.path] = int(w.size)
	}
	err = m.catFiles(ctx, wanted, func(e lsEntry, r io.Reader) error {
		if e.size > MaxTreeBlob {
			return nil // read (and refused) when used
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		entries[at[e.path]].Data = data
		return nil
	})
	return entries, err
}

// maxTreeEntries bounds a tree read into memory.
const maxTreeEntries = 1_000_000

// treeEntries lists the commit's tree with go-git, reading what prefetch selects.
func treeEntries(ctx context.Context, commit *object.Commit, prefetch func(string) bool) ([]repofs.Entry, error) {
	root, err := commit.Tree()
	if err != nil {
		return nil, err
	}
	var entries []repofs.Entry
	var walk func(t *object.Tree, prefix string) error
	walk = func(t *object.Tree, prefix string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, e := range t.Entries {
			if !validName(e.Name) {
				return fmt.Errorf("%s: invalid name %q in the tree", prefix, e.Name)
			}
			p := e.Name
			if prefix != "" {
				p = prefix + "/" + e.Name
			}
			if e.Name == ".terraform" {
				continue
			}
			k, err := treeKind(e.Mode)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if len(entries) >= maxTreeEntries {
				return fmt.Errorf("more than %d files and folders", maxTreeEntries)
			}
			entry := repofs.Entry{Path: p, Kind: k, ID: e.Hash.String()}
			switch {
			case k == repofs.Folder:
				entries = append(entries, entry)
				sub, err := t.Tree(e.Name)
				if err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				if err := walk(sub, p); err != nil {
					return err
				}
				continue
			case k == repofs.Symlink || ((k == repofs.File || k == repofs.Executable) && prefetch != nil && prefetch(p)):
				data, err := readGoGitBlob(t, e)
				if err != nil && !errors.Is(err, errBlobTooBig) {
					return fmt.Errorf("%s: %w", p, err)
				}
				entry.Data = data
			}
			entries = append(entries, entry)
		}
		return nil
	}
	return entries, walk(root, "")
}

var errBlobTooBig = fmt.Errorf("larger than %d bytes, not read from the mirror", MaxTreeBlob)

func readGoGitBlob(t *object.Tree, e object.TreeEntry) ([]byte, error) {
	f, err := t.TreeEntryFile(&e)
	if err != nil {
		return nil, err
	}
	if f.Size > MaxTreeBlob {
		return nil, errBlobTooBig
	}
	r, err := f.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// readBlob reads one blob of the mirror by ID: a Tree's file not read up front.
func (m *Mirror) readBlob(id string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.readsWithCLI() {
		var buf bytes.Buffer
		err := m.catFiles(context.Background(), []lsEntry{{oid: id, path: id}}, func(e lsEntry, r io.Reader) error {
			if e.size > MaxTreeBlob {
				return errBlobTooBig
			}
			_, err := io.Copy(&buf, r)
			return err
		})
		return buf.Bytes(), err
	}
	repo, done, err := m.open()
	if err != nil {
		return nil, err
	}
	defer done()
	return blobBytes(repo, id)
}

func blobBytes(repo *git.Repository, id string) ([]byte, error) {
	b, err := repo.BlobObject(plumbing.NewHash(id))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", id, err)
	}
	if b.Size > MaxTreeBlob {
		return nil, errBlobTooBig
	}
	r, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}
