// Package plancheck checks a Terraform plan (`terraform show -json`) against Rego policies, conftest-style, in
// process with OPA; policies from a pull request are hostile, so they run without network, files or environment.
package plancheck

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Bounds on the policies one check reads and compiles.
const (
	MaxFiles     = 500       // policy files
	MaxFileSize  = 1 << 20   // bytes in one policy file
	MaxTotalSize = 8 << 20   // bytes in all policy files
	maxWalked    = 20 * 1000 // directory entries Load visits, policy or not
)

// Module is one Rego source file.
type Module struct {
	Path   string // as shown to users, e.g. "policies/s3.rego": relative to the repository, with slashes
	Source string
}

// Load reads every *.rego file (recursively, skipping *_test.rego) under the given dirs, absolute paths inside
// base, and returns them sorted by Path, which is relative to base. Symbolic links are not followed (a link
// to a policy file or directory is skipped), nothing outside base is read, and the reading is bounded:
// MaxFiles files, MaxFileSize bytes each, MaxTotalSize in all. A dir that does not exist is an error
// (errors.Is fs.ErrNotExist).
func Load(base string, dirs ...string) ([]Module, error) {
	root, err := os.OpenRoot(base)
	if err != nil {
		return nil, fmt.Errorf("loading policies: %w", err)
	}
	defer root.Close()
	fsys := root.FS()
	l := loader{root: root, seen: map[string]bool{}}
	for _, dir := range dirs {
		rel, err := relativeDir(base, dir)
		if err != nil {
			return nil, fmt.Errorf("loading policies from %s: %w", dir, err)
		}
		if err := l.walk(fsys, rel); err != nil {
			return nil, fmt.Errorf("loading policies from %s: %w", displayDir(rel), err)
		}
	}
	sort.Slice(l.modules, func(i, j int) bool { return l.modules[i].Path < l.modules[j].Path })
	return l.modules, nil
}

type loader struct {
	root    *os.Root
	modules []Module
	seen    map[string]bool // Paths already read (dirs may overlap)
	walked  int
	total   int
}

func (l *loader) walk(fsys fs.FS, dir string) error {
	info, err := l.root.Lstat(filepath.FromSlash(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no such directory (%w)", fs.ErrNotExist)
	} else if err != nil {
		return err
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return errors.New("is a symbolic link, which is not followed")
	}
	if !info.IsDir() {
		return errors.New("not a directory")
	}
	return fs.WalkDir(fsys, dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		l.walked++
		if l.walked > maxWalked {
			return fmt.Errorf("more than %d files and directories", maxWalked)
		}
		// WalkDir never descends into a link; a link is skipped whatever it points at.
		if d.IsDir() || !d.Type().IsRegular() || !isPolicyFile(name) || l.seen[name] {
			return nil
		}
		return l.read(name)
	})
}

func (l *loader) read(name string) error {
	if len(l.modules) == MaxFiles {
		return fmt.Errorf("more than %d policy files", MaxFiles)
	}
	f, err := l.root.Open(filepath.FromSlash(name))
	if err != nil {
		return err
	}
	defer f.Close()
	// Stat the open file: what was checked is what is read, even if name changed since the walk saw it.
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > MaxFileSize {
		return fmt.Errorf("%s: larger than %d bytes", name, MaxFileSize)
	}
	l.total += len(data)
	if l.total > MaxTotalSize {
		return fmt.Errorf("policy files larger than %d bytes in all", MaxTotalSize)
	}
	l.seen[name] = true
	l.modules = append(l.modules, Module{Path: name, Source: string(data)})
	return nil
}

// isPolicyFile tells a Rego policy from a Rego test (opa test's convention) and from everything else.
func isPolicyFile(name string) bool {
	return strings.HasSuffix(name, ".rego") && !strings.HasSuffix(name, "_test.rego")
}

// relativeDir returns dir relative to base, with slashes, or an error when dir is not inside base.
func relativeDir(base, dir string) (string, error) {
	if !filepath.IsAbs(dir) {
		return "", errors.New("not an absolute path")
	}
	rel, err := filepath.Rel(base, dir)
	if err != nil {
		return "", err
	}
	rel = filepath.ToSlash(rel)
	if rel == ".." || strings.HasPrefix(rel, "../") || !fs.ValidPath(rel) {
		return "", fmt.Errorf("not inside %s", base)
	}
	return rel, nil
}

func displayDir(rel string) string {
	if rel == "." {
		return "the repository root"
	}
	return path.Clean(rel)
}
