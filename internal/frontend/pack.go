package frontend

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// epoch is the modification time of every entry, so a rebuild of the same files packs to the same bytes.
var epoch = time.Unix(0, 0).UTC()

// Pack writes the tree under dir to dst as a .tar.gz whose bytes depend only on the files' paths and contents:
// entries sorted by path and relative to dir (index.html at the top, no "./" or "dist/" prefix), mtimes at the
// Unix epoch, uid/gid 0 with no names, modes 0755 for directories and 0644 for files, and a gzip header with no
// name or time. Only directories and regular files are allowed.
func Pack(dir, dst string) (Bundle, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return fmt.Errorf("%s: only files and directories can be bundled, not %s", p, d.Type())
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			rel += "/"
		}
		paths = append(paths, rel)
		return nil
	})
	if err != nil {
		return Bundle{}, fmt.Errorf("pack %s: %w", dir, err)
	}
	slices.Sort(paths) // by entry name, so a directory's entry comes right before its contents

	tmp := dst + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return Bundle{}, fmt.Errorf("pack %s: %w", dir, err)
	}
	defer os.Remove(tmp) // a no-op once renamed
	h := sha256.New()
	n := &countWriter{}
	if err := writeArchive(io.MultiWriter(f, h, n), dir, paths); err != nil {
		f.Close()
		return Bundle{}, fmt.Errorf("pack %s: %w", dir, err)
	}
	if err := f.Close(); err != nil {
		return Bundle{}, fmt.Errorf("pack %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return Bundle{}, fmt.Errorf("pack %s: %w", dir, err)
	}
	return Bundle{Path: dst, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n.n}, nil
}

func writeArchive(w io.Writer, dir string, paths []string) error {
	bw := bufio.NewWriter(w)
	zw, err := gzip.NewWriterLevel(bw, gzip.BestCompression)
	if err != nil {
		return err
	}
	// The zero gzip.Header writes no name and mtime 0.
	tw := tar.NewWriter(zw)
	for _, rel := range paths {
		if err := addEntry(tw, dir, rel); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// addEntry adds the file or directory (name ending in "/") rel under dir.
func addEntry(tw *tar.Writer, dir, rel string) error {
	p := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(rel, "/")))
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: rel, ModTime: epoch, Format: tar.FormatPAX}
	if fi.IsDir() {
		hdr.Typeflag, hdr.Mode = tar.TypeDir, 0o755
		return tw.WriteHeader(hdr)
	}
	hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, 0o644, fi.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(tw, f, fi.Size()); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
