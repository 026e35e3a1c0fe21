package tf

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DataDir is the workspace's Terraform data directory (.terraform, or its own under it when
// environments share a directory).
func (w *Workspace) DataDir() string {
	if d := w.env["TF_DATA_DIR"]; d != "" {
		if filepath.IsAbs(d) {
			return d
		}
		return filepath.Join(w.opts.Dir, d)
	}
	return filepath.Join(w.opts.Dir, ".terraform")
}

// PromoteProviders copies the provider packages that `terraform init` installed into the workspace
// (DataDir/providers/HOST/NAMESPACE/TYPE/VERSION/OS_ARCH) into the shared cache, which sandboxed
// Terraform reads as a filesystem mirror and never writes. Call it right after a successful init of
// reviewed code (a deploy), before any of its providers has run, on a work tree whose checkout
// carried no .terraform of its own: every package in it then came from init's installer, which
// verified it against the registry's signatures and the dependency lock file. Packages already in
// the cache, and links into it, are left alone; a copy is made aside and renamed into place, so a
// concurrent reader never sees half a package. It returns the packages added.
func PromoteProviders(dataDir, cache string) ([]string, error) {
	root := filepath.Join(dataDir, "providers")
	var added []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if depth := len(strings.Split(rel, string(filepath.Separator))); depth < 5 {
			return nil // HOST, NAMESPACE, TYPE or VERSION: go on down
		}
		// HOST/NAMESPACE/TYPE/VERSION/OS_ARCH: a package. Links point into the cache already.
		if !d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		dst := filepath.Join(cache, rel)
		if _, err := os.Lstat(dst); err == nil {
			return fs.SkipDir
		}
		if err := copyPackage(p, dst); err != nil {
			return fmt.Errorf("promote provider %s to the cache: %w", rel, err)
		}
		added = append(added, filepath.ToSlash(rel))
		return fs.SkipDir
	})
	return added, err
}

// copyPackage copies a provider package (regular files and directories only) to dst via a
// temporary sibling, readable by all and writable by the runner only.
func copyPackage(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".promote-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		out := filepath.Join(tmp, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(out, 0o755)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			mode := fs.FileMode(0o644)
			if info.Mode().Perm()&0o111 != 0 {
				mode = 0o755 // the provider binary: every sandbox user runs it
			}
			return copyRegular(p, out, mode)
		}
		return fmt.Errorf("%s is not a regular file", rel) // a package holds no links or devices
	})
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil && !errors.Is(err, fs.ErrExist) {
		if _, serr := os.Lstat(dst); serr == nil {
			return nil // another run promoted it first
		}
		return err
	}
	return nil
}

func copyRegular(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
