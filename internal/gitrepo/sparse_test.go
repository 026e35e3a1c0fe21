package gitrepo

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// files lists the regular files and symlinks under dir, slash-separated.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestCheckoutPaths(t *testing.T) { eachTransport(t, testCheckoutPaths) }

func testCheckoutPaths(t *testing.T, tr Option) {
	ctx := context.Background()
	src := newSource(t)
	sha := src.commit("tree", map[string]*string{
		".runner.yaml":                      str("version: 1\n"),
		"environments/dev/main.tf":          str("# dev\n"),
		"environments/dev/files/a.json":     str("{}\n"),
		"environments/prod/main.tf":         str("# prod\n"),
		"terraform/modules/net/main.tf":     str("# net\n"),
		"terraform/modules/net/run.sh*":     str("#!/bin/sh\n"),
		"terraform/modules/dns/main.tf":     str("# dns\n"),
		"apps/backend/main.go":              str("package main\n"),
		"apps/backend/link":                 str("->main.go"),
		"apps/frontend/src/App.tsx":         str("x\n"),
		"docs/guide.md":                     str("# guide\n"),
		"environments/dev/terraform.tfvars": str("a = 1\n"),
	})
	m, err := NewMirrors(t.TempDir(), Auth{Token: testToken}, nil, tr).Sync(ctx, src.url)
	if err != nil {
		t.Fatal(err)
	}
	tf := func(p string) bool { return strings.HasSuffix(p, ".tf") || p == ".runner.yaml" }
	tests := []struct {
		name string
		sel  Selection
		want []string
	}{
		{"folders and a file", Selection{Paths: []string{".runner.yaml", "environments/dev", "terraform/modules/net"}}, []string{
			".runner.yaml", "environments/dev/files/a.json", "environments/dev/main.tf", "environments/dev/terraform.tfvars",
			"terraform/modules/net/main.tf", "terraform/modules/net/run.sh"}},
		{"a folder's prefix is not the folder", Selection{Paths: []string{"environments/de"}}, nil},
		{"an app with its symlink", Selection{Paths: []string{"apps/backend"}}, []string{"apps/backend/link", "apps/backend/main.go"}},
		{"a match anywhere", Selection{Match: tf}, []string{".runner.yaml", "environments/dev/main.tf", "environments/prod/main.tf",
			"terraform/modules/dns/main.tf", "terraform/modules/net/main.tf"}},
		{"everything", Selection{Paths: []string{"."}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "wt")
			n, err := m.CheckoutPaths(ctx, sha, dir, tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			got := files(t, dir)
			want := tc.want
			if tc.name == "everything" {
				full := filepath.Join(t.TempDir(), "full")
				if err := m.Checkout(ctx, sha, full); err != nil {
					t.Fatal(err)
				}
				want = files(t, full)
			}
			if strings.Join(got, ",") != strings.Join(want, ",") || n != len(want) {
				t.Errorf("wrote %d files:\n%v\nwant:\n%v", n, got, want)
			}
		})
	}

	t.Run("widening keeps what is there and adds the rest", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "wt")
		if _, err := m.CheckoutPaths(ctx, sha, dir, Selection{Match: tf}); err != nil {
			t.Fatal(err)
		}
		n, err := m.CheckoutPaths(ctx, sha, dir, Selection{Paths: []string{"environments/dev", "terraform/modules/net"}})
		if err != nil {
			t.Fatal(err)
		}
		if n != 3 { // files/a.json, terraform.tfvars, run.sh
			t.Errorf("the second selection wrote %d files, want 3", n)
		}
		if fi, err := os.Stat(filepath.Join(dir, "terraform/modules/net/run.sh")); err != nil || fi.Mode().Perm()&0o100 == 0 {
			t.Errorf("run.sh not executable: %v %v", fi, err)
		}
		if got, _ := os.Readlink(filepath.Join(dir, "apps/backend/link")); got != "" {
			t.Errorf("an unselected symlink was written")
		}
	})

	t.Run("refuses", func(t *testing.T) {
		for _, sel := range []Selection{{Paths: []string{"../x"}}, {Paths: []string{"/etc"}}, {Paths: []string{"a/../b"}}} {
			if _, err := m.CheckoutPaths(ctx, sha, t.TempDir(), sel); err == nil {
				t.Errorf("%v: accepted", sel.Paths)
			}
		}
		if _, err := m.CheckoutPaths(ctx, "main", t.TempDir(), Selection{Paths: []string{"."}}); err == nil {
			t.Error("a branch name was accepted for a SHA")
		}
	})
}

// A symlink committed where a later selection needs a folder cannot lead a write outside the work tree.
func TestCheckoutPathsDoesNotWriteThroughSymlinks(t *testing.T) {
	eachTransport(t, testCheckoutPathsDoesNotWriteThroughSymlinks)
}

func testCheckoutPathsDoesNotWriteThroughSymlinks(t *testing.T, tr Option) {
	ctx := context.Background()
	src := newSource(t)
	outside := t.TempDir()
	sha := src.commit("trap", map[string]*string{
		"environments/dev": str("->" + outside),
		"main.tf":          str("# root\n"),
	})
	m, err := NewMirrors(t.TempDir(), Auth{Token: testToken}, nil, tr).Sync(ctx, src.url)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "wt")
	if _, err := m.CheckoutPaths(ctx, sha, dir, Selection{Paths: []string{"environments/dev", "main.tf"}}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) > 0 {
		t.Errorf("wrote outside the work tree: %v", entries)
	}
}
