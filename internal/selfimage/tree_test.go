package selfimage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

func TestCleanMapsIntoMergedUsr(t *testing.T) {
	for in, want := range map[string]string{
		"./bin/sh": "usr/bin/sh", "./lib/x86_64-linux-gnu/libc.so.6": "usr/lib/x86_64-linux-gnu/libc.so.6",
		"./lib64/ld-linux-x86-64.so.2": "usr/lib64/ld-linux-x86-64.so.2", "./usr/bin/git": "usr/bin/git", "./": "",
		"../../etc/passwd": "etc/passwd", "./library/x": "library/x", "sbin": "usr/sbin",
	} {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKeepPathLeavesDocumentationOut(t *testing.T) {
	for name, want := range map[string]bool{
		"usr/share/doc/git": true, "usr/share/doc/git/copyright": true, "usr/share/doc/git/changelog.gz": false,
		"usr/share/man/man1/git.1.gz": false, "usr/share/locale/de/LC_MESSAGES/git.mo": false, "usr/bin/git": true,
		"usr/share/ca-certificates/mozilla/x.crt": true,
	} {
		if got := keepPath(name); got != want {
			t.Errorf("keepPath(%q) = %v, want %v", name, got, want)
		}
	}
}

// A layer's diff ID is the digest of its tar, its digest that of the gzip; members come sorted with their
// parents, set-id bits dropped, sticky kept, merged-/usr links at the top, the same bytes every time.
func TestLayerIsAValidReproducibleLayer(t *testing.T) {
	build := func() ([]byte, []byte, string, string) {
		tr := newTree()
		tr.usrLinks()
		tr.put(tar.Header{Name: "./bin/su", Typeflag: tar.TypeReg, Mode: 0o4755}, []byte("su"))
		tr.dir("tmp", 0o1777, 0)
		tr.write("etc/passwd", 0o644, []byte("root:x:0:0::/root:/usr/sbin/nologin\n"))
		l, err := tr.layer(time.Unix(1700000000, 0))
		if err != nil {
			t.Fatal(err)
		}
		rc, _ := l.Uncompressed()
		raw, _ := io.ReadAll(rc)
		cc, _ := l.Compressed()
		gz, _ := io.ReadAll(cc)
		diff, _ := l.DiffID()
		dig, _ := l.Digest()
		return raw, gz, diff.Hex, dig.Hex
	}
	raw, gz, diff, dig := build()
	if s := sha256.Sum256(raw); hex.EncodeToString(s[:]) != diff {
		t.Errorf("diff ID %s is not the tar's digest", diff)
	}
	if s := sha256.Sum256(gz); hex.EncodeToString(s[:]) != dig {
		t.Errorf("digest %s is not the gzip's", dig)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, raw) {
		t.Error("the compressed form is not the tar")
	}
	var names []string
	modes := map[string]int64{}
	links := map[string]string{}
	r := tar.NewReader(bytes.NewReader(raw))
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		modes[h.Name], links[h.Name] = h.Mode, h.Linkname
	}
	want := []string{"bin", "etc/", "etc/passwd", "lib", "lib64", "sbin", "tmp/", "usr/", "usr/bin/", "usr/bin/su", "usr/lib/", "usr/lib64/", "usr/sbin/"}
	if len(names) != len(want) {
		t.Fatalf("members %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("members %q, want %q", names, want)
		}
	}
	if links["bin"] != "usr/bin" || links["lib64"] != "usr/lib64" {
		t.Errorf("merged-/usr links: %v", links)
	}
	if modes["usr/bin/su"] != 0o755 || modes["tmp/"] != 0o1777 {
		t.Errorf("modes: su %o, tmp %o", modes["usr/bin/su"], modes["tmp/"])
	}
	if raw2, _, _, dig2 := build(); dig2 != dig || !bytes.Equal(raw2, raw) {
		t.Error("the same tree built another layer")
	}
}
