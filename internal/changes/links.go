package changes

import (
	"fmt"
	"io/fs"
	"path"

	"github.com/gitops-runner/runner/internal/repofs"
)

// Link is a symlink in a directory whose target is inside the repository.
type Link struct{ Path, Target string } // both repository-relative, slash-separated

// Links lists the symbolic links directly inside dir (repository-relative, slash-separated), with
// the file or directory each finally points to. Only dir's own entries are looked at, because
// Terraform reads only the files directly in a module's directory; a linked directory (say, a
// module source) is listed too, with Target the directory. Callers treat a change under Target
// as a change of Path.
//
// A link that dangles, loops, chains through more than repofs.MaxLinkHops links or ends outside
// the repository is left out without an error: no change in a pull request can reach through it.
// Links are resolved by repofs.Resolve, as the kernel does (symlinked directories on the way and
// ".." after them are followed physically), but against the repository alone: a link with an
// absolute target is always outside, even one naming the checkout's own place on disk, so that a
// checkout and the same commit read from the mirror give the same answer.
func Links(fsys repofs.FS, dir string) ([]Link, error) {
	dir, err := repoDir(dir)
	if err != nil {
		return nil, fmt.Errorf("links in %s: %w", dir, err)
	}
	fsys = within(fsys)
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing links in %s: %w", dir, err)
	}
	var out []Link
	for _, e := range entries {
		if e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		p := path.Join(dir, e.Name())
		target, err := repofs.Resolve(fsys, p)
		if err != nil {
			continue // dangling, looping, outside; or unreadable, which no change can reach through either
		}
		out = append(out, Link{Path: p, Target: target})
	}
	return out, nil // ReadDir sorts by name, so out is sorted by Path
}
