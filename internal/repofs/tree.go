package repofs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is what a tree entry is.
type Kind uint8

const (
	File       Kind = iota // a regular file
	Executable             // a regular file with the executable bit
	Symlink                // a symbolic link; its content is the target
	Folder                 // a folder (git's tree)
	Submodule              // a commit of another repository: an empty folder here
)

// Entry is one entry of a commit's tree, as the tree's builder lists them.
type Entry struct {
	Path string // slash-separated repository path
	Kind Kind
	ID   string // the blob's object ID, for files and symlinks
	Data []byte // the content when already read; nil: Tree's read is asked on first use
}

// MaxLinkTarget is the longest symlink target a Tree reads, as git's own checkout allows.
const MaxLinkTarget = 4096

// MaxTreeBytes bounds the contents a Tree holds in memory, given and read: a commit is untrusted, and a few
// thousand files of 16 MiB of spaces make a small pack. Past it, reads fail with ErrTooBig (a work tree is
// then written from the mirror, streamed).
const MaxTreeBytes = 256 << 20

// ErrTooBig says contents were not held in memory because of their size.
var ErrTooBig = errors.New("too big to hold in memory")

// Tree is a commit's files held in memory: listed up front, each file's content read on first use
// (through read, by object ID) unless the builder gave it. It is safe for concurrent use and never
// changes.
type Tree struct {
	nodes map[string]*node // by repository path; "." is the top
	read  BlobReader
	mod   time.Time

	held atomic.Int64 // bytes of content held, against max
	max  int64        // MaxTreeBytes; tests lower it
}

// BlobReader reads the contents of blobs by object ID, several in one go; the answer holds every ID
// asked for.
type BlobReader func(ids []string) (map[string][]byte, error)

type node struct {
	name     string
	kind     Kind
	id       string
	children []*node // folders: sorted by name

	mu     sync.Mutex
	loaded bool
	data   []byte
	err    error
}

// NewTree builds a Tree from entries, in any order (folders are made for paths whose folders are not
// listed). read gives a blob's content by ID; modTime is what Stat reports for every entry (the commit's
// time). It fails on a path that is not a clean repository path or is listed twice.
func NewTree(entries []Entry, read BlobReader, modTime time.Time) (*Tree, error) {
	t := &Tree{nodes: map[string]*node{".": {name: ".", kind: Folder, loaded: true}}, read: read, mod: modTime, max: MaxTreeBytes}
	for _, e := range entries {
		if !fs.ValidPath(e.Path) || e.Path == "." {
			return nil, fmt.Errorf("tree entry %q: not a clean repository path", e.Path)
		}
		if n, ok := t.nodes[e.Path]; ok {
			if n.kind == Folder && e.Kind == Folder {
				continue // made for an entry under it
			}
			return nil, fmt.Errorf("tree entry %q: listed twice", e.Path)
		}
		parent, err := t.folder(path.Dir(e.Path))
		if err != nil {
			return nil, fmt.Errorf("tree entry %q: %w", e.Path, err)
		}
		n := &node{name: path.Base(e.Path), kind: e.Kind, id: e.ID}
		if e.Data != nil && t.held.Add(int64(len(e.Data))) > t.max {
			return nil, fmt.Errorf("tree entry %q: the contents given hold more than %d bytes: %w", e.Path, MaxTreeBytes, ErrTooBig)
		}
		if e.Data != nil || e.Kind == Folder || e.Kind == Submodule {
			n.data, n.loaded = e.Data, true
		}
		t.nodes[e.Path] = n
		parent.children = append(parent.children, n)
	}
	for _, n := range t.nodes {
		sort.Slice(n.children, func(i, j int) bool { return n.children[i].name < n.children[j].name })
	}
	return t, nil
}

// folder returns the folder node at p, making it (and its parents) when missing.
func (t *Tree) folder(p string) (*node, error) {
	if n, ok := t.nodes[p]; ok {
		if n.kind != Folder {
			return nil, fmt.Errorf("%s is not a folder", p)
		}
		return n, nil
	}
	parent, err := t.folder(path.Dir(p))
	if err != nil {
		return nil, err
	}
	n := &node{name: path.Base(p), kind: Folder, loaded: true}
	t.nodes[p] = n
	parent.children = append(parent.children, n)
	return n, nil
}

// content is a file's or a symlink's bytes, read once.
func (t *Tree) content(n *node) ([]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.loaded {
		var got map[string][]byte
		if t.read == nil {
			n.err = errors.New("no reader for the tree's contents")
		} else if got, n.err = t.read([]string{n.id}); n.err == nil {
			n.data, n.err = got[n.id], t.hold(len(got[n.id]))
		}
		if n.err != nil {
			n.data = nil
		}
		n.loaded = !errors.Is(n.err, ErrTooBig) // too big now; another read may find room once others are done
	}
	return n.data, n.err
}

// hold counts n more bytes held, refusing them past MaxTreeBytes.
func (t *Tree) hold(n int) error {
	if t.held.Add(int64(n)) > t.max {
		t.held.Add(-int64(n))
		return fmt.Errorf("the files read from the commit hold more than %d bytes: %w", t.max, ErrTooBig)
	}
	return nil
}

// Load reads, in one call of the tree's reader, the contents of the files and symlinks at names
// (repository paths without symlinks in their folders, as Walk gives them) not read yet. Folders and
// names not in the tree are passed over.
func (t *Tree) Load(names []string) error {
	var todo []*node
	var ids []string
	seen := map[string]bool{}
	for _, name := range names {
		n, ok := t.lookup(name)
		if !ok || n.kind == Folder || n.kind == Submodule {
			continue
		}
		n.mu.Lock()
		loaded := n.loaded
		n.mu.Unlock()
		if loaded {
			continue
		}
		todo = append(todo, n)
		if !seen[n.id] {
			seen[n.id] = true
			ids = append(ids, n.id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if t.read == nil {
		return errors.New("no reader for the tree's contents")
	}
	got, err := t.read(ids)
	if err != nil {
		return err
	}
	for _, n := range todo {
		n.mu.Lock()
		if !n.loaded {
			if err = t.hold(len(got[n.id])); err == nil {
				n.data, n.loaded = got[n.id], true
			}
		}
		n.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// lookup finds the entry at p, whose folders hold no symlinks.
func (t *Tree) lookup(p string) (*node, bool) {
	n, ok := t.nodes[p]
	return n, ok
}

func (t *Tree) lstatReal(p string) (fs.FileInfo, error) {
	n, ok := t.lookup(p)
	if !ok {
		return nil, &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
	}
	return t.info(n), nil
}

func (t *Tree) readLinkReal(p string) (string, error) {
	n, ok := t.lookup(p)
	if !ok {
		return "", &fs.PathError{Op: "readlink", Path: p, Err: fs.ErrNotExist}
	}
	if n.kind != Symlink {
		return "", &fs.PathError{Op: "readlink", Path: p, Err: fs.ErrInvalid}
	}
	data, err := t.content(n)
	if err == nil && len(data) > MaxLinkTarget {
		err = fmt.Errorf("symlink target of %d bytes", len(data))
	}
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: p, Err: err}
	}
	return string(data), nil
}

// find resolves name (following its last element when follow) to its node.
func (t *Tree) find(op, name string, follow bool) (*node, string, error) {
	if !fs.ValidPath(name) {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	real, err := resolve(t.lstatReal, t.readLinkReal, name, follow)
	if err != nil {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: unwrapPath(err)}
	}
	n, ok := t.lookup(real)
	if !ok {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, real, nil
}

// Open opens name, following symlinks inside the repository.
func (t *Tree) Open(name string) (fs.File, error) {
	n, _, err := t.find("open", name, true)
	if err != nil {
		return nil, err
	}
	if n.kind == Folder || n.kind == Submodule {
		return &dirFile{t: t, n: n}, nil
	}
	data, err := t.content(n)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &openFile{info: t.info(n), r: bytes.NewReader(data)}, nil
}

// ReadFile reads name, following symlinks inside the repository.
func (t *Tree) ReadFile(name string) ([]byte, error) {
	n, _, err := t.find("read", name, true)
	if err != nil {
		return nil, err
	}
	if n.kind == Folder || n.kind == Submodule {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	data, err := t.content(n)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return bytes.Clone(data), nil
}

// ReadDir lists the folder name (symlinks followed), sorted by name; symlinks in it are listed as such.
func (t *Tree) ReadDir(name string) ([]fs.DirEntry, error) {
	n, _, err := t.find("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if n.kind != Folder && n.kind != Submodule {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	out := make([]fs.DirEntry, len(n.children))
	for i, c := range n.children {
		out[i] = fs.FileInfoToDirEntry(t.info(c))
	}
	return out, nil
}

// Stat describes name, following symlinks inside the repository.
func (t *Tree) Stat(name string) (fs.FileInfo, error) {
	n, _, err := t.find("stat", name, true)
	if err != nil {
		return nil, err
	}
	return t.info(n), nil
}

// Lstat describes name without following it when it is a symlink.
func (t *Tree) Lstat(name string) (fs.FileInfo, error) {
	n, _, err := t.find("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return t.info(n), nil
}

// ReadLink returns the target of the symlink name.
func (t *Tree) ReadLink(name string) (string, error) {
	_, real, err := t.find("readlink", name, false)
	if err != nil {
		return "", err
	}
	target, err := t.readLinkReal(real)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: unwrapPath(err)}
	}
	return target, nil
}

// Walk calls each for every entry under the top, folders before what they hold, in name order,
// without following symlinks; each returning fs.SkipDir skips a folder's content.
func (t *Tree) Walk(each func(p string, k Kind) error) error {
	var walk func(prefix string, n *node) error
	walk = func(prefix string, n *node) error {
		for _, c := range n.children {
			p := c.name
			if prefix != "" {
				p = prefix + "/" + c.name
			}
			err := each(p, c.kind)
			if errors.Is(err, fs.SkipDir) {
				continue
			}
			if err != nil {
				return err
			}
			if c.kind == Folder {
				if err := walk(p, c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk("", t.nodes["."])
}

// Len is how many entries the tree holds, folders included.
func (t *Tree) Len() int { return len(t.nodes) - 1 }

func (t *Tree) info(n *node) fs.FileInfo { return &fileInfo{t: t, n: n} }

type fileInfo struct {
	t *Tree
	n *node
}

func (fi *fileInfo) Name() string       { return fi.n.name }
func (fi *fileInfo) ModTime() time.Time { return fi.t.mod }
func (fi *fileInfo) IsDir() bool        { return fi.n.kind == Folder || fi.n.kind == Submodule }
func (fi *fileInfo) Sys() any           { return nil }

// Size is the content's length; it reads the content when not read yet (0 when that fails).
func (fi *fileInfo) Size() int64 {
	if fi.IsDir() {
		return 0
	}
	data, _ := fi.t.content(fi.n)
	return int64(len(data))
}

func (fi *fileInfo) Mode() fs.FileMode {
	switch fi.n.kind {
	case Folder, Submodule:
		return fs.ModeDir | 0o755
	case Symlink:
		return fs.ModeSymlink | 0o777
	case Executable:
		return 0o755
	}
	return 0o644
}

type openFile struct {
	info fs.FileInfo
	r    *bytes.Reader
}

func (f *openFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *openFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *openFile) Close() error               { return nil }

// Seek and ReadAt let fstest.TestFS check the contents more ways; the file is in memory.
func (f *openFile) Seek(off int64, whence int) (int64, error) { return f.r.Seek(off, whence) }
func (f *openFile) ReadAt(p []byte, off int64) (int, error)   { return f.r.ReadAt(p, off) }

type dirFile struct {
	t   *Tree
	n   *node
	off int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.t.info(d.n), nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.n.name, Err: errors.New("is a directory")}
}
func (d *dirFile) Close() error { return nil }

// ReadDir is fs.ReadDirFile's: n <= 0 lists the rest at once.
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.n.children[d.off:]
	if n > 0 && len(rest) == 0 {
		return nil, io.EOF
	}
	if n > 0 && n < len(rest) {
		rest = rest[:n]
	}
	d.off += len(rest)
	out := make([]fs.DirEntry, len(rest))
	for i, c := range rest {
		out[i] = fs.FileInfoToDirEntry(d.t.info(c))
	}
	return out, nil
}

var _ FS = (*Tree)(nil)

// String names the tree for logs: its size.
func (t *Tree) String() string {
	return fmt.Sprintf("tree of %d entries", t.Len())
}
