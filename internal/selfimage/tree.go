package selfimage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gitops-runner/runner/internal/image"
)

// tree is the files of one layer, by clean relative path ("usr/bin/git").
type tree struct {
	files map[string]*file
}

type file struct {
	hdr  tar.Header
	data []byte
}

func newTree() *tree { return &tree{files: map[string]*file{}} }

// usrMerged are the top-level directories that are links into /usr in the image (merged /usr, as Debian
// since bookworm installs it): a package's ./bin/sh lands in usr/bin/sh.
var usrMerged = []string{"bin", "sbin", "lib", "lib32", "lib64", "libx32"}

// clean turns a tar member name into the image path it lands at, "" for the root.
func clean(name string) string {
	p := strings.TrimPrefix(path.Clean("/"+name), "/")
	for _, d := range usrMerged {
		if p == d || strings.HasPrefix(p, d+"/") {
			return "usr/" + p
		}
	}
	return p
}

// usrLinks adds the top-level links of merged /usr (bin -> usr/bin, ...), which put would map into /usr.
func (t *tree) usrLinks() {
	for _, d := range usrMerged {
		if d == "lib32" || d == "libx32" {
			continue
		}
		t.files[d] = &file{hdr: tar.Header{Name: d, Typeflag: tar.TypeSymlink, Linkname: "usr/" + d, Mode: 0o777, Format: tar.FormatPAX}}
		t.dir("usr/"+d, 0o755, 0)
	}
}

// put adds or replaces a member. Only regular files, directories and symbolic links are kept; owners
// become root unless uid says otherwise, and set-id bits are dropped: nothing in the image needs them.
func (t *tree) put(h tar.Header, data []byte) {
	name := clean(h.Name)
	if name == "" {
		return
	}
	h.Name = name
	h.Mode &^= 0o6000
	h.Uname, h.Gname = "", ""
	h.PAXRecords, h.Xattrs = nil, nil
	h.Format = tar.FormatPAX
	if h.Typeflag == tar.TypeDir {
		if old, ok := t.files[name]; ok && old.hdr.Typeflag == tar.TypeDir {
			return // the first package to create a directory sets its mode
		}
	}
	t.files[name] = &file{hdr: h, data: data}
}

func (t *tree) dir(name string, mode int64, uid int) {
	t.put(tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: mode, Uid: uid, Gid: uid}, nil)
}

func (t *tree) write(name string, mode int64, data []byte) {
	t.put(tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(data))}, data)
}

func (t *tree) symlink(name, target string) {
	t.put(tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}, nil)
}

// layer writes the tree as a gzip layer: members sorted by path, parents before children (created when
// missing), every time set to mtime. The same files and time give the same digest.
func (t *tree) layer(mtime time.Time) (v1.Layer, error) {
	mtime = mtime.UTC().Truncate(time.Second)
	for name := range t.files {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if _, ok := t.files[d]; !ok {
				t.dir(d, 0o755, 0)
			}
		}
	}
	names := make([]string, 0, len(t.files))
	for n := range t.files {
		names = append(names, n)
	}
	sort.Strings(names)
	var tarBuf, gzBuf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&gzBuf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(io.MultiWriter(&tarBuf, gz))
	for _, n := range names {
		f := t.files[n]
		h := f.hdr
		h.ModTime, h.AccessTime, h.ChangeTime = mtime, time.Time{}, time.Time{}
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(f.data))
		}
		if err := tw.WriteHeader(&h); err != nil {
			return nil, fmt.Errorf("layer member %s: %w", n, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return image.MemLayer(tarBuf.Bytes(), gzBuf.Bytes()), nil
}

// readTar adds a tar stream's members that keep accepts (hard links become copies of their target: a
// link may sort before the file it names).
func (t *tree) readTar(tr *tar.Reader, keep func(name string) bool) error {
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := clean(h.Name)
		if name == "" || !keep(name) {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir, tar.TypeSymlink:
			t.put(*h, nil)
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
			t.put(*h, data)
		case tar.TypeLink:
			target, ok := t.files[clean(h.Linkname)]
			if !ok || target.hdr.Typeflag != tar.TypeReg {
				return fmt.Errorf("%s: hard link to %s, which is not a file before it", h.Name, h.Linkname)
			}
			c := *h
			c.Typeflag, c.Linkname, c.Size = tar.TypeReg, "", int64(len(target.data))
			t.put(c, target.data)
		}
	}
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return fmt.Sprintf("%x", s)
}
