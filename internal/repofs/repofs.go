// Package repofs is how the runner reads a repository's configuration and Terraform files without
// writing them: a read-only file system rooted at the repository's top. A checkout on disk is one
// (Dir), and so is a commit read from a git mirror (Tree), which lets a run learn what it needs before
// it writes anything.
//
// Symlinks are part of a repository, so the file system tells them apart (fs.ReadLinkFS). Resolve
// follows them by hand, component by component, the way the kernel does, and refuses to leave the
// repository: an absolute target, or ".." above the top.
package repofs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// FS is a repository's files, rooted at its top. Names are slash-separated and unrooted, as io/fs
// wants them ("." is the top). Open, Stat, ReadFile and ReadDir follow symlinks; Lstat and ReadLink
// do not.
type FS interface {
	fs.ReadDirFS
	fs.ReadFileFS
	fs.StatFS
	fs.ReadLinkFS
}

// Dir is the checkout at dir as an FS. Its Open follows symlinks wherever they lead, as the kernel does:
// use Resolve first where a link must stay inside the repository.
func Dir(dir string) FS {
	return os.DirFS(dir).(FS)
}

// MaxLinkHops is how many symlinks one name may chain through: Linux's MAXSYMLINKS.
const MaxLinkHops = 40

// ErrOutside says a name leads outside the repository through a symlink (an absolute target, or ".."
// above the top).
var ErrOutside = errors.New("leads outside the repository")

// ErrLinkLoop says a name chains through more than MaxLinkHops symlinks.
var ErrLinkLoop = errors.New("too many levels of symbolic links")

// Resolve follows every symlink in name, the last element included, and returns the repository path it
// finally names, which has no symlink in it. ".." after a symlinked folder goes up from where the folder
// really is, as in the kernel. The error wraps fs.ErrNotExist for a name (or a link) that dangles,
// ErrOutside for one that leaves the repository, and ErrLinkLoop.
func Resolve(fsys FS, name string) (string, error) {
	return resolve(fsys.Lstat, fsys.ReadLink, name, true)
}

// ResolveParent is Resolve of name's folder, joined with name's last element unresolved: the name
// Lstat and ReadLink see.
func ResolveParent(fsys FS, name string) (string, error) {
	return resolve(fsys.Lstat, fsys.ReadLink, name, false)
}

// resolve is Resolve (followLast) or ResolveParent over lstat and readlink, which are only given
// names without symlinks in them.
func resolve(lstat func(string) (fs.FileInfo, error), readlink func(string) (string, error), name string, followLast bool) (string, error) {
	if path.IsAbs(name) {
		return "", &fs.PathError{Op: "resolve", Path: name, Err: ErrOutside}
	}
	hops := 0
	var done []string // the resolved folders, from the top
	todo := splitPath(name)
	for len(todo) > 0 {
		elem := todo[0]
		todo = todo[1:]
		switch elem {
		case ".":
			continue
		case "..":
			if len(done) == 0 {
				return "", &fs.PathError{Op: "resolve", Path: name, Err: ErrOutside}
			}
			done = done[:len(done)-1]
			continue
		}
		cur := path.Join(append(append([]string(nil), done...), elem)...)
		if len(todo) == 0 && !followLast {
			done = append(done, elem)
			break
		}
		fi, err := lstat(cur)
		if err != nil {
			return "", &fs.PathError{Op: "resolve", Path: name, Err: unwrapPath(err)}
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if len(todo) > 0 && !fi.IsDir() {
				return "", &fs.PathError{Op: "resolve", Path: name, Err: fmt.Errorf("%s is not a directory: %w", cur, fs.ErrNotExist)}
			}
			done = append(done, elem)
			continue
		}
		if hops++; hops > MaxLinkHops {
			return "", &fs.PathError{Op: "resolve", Path: name, Err: ErrLinkLoop}
		}
		target, err := readlink(cur)
		if err != nil {
			return "", &fs.PathError{Op: "resolve", Path: name, Err: unwrapPath(err)}
		}
		if target == "" || path.IsAbs(target) || strings.HasPrefix(target, `\`) {
			return "", &fs.PathError{Op: "resolve", Path: name, Err: ErrOutside}
		}
		// The link's target replaces it, relative to the folder it sits in (done).
		todo = append(splitPath(target), todo...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

func splitPath(p string) []string {
	var out []string
	for _, e := range strings.Split(p, "/") {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// IsDir reports whether name, its symlinks followed inside the repository, is a folder.
func IsDir(fsys FS, name string) bool {
	real, err := Resolve(fsys, name)
	if err != nil {
		return false
	}
	fi, err := fsys.Stat(real)
	return err == nil && fi.IsDir()
}
