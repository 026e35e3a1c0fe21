package bigrepo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Copy makes dst a copy of the bare repository src that shares src's packs (hard links, or copies across
// file systems). Git never writes into an existing pack, so pushing to the copy leaves src as it was.
func Copy(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case rel == markerFile || !d.Type().IsRegular():
			return nil
		case strings.HasPrefix(rel, filepath.Join("objects", "pack")+string(filepath.Separator)):
			if os.Link(p, to) == nil {
				return nil
			}
		}
		return copyFile(p, to)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// AddCommit commits on main of the bare repository repo a new version of environments/dev/variables.tf
// (5 KB of fresh text, as the history's changes) and returns the commit. The same seq gives the same
// content, so a benchmark's pushes are the same from run to run.
func AddCommit(ctx context.Context, repo string, seq int) (string, error) {
	h := &history{r: rand.New(rand.NewPCG(Defaults.Seed, uint64(seq)))}
	f := file{path: "environments/dev/variables.tf", kind: kindHCL,
		header: "variable \"region\" {\n  type    = string\n  default = \"eu-west-1\"\n}\n\n"}
	text := h.text(f, 5000)
	when := int64(startTime + 4*365*24*3600 + seq*60)
	var stream bytes.Buffer
	fmt.Fprintf(&stream, "commit refs/heads/main\nauthor %s %d +0000\ncommitter %s %d +0000\n", people[0], when, people[0], when)
	msg := fmt.Sprintf("dev: benchmark push %d\n", seq)
	fmt.Fprintf(&stream, "data %d\n%s\nfrom refs/heads/main^0\nM 100644 inline %s\ndata %d\n%s\n\n", len(msg), msg, f.path, len(text), text)
	if _, err := git(ctx, &stream, "-C", repo, "fast-import", "--quiet", "--date-format=raw"); err != nil {
		return "", err
	}
	return git(ctx, nil, "-C", repo, "rev-parse", "--verify", "refs/heads/main^{commit}")
}
