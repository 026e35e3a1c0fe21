package frontend_test

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/frontend"
)

// writeTree writes files (slash paths) under dir with the given mtime and file mode.
func writeTree(t *testing.T, dir string, files map[string]string, mtime time.Time, mode os.FileMode) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

type entry struct {
	name string
	mode int64
	body string
}

// readBundle lists a bundle's entries and checks the fields that must not vary.
func readBundle(t *testing.T, path string) []entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("gzip header has name %q, mtime %v; want neither", zr.Name, zr.ModTime)
	}
	tr := tar.NewReader(zr)
	var out []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(time.Unix(0, 0)) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mtime %v uid %d gid %d uname %q gname %q; want all zero", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		body, _ := io.ReadAll(tr)
		out = append(out, entry{h.Name, h.Mode, string(body)})
	}
}

func TestPackIsDeterministic(t *testing.T) {
	files := map[string]string{
		"index.html":       "<html>app</html>",
		"assets/app.js":    "console.log(1)",
		"assets/app.css":   "body{}",
		"a.txt":            "sorts before the a/ directory",
		"a/nested/deep.js": "x",
	}
	tests := []struct {
		name  string
		mtime time.Time
		mode  os.FileMode
	}{
		{"old files", time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC), 0o644},
		{"new executable files", time.Now(), 0o755},
	}
	var sums []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, files, tt.mtime, tt.mode)
			b, err := frontend.Pack(dir, filepath.Join(t.TempDir(), "bundle.tar.gz"))
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(b.Path)
			if err != nil || fi.Size() != b.Size || len(b.SHA256) != 64 {
				t.Fatalf("bundle %+v does not match the file (%v)", b, err)
			}
			sums = append(sums, b.SHA256)
			want := []entry{
				{"a.txt", 0o644, files["a.txt"]},
				{"a/", 0o755, ""},
				{"a/nested/", 0o755, ""},
				{"a/nested/deep.js", 0o644, "x"},
				{"assets/", 0o755, ""},
				{"assets/app.css", 0o644, "body{}"},
				{"assets/app.js", 0o644, "console.log(1)"},
				{"index.html", 0o644, "<html>app</html>"},
			}
			if got := readBundle(t, b.Path); !equalEntries(got, want) {
				t.Errorf("entries = %v, want %v", got, want)
			}
		})
	}
	if len(sums) == 2 && sums[0] != sums[1] {
		t.Errorf("same files packed to different checksums: %s vs %s", sums[0], sums[1])
	}

	t.Run("different content, different checksum", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"index.html": "<html>other</html>"}, time.Now(), 0o644)
		b, err := frontend.Pack(dir, filepath.Join(t.TempDir(), "bundle.tar.gz"))
		if err != nil {
			t.Fatal(err)
		}
		if len(sums) > 0 && b.SHA256 == sums[0] {
			t.Error("different content packed to the same checksum")
		}
	})
}

func TestPackRejectsSymlinks(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": "x"}, time.Now(), 0o644)
	if err := os.Symlink("index.html", filepath.Join(dir, "link.html")); err != nil {
		t.Fatal(err)
	}
	if _, err := frontend.Pack(dir, filepath.Join(t.TempDir(), "b.tar.gz")); err == nil {
		t.Error("Pack accepted a symlink")
	}
}

func equalEntries(a, b []entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
