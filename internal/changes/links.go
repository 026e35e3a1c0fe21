package changes

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Link is a symlink in a directory whose target is inside the repository.
type Link struct{ Path, Target string } // both repository-relative, slash-separated

// maxLinkHops is how many symlinks one link may chain through, Linux's MAXSYMLINKS.
const maxLinkHops = 40

// Links lists the symbolic links directly inside dir (repository-relative, slash-separated), with
// the file or directory each finally points to. Only dir's own entries are looked at, because
// Terraform reads only the files directly in a module's directory; a linked directory (say, a
// module source) is listed too, with Target the directory. Callers treat a change under Target
// as a change of Path.
//
// A link that dangles, loops, chains through more than 40 links or ends outside the repository
// (as the kernel resolves it: symlinked directories on the way and ".." after them are followed
// physically) is left out without an error: no change in a pull request can reach through it.
func Links(repoRoot, dir string) ([]Link, error) {
	dir, err := repoDir(dir)
	if err != nil {
		return nil, fmt.Errorf("links in %s: %w", dir, err)
	}
	absRoot, err := filepath.Abs(repoRoot)
	if err != nil {
		return nil, fmt.Errorf("links in %s: repository root: %w", dir, err)
	}
	// The repository may itself sit behind a symlink (/tmp on macOS); targets are compared with
	// where it really is.
	realRoot, err := filepath.EvalSymlinks(absRoot)
	if err != nil {
		return nil, fmt.Errorf("links in %s: resolving the repository root: %w", dir, err)
	}
	abs := filepath.Join(absRoot, filepath.FromSlash(dir))
	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil, fmt.Errorf("listing links in %s: %w", dir, err)
	}
	var out []Link
	for _, e := range entries {
		if e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		target, ok := resolveLink(filepath.Join(abs, e.Name()))
		if !ok {
			continue
		}
		rel, err := filepath.Rel(realRoot, target)
		if err != nil {
			continue
		}
		rel = filepath.ToSlash(rel)
		if rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		out = append(out, Link{Path: path.Join(dir, e.Name()), Target: rel})
	}
	return out, nil // ReadDir sorts by name, so out is sorted by Path
}

// resolveLink follows the symlink at the absolute path link to what it finally names, as
// filepath.EvalSymlinks does but counting hops, and reports false for a link that dangles,
// loops or chains through more than maxLinkHops links. The result has no symlinks in it.
func resolveLink(link string) (string, bool) {
	cur := link
	for range maxLinkHops {
		target, err := os.Readlink(cur)
		if err != nil {
			return "", false
		}
		next := target
		if !filepath.IsAbs(target) {
			// Not filepath.Join: it would clean "dir/../x" lexically, while the kernel goes up
			// from wherever dir really is.
			next = filepath.Dir(cur) + string(filepath.Separator) + target
		}
		// Resolve every directory on the way (symlinks and ".." among them) physically; only
		// the last element may be a link still to follow.
		i := strings.LastIndexByte(next, filepath.Separator)
		parent, last := next[:i+1], next[i+1:]
		if last == "" || last == "." || last == ".." {
			resolved, err := filepath.EvalSymlinks(next)
			return resolved, err == nil
		}
		realParent, err := filepath.EvalSymlinks(parent)
		if err != nil {
			return "", false
		}
		cur = filepath.Join(realParent, last)
		fi, err := os.Lstat(cur)
		if err != nil {
			return "", false // dangling
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return cur, true
		}
	}
	return "", false
}
