package gitrepo

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseLsTree(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // mode path
		err  string
	}{
		{name: "files and folders",
			in:   "040000 tree 1111111111111111111111111111111111111111\tenv\x00100644 blob 2222222222222222222222222222222222222222\tenv/main.tf\x00120000 blob 3333333333333333333333333333333333333333\tlink\x00100755 blob 4444444444444444444444444444444444444444\trun.sh\x00160000 commit 5555555555555555555555555555555555555555\tsub\x00",
			want: []string{"0040000 env", "0100644 env/main.tf", "0120000 link", "0100755 run.sh", "0160000 sub"}},
		{name: "tabs and spaces in names", in: "100644 blob 2222222222222222222222222222222222222222\ta b\tc\x00", want: []string{"0100644 a b\tc"}},
		{name: "empty", in: ""},
		{name: "dot-dot", in: "100644 blob 2222222222222222222222222222222222222222\tenv/../x\x00", err: "invalid name"},
		{name: ".git folder", in: "100644 blob 2222222222222222222222222222222222222222\t.GIT/config\x00", err: "invalid name"},
		{name: "absolute", in: "100644 blob 2222222222222222222222222222222222222222\t/etc/passwd\x00", err: "invalid name"},
		{name: "no tab", in: "100644 blob 2222222222222222222222222222222222222222 x\x00", err: "unexpected line"},
		{name: "bad mode", in: "999999 blob 2222222222222222222222222222222222222222\tx\x00", err: "mode"},
		{name: "truncated", in: "100644 blob 2222222222222222222222222222222222222222\tx", err: "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := parseLsTree(bufio.NewReader(strings.NewReader(tt.in)), func(e lsEntry) error {
				got = append(got, e.mode.String()+" "+e.path)
				return nil
			})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzParseLsTree: whatever git prints (names come from the pushed trees), the parser returns errors,
// never panics, and every path it passes on is made of valid names.
func FuzzParseLsTree(f *testing.F) {
	f.Add("100644 blob 2222222222222222222222222222222222222222\tenv/main.tf\x00")
	f.Add("040000 tree 1111111111111111111111111111111111111111\t..\x00")
	f.Add("120000 blob 3\tlink\x00\x00\t")
	f.Fuzz(func(t *testing.T, in string) {
		_ = parseLsTree(bufio.NewReader(strings.NewReader(in)), func(e lsEntry) error {
			for _, part := range strings.Split(e.path, "/") {
				if !validName(part) {
					t.Fatalf("passed on %q", e.path)
				}
			}
			return nil
		})
	})
}

func TestReadsWithCLI(t *testing.T) {
	small, big := t.TempDir(), t.TempDir()
	for dir, size := range map[string]int64{small: 1 << 20, big: cliFetchFrom} {
		if err := os.MkdirAll(filepath.Join(dir, "objects", "pack"), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, "objects", "pack", "pack-1.pack"))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil { // sparse: no disk used
			t.Fatal(err)
		}
		f.Close()
	}
	tests := []struct {
		name string
		m    *Mirror
		want bool
	}{
		{"go-git transport", &Mirror{path: big}, false},
		{"git transport", &Mirror{path: small, gitBin: "git"}, true},
		{"auto, big mirror", &Mirror{path: big, gitBin: "git", auto: true}, true},
		{"auto, small mirror", &Mirror{path: small, gitBin: "git", auto: true}, false},
	}
	for _, tt := range tests {
		if got := tt.m.readsWithCLI(); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
