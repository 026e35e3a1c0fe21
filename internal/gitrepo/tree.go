package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/gitops-runner/runner/internal/repofs"
)

// MaxTreeBlob is the largest file a Tree reads into memory; reading a bigger one fails with ErrBlobTooBig.
const MaxTreeBlob = 16 << 20

// Prefetching (see Tree) leaves files over prefetchBlob to be read when used, and stops at prefetchBytes in
// all: what a Terraform file may be to be parsed (4 MiB) and a budget well within repofs.MaxTreeBytes.
const (
	prefetchBlob  = 4 << 20
	prefetchBytes = 64 << 20
)

// maxReadBatch bounds the contents one read of several blobs (a work tree's files) holds at once.
const maxReadBatch = 64 << 20

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
	var entries []repofs.Entry
	var when time.Time
	var err error
	if m.readsWithCLI() {
		// No go-git here: opening the mirror with it reads every pack's index, tens of ms on a big one.
		// ls-tree of sha^{commit} fails for anything but a commit.
		entries, err = m.treeEntriesCLI(ctx, sha, prefetch)
	} else {
		repo, done, oerr := m.open()
		if oerr != nil {
			return nil, oerr
		}
		defer done()
		commit, cerr := commitOf(repo, sha)
		if cerr != nil {
			return nil, fmt.Errorf("read the tree of %s of %s: %w", sha, m.url, cerr)
		}
		when = commit.Committer.When
		if entries, err = treeEntries(ctx, commit, prefetch, m.blobCache()); err != nil {
			return nil, fmt.Errorf("read the tree of %s: %w", sha, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read the tree of %s of %s: %w", sha, m.url, err)
	}
	t, err := repofs.NewTree(entries, m.readBlobs, when)
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
// --batch`. (Running the two at once, each blob asked for as soon as it is listed, was measured no faster
// on 2 cores: both are CPU-bound, as is reading their output.)
func (m *Mirror) treeEntriesCLI(ctx context.Context, sha string, prefetch func(string) bool) ([]repofs.Entry, error) {
	cache := m.blobCache()
	var entries []repofs.Entry
	var wanted []lsEntry
	err := m.lsTree(ctx, sha+"^{commit}", nil, func(e lsEntry) error {
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
		entry := repofs.Entry{Path: e.path, Kind: k, ID: e.oid}
		if k == repofs.Symlink || ((k == repofs.File || k == repofs.Executable) && prefetch != nil && prefetch(e.path)) {
			if data, ok := cache.get(e.oid); ok {
				entry.Data = data
			} else {
				wanted = append(wanted, lsEntry{mode: e.mode, oid: e.oid, path: e.path, size: int64(len(entries))}) // size: the entry's index
			}
		}
		entries = append(entries, entry)
		return nil
	})
	if err != nil || len(wanted) == 0 {
		return entries, err
	}
	at := make(map[string]int, len(wanted)) // path -> index in entries (size carried it)
	for _, w := range wanted {
		at[w.path] = int(w.size)
	}
	var held int64
	err = m.catFiles(ctx, wanted, func(e lsEntry, r io.Reader) error {
		if e.size > prefetchBlob || held+e.size > prefetchBytes {
			return nil // read when used
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		held += int64(len(data))
		entries[at[e.path]].Data = data
		cache.put(e.oid, data)
		return nil
	})
	return entries, err
}

// maxTreeEntries bounds a tree read into memory.
const maxTreeEntries = 1_000_000

// blobCache is the mirror's cache of blobs read for trees.
func (m *Mirror) blobCache() *blobCache {
	m.blobsOnce.Do(func() { m.blobs = newBlobCache(blobCacheBytes) })
	return m.blobs
}

// treeEntries lists the commit's tree with go-git, reading what prefetch selects.
func treeEntries(ctx context.Context, commit *object.Commit, prefetch func(string) bool, cache *blobCache) ([]repofs.Entry, error) {
	root, err := commit.Tree()
	if err != nil {
		return nil, err
	}
	var entries []repofs.Entry
	var held int64 // prefetched bytes
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
			case held < prefetchBytes && (k == repofs.Symlink || ((k == repofs.File || k == repofs.Executable) && prefetch != nil && prefetch(p))):
				data, ok := cache.get(entry.ID)
				if !ok {
					data, err = readGoGitBlob(t, e, prefetchBlob)
					if err != nil && !errors.Is(err, ErrBlobTooBig) {
						return fmt.Errorf("%s: %w", p, err)
					}
					if err == nil {
						cache.put(entry.ID, data)
					}
				}
				held += int64(len(data))
				entry.Data = data
			}
			entries = append(entries, entry)
		}
		return nil
	}
	return entries, walk(root, "")
}

// ErrBlobTooBig says files are too big to read into memory (one over MaxTreeBlob, or several over a
// read's budget): CheckoutPaths writes them from the mirror, streamed. It is repofs.ErrTooBig.
var ErrBlobTooBig = repofs.ErrTooBig

func readGoGitBlob(t *object.Tree, e object.TreeEntry, limit int64) ([]byte, error) {
	f, err := t.TreeEntryFile(&e)
	if err != nil {
		return nil, err
	}
	if f.Size > limit {
		return nil, fmt.Errorf("larger than %d bytes: %w", limit, ErrBlobTooBig)
	}
	r, err := f.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// readBlobs reads blobs of the mirror by ID: a Tree's files not read up front, in one stream of `git
// cat-file --batch` (or go-git's reads), the cache first.
func (m *Mirror) readBlobs(ids []string) (map[string][]byte, error) {
	cache := m.blobCache()
	out := make(map[string][]byte, len(ids))
	var todo []lsEntry
	for _, id := range ids {
		if data, ok := cache.get(id); ok {
			out[id] = data
		} else {
			todo = append(todo, lsEntry{oid: id, path: id})
		}
	}
	if len(todo) == 0 {
		return out, nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var held int64
	if m.readsWithCLI() {
		err := m.catFiles(context.Background(), todo, func(e lsEntry, r io.Reader) error {
			if e.size > MaxTreeBlob {
				return fmt.Errorf("blob %s: larger than %d bytes: %w", e.oid, MaxTreeBlob, ErrBlobTooBig)
			}
			if held += e.size; held > maxReadBatch {
				return fmt.Errorf("%d files: more than %d bytes: %w", len(todo), maxReadBatch, ErrBlobTooBig)
			}
			data, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			out[e.oid] = data
			cache.put(e.oid, data)
			return nil
		})
		return out, err
	}
	repo, done, err := m.open()
	if err != nil {
		return nil, err
	}
	defer done()
	for _, e := range todo {
		data, err := blobBytes(repo, e.oid)
		if err != nil {
			return nil, err
		}
		if held += int64(len(data)); held > maxReadBatch {
			return nil, fmt.Errorf("%d files: more than %d bytes: %w", len(todo), maxReadBatch, ErrBlobTooBig)
		}
		out[e.oid] = data
		cache.put(e.oid, data)
	}
	return out, nil
}

func blobBytes(repo *git.Repository, id string) ([]byte, error) {
	b, err := repo.BlobObject(plumbing.NewHash(id))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", id, err)
	}
	if b.Size > MaxTreeBlob {
		return nil, fmt.Errorf("blob %s: larger than %d bytes: %w", id, MaxTreeBlob, ErrBlobTooBig)
	}
	r, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// WriteTree writes what sel selects of tree (a commit read by Mirror.Tree) into dir, as CheckoutPaths
// does from the mirror, but from the tree's memory: the files it has not read yet are read in one go.
// dir may already hold an earlier selection; files there are kept. Names were validated when the tree
// was read, and no file is written through a symlink.
func WriteTree(ctx context.Context, tree *repofs.Tree, dir string, sel Selection) (int, error) {
	for _, p := range sel.Paths {
		if c := path.Clean(p); c != p || strings.HasPrefix(p, "../") || p == ".." || path.IsAbs(p) {
			return 0, fmt.Errorf("write the work tree: path %q is not a clean repository path", p)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("write the work tree: %w", err)
	}
	sw := &sparseWriter{ctx: ctx, root: dir, sel: sel}
	type file struct {
		path string
		kind repofs.Kind
	}
	var files []file
	var names []string
	err := tree.Walk(func(p string, k repofs.Kind) error {
		if sw.visited++; sw.visited%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		switch k {
		case repofs.Folder:
			if !sel.descends(p) {
				return fs.SkipDir
			}
			if sel.Dirs {
				return sw.mkdirs(p)
			}
		case repofs.Submodule:
			if sel.selected(p) {
				return sw.mkdirs(p)
			}
		default:
			if sel.selected(p) || (sel.Links && k == repofs.Symlink) {
				files = append(files, file{p, k})
				names = append(names, p)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("write the work tree into %s: %w", dir, err)
	}
	if err := tree.Load(names); err != nil {
		return 0, fmt.Errorf("write the work tree into %s: %w", dir, err)
	}
	for _, f := range files {
		var data []byte
		mode := filemode.Regular
		switch f.kind {
		case repofs.Symlink:
			mode = filemode.Symlink
			target, err := tree.ReadLink(f.path)
			if err != nil {
				return sw.written, fmt.Errorf("write the work tree into %s: %w", dir, err)
			}
			data = []byte(target)
		default:
			if f.kind == repofs.Executable {
				mode = filemode.Executable
			}
			if data, err = tree.ReadFile(f.path); err != nil {
				return sw.written, fmt.Errorf("write the work tree into %s: %w", dir, err)
			}
		}
		if err := sw.put(lsEntry{mode: mode, path: f.path, size: int64(len(data))}, bytes.NewReader(data)); err != nil {
			return sw.written, fmt.Errorf("write the work tree into %s: %s: %w", dir, f.path, err)
		}
	}
	return sw.written, nil
}
