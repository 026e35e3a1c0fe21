package plancheck

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// tree makes files under a new directory: a path ending in "/" is a directory, "->target" a symbolic link.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	base := t.TempDir()
	for name, content := range files {
		p := filepath.Join(base, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(name, "/"):
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(content, "->"):
			if err := os.Symlink(strings.TrimPrefix(content, "->"), p); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return base
}

func TestLoad(t *testing.T) {
	outside := tree(t, map[string]string{"secret.rego": "package secret", "dir/x.rego": "package x"})
	tests := []struct {
		name  string
		files map[string]string
		dirs  []string // relative to base; "." is base
		want  []string // Paths; every file's content is its own path
	}{
		{
			name: "recursive and sorted",
			files: map[string]string{
				"policies/s3.rego": "", "policies/aws/iam.rego": "", "policies/aws/deep/er/ec2.rego": "",
				"policies/a.rego": "",
			},
			dirs: []string{"policies"},
			want: []string{"policies/a.rego", "policies/aws/deep/er/ec2.rego", "policies/aws/iam.rego", "policies/s3.rego"},
		},
		{
			name: "tests and other files skipped",
			files: map[string]string{
				"policies/s3.rego": "", "policies/s3_test.rego": "", "policies/README.md": "", "policies/s3.rego.bak": "",
				"policies/data.json": "", "policies/rego": "", "policies/.rego/x.txt": "",
			},
			dirs: []string{"policies"},
			want: []string{"policies/s3.rego"},
		},
		{
			name: "symbolic links not followed",
			files: map[string]string{
				"policies/s3.rego":       "",
				"policies/link.rego":     "->s3.rego",
				"policies/out.rego":      "->" + filepath.Join(outside, "secret.rego"),
				"policies/outdir":        "->" + filepath.Join(outside, "dir"),
				"policies/loop":          "->..",
				"policies/dangling.rego": "->nowhere.rego",
			},
			dirs: []string{"policies"},
			want: []string{"policies/s3.rego"},
		},
		{
			name:  "overlapping dirs read once",
			files: map[string]string{"policies/s3.rego": "", "policies/aws/iam.rego": ""},
			dirs:  []string{"policies/aws", "policies", "policies/aws"},
			want:  []string{"policies/aws/iam.rego", "policies/s3.rego"},
		},
		{
			name:  "base itself",
			files: map[string]string{"main.rego": "", "sub/more.rego": ""},
			dirs:  []string{"."},
			want:  []string{"main.rego", "sub/more.rego"},
		},
		{
			name:  "empty directory",
			files: map[string]string{"policies/": ""},
			dirs:  []string{"policies"},
			want:  nil,
		},
		{
			name:  "no dirs",
			files: map[string]string{"policies/s3.rego": ""},
			want:  nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			for name, content := range tt.files {
				if content == "" && !strings.HasSuffix(name, "/") {
					content = "# " + name
				}
				files[name] = content
			}
			base := tree(t, files)
			var dirs []string
			for _, d := range tt.dirs {
				dirs = append(dirs, filepath.Join(base, d))
			}
			mods, err := Load(base, dirs...)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			var got []string
			for _, m := range mods {
				got = append(got, m.Path)
				if m.Source != "# "+m.Path {
					t.Errorf("%s: Source %q", m.Path, m.Source)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Paths:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	outside := t.TempDir()
	many := map[string]string{}
	for i := range MaxFiles + 1 {
		many["policies/"+strings.Repeat("x", i%7)+"/"+string(rune('a'+i%26))+strings.Repeat("y", i/26)+".rego"] = "package p"
	}
	big := strings.Repeat("#", MaxFileSize/2)
	total := map[string]string{}
	for i := range MaxTotalSize/len(big) + 1 {
		total["policies/"+strings.Repeat("t", i+1)+".rego"] = big
	}
	tests := []struct {
		name    string
		files   map[string]string
		dir     string // relative to base, or absolute
		want    string // in the error
		notFind bool   // errors.Is(err, fs.ErrNotExist)
	}{
		{name: "missing", files: map[string]string{"other/": ""}, dir: "policies", want: "loading policies from policies: no such directory (file does not exist)", notFind: true},
		{name: "a file", files: map[string]string{"policies": "x"}, dir: "policies", want: "not a directory"},
		{name: "a link", files: map[string]string{"policies": "->" + outside}, dir: "policies", want: "symbolic link"},
		{name: "through a link out of base", files: map[string]string{"p": "->" + outside}, dir: "p/sub", want: "loading policies from p/sub:"},
		{name: "outside base", files: map[string]string{"policies/": ""}, dir: outside, want: "not inside"},
		{name: "parent of base", files: map[string]string{"policies/": ""}, dir: "..", want: "not inside"},
		{name: "relative", files: map[string]string{"policies/": ""}, dir: "rel:policies", want: "not an absolute path"},
		{name: "too many files", files: many, dir: "policies", want: "more than 500 policy files"},
		{name: "a file too large", files: map[string]string{"policies/big.rego": strings.Repeat("#", MaxFileSize+1)}, dir: "policies", want: "policies/big.rego: larger than 1048576 bytes"},
		{name: "too large in all", files: total, dir: "policies", want: "larger than 8388608 bytes in all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tree(t, tt.files)
			dir := filepath.Join(base, tt.dir)
			if filepath.IsAbs(tt.dir) {
				dir = tt.dir
			} else if rel, ok := strings.CutPrefix(tt.dir, "rel:"); ok {
				dir = rel
			}
			mods, err := Load(base, dir)
			if err == nil {
				t.Fatalf("Load: no error, %d modules", len(mods))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want %q in it", err, tt.want)
			}
			if errors.Is(err, fs.ErrNotExist) != tt.notFind {
				t.Errorf("errors.Is(%v, fs.ErrNotExist) = %v", err, !tt.notFind)
			}
			if mods != nil {
				t.Errorf("modules with an error: %d", len(mods))
			}
		})
	}
	if _, err := Load(filepath.Join(outside, "nope"), outside); err == nil || !strings.HasPrefix(err.Error(), "loading policies:") {
		t.Errorf("Load of a missing base: %v", err)
	}
}

func TestLoadTestdata(t *testing.T) {
	base, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	mods, err := Load(base, filepath.Join(base, "policies"))
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) != 1 || mods[0].Path != "policies/s3_encryption.rego" || !strings.Contains(mods[0].Source, "package terraform.s3_encryption") {
		t.Errorf("Load(testdata/policies) = %+v", mods)
	}
}
