package gitrepo

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/repofs"
)

func TestTree(t *testing.T) { eachTransport(t, testTree) }

// testTree reads a commit as a Tree and checks it against the same commit written to disk.
func testTree(t *testing.T, tr Option) {
	ctx := context.Background()
	src := newSource(t)
	old := src.commit("old", map[string]*string{"environments/dev/main.tf": str("# old\n")})
	sha := src.commit("tree", map[string]*string{
		".runner.yaml":                        str("version: 1\n"),
		"environments/dev/main.tf":            str("# dev\n"),
		"environments/dev/modules":            str("->../../terraform/modules"),
		"environments/dev/.terraform/x.tf":    str("# planted\n"),
		"terraform/modules/net/main.tf":       str("# net\n"),
		"terraform/modules/net/run.sh*":       str("#!/bin/sh\n"),
		"docs/guide.md":                       str("# guide\n"),
		"environments/prod/.terraform/p/bin*": str("ELF"),
	})
	m, err := NewMirrors(t.TempDir(), Auth{Token: testToken}, nil, tr).Sync(ctx, src.url)
	if err != nil {
		t.Fatal(err)
	}
	tf := func(p string) bool { return strings.HasSuffix(p, ".tf") || p == ".runner.yaml" }
	tree, err := m.Tree(ctx, sha, tf)
	if err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(t.TempDir(), "wt")
	if err := m.Checkout(ctx, sha, disk); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := tree.Walk(func(p string, k repofs.Kind) error {
		if k != repofs.Folder {
			got = append(got, p)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files(t, disk) {
		if !strings.Contains(f, ".terraform/") {
			want = append(want, f)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("tree files:\n got %v\nwant %v (the checkout, .terraform left out)", got, want)
	}
	for _, f := range want {
		if fi, err := tree.Lstat(f); err != nil || fi.Mode()&fs.ModeSymlink != 0 {
			continue // a link to a folder; its target is checked below
		}
		a, err := tree.ReadFile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		b, err := os.ReadFile(filepath.Join(disk, f))
		if err != nil {
			t.Fatal(err)
		}
		if string(a) != string(b) {
			t.Errorf("%s: tree %q, disk %q", f, a, b)
		}
	}
	if target, err := tree.ReadLink("environments/dev/modules"); err != nil || target != "../../terraform/modules" {
		t.Errorf("ReadLink = %q, %v", target, err)
	}
	if real, err := repofs.Resolve(tree, "environments/dev/modules/net/main.tf"); err != nil || real != "terraform/modules/net/main.tf" {
		t.Errorf("Resolve through the link = %q, %v", real, err)
	}
	if fi, err := tree.Stat("terraform/modules/net/run.sh"); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("run.sh: %v, %v: want executable", fi, err)
	}
	if _, err := tree.Stat("environments/dev/.terraform"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf(".terraform: %v, want it left out", err)
	}
	oldTree, err := m.Tree(ctx, old, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := oldTree.ReadFile("environments/dev/main.tf"); err != nil || string(b) != "# old\n" {
		t.Errorf("the older commit's file: %q, %v", b, err)
	}
	if _, err := m.Tree(ctx, strings.Repeat("ab", 20), nil); !errors.Is(err, ErrCommitNotFound) {
		t.Errorf("an unknown commit: %v, want ErrCommitNotFound", err)
	}
	if _, err := m.Tree(ctx, "main", nil); err == nil {
		t.Error("a branch name: no error, want a full SHA")
	}
}

func TestWriteTree(t *testing.T) { eachTransport(t, testWriteTree) }

// testWriteTree writes selections of a Tree and checks each against CheckoutPaths of the same selection.
func testWriteTree(t *testing.T, tr Option) {
	ctx := context.Background()
	src := newSource(t)
	content := map[string]*string{
		".runner.yaml":                  str("version: 1\n"),
		"environments/dev/main.tf":      str("# dev\n"),
		"environments/dev/files/a.json": str("{}\n"),
		"environments/dev/modules":      str("->../../terraform/modules"),
		"environments/prod/main.tf":     str("# prod\n"),
		"terraform/modules/net/main.tf": str("# net\n"),
		"terraform/modules/net/run.sh*": str("#!/bin/sh\n"),
		"docs/guide.md":                 str("# guide\n"),
	}
	first := src.commit("first", content)
	content["terraform/modules/net/main.tf"] = str("# net, changed\n")
	second := src.commit("second", content)
	m, err := NewMirrors(t.TempDir(), Auth{Token: testToken}, nil, tr).Sync(ctx, src.url)
	if err != nil {
		t.Fatal(err)
	}
	tf := func(p string) bool { return strings.HasSuffix(p, ".tf") }
	for _, sha := range []string{first, second} { // the second reads most blobs from the cache
		tree, err := m.Tree(ctx, sha, tf)
		if err != nil {
			t.Fatal(err)
		}
		for _, sel := range []Selection{
			{Paths: []string{".runner.yaml", "environments/dev", "terraform/modules/net"}},
			{Paths: []string{"."}},
			{Paths: []string{"docs"}, Links: true, Dirs: true},
		} {
			a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
			na, err := WriteTree(ctx, tree, a, sel)
			if err != nil {
				t.Fatal(err)
			}
			nb, err := m.CheckoutPaths(ctx, sha, b, sel)
			if err != nil {
				t.Fatal(err)
			}
			fa, fb := files(t, a), files(t, b)
			if na != nb || strings.Join(fa, " ") != strings.Join(fb, " ") {
				t.Fatalf("%v: WriteTree wrote %d %v, CheckoutPaths %d %v", sel, na, fa, nb, fb)
			}
			for _, f := range fa {
				ia, _ := os.Lstat(filepath.Join(a, f))
				ib, _ := os.Lstat(filepath.Join(b, f))
				if ia.Mode() != ib.Mode() {
					t.Errorf("%s: mode %v, CheckoutPaths %v", f, ia.Mode(), ib.Mode())
				}
				if ia.Mode()&fs.ModeSymlink != 0 {
					la, _ := os.Readlink(filepath.Join(a, f))
					lb, _ := os.Readlink(filepath.Join(b, f))
					if la != lb {
						t.Errorf("%s: link to %q, CheckoutPaths %q", f, la, lb)
					}
					continue
				}
				ca, _ := os.ReadFile(filepath.Join(a, f))
				cb, _ := os.ReadFile(filepath.Join(b, f))
				if string(ca) != string(cb) {
					t.Errorf("%s: %q, CheckoutPaths %q", f, ca, cb)
				}
			}
			// Written again over itself: nothing new.
			if n, err := WriteTree(ctx, tree, a, sel); err != nil || n != 0 {
				t.Errorf("%v written twice: %d new files, %v", sel, n, err)
			}
		}
	}
	if _, err := WriteTree(ctx, nil, t.TempDir(), Selection{Paths: []string{"../x"}}); err == nil {
		t.Error("a path outside the repository: no error")
	}
}

func TestBlobCacheKeepsItsBudget(t *testing.T) {
	c := newBlobCache(100)
	c.put("a", make([]byte, 20))
	c.put("b", make([]byte, 20))
	c.put("huge", make([]byte, 26)) // over a quarter of the budget: not kept
	if _, ok := c.get("huge"); ok {
		t.Error("a blob over a quarter of the budget was kept")
	}
	c.get("a")         // b is now the least recently used
	for i := range 4 { // 120 bytes in all: one must go
		c.put(string(rune('c'+i)), make([]byte, 20))
	}
	if _, ok := c.get("b"); ok {
		t.Error("the least recently used blob was kept over budget")
	}
	if _, ok := c.get("a"); !ok {
		t.Error("a recently used blob was dropped")
	}
	if c.used > 100 {
		t.Errorf("%d bytes kept, budget 100", c.used)
	}
}

func TestTreeOfBigFiles(t *testing.T) { eachTransport(t, testTreeOfBigFiles) }

// Files too big to prefetch are read when used; one too big to hold in memory fails with ErrBlobTooBig,
// and CheckoutPaths (streamed) writes it.
func testTreeOfBigFiles(t *testing.T, tr Option) {
	ctx := context.Background()
	src := newSource(t)
	five := strings.Repeat("# five mebibytes of comment\n", (5<<20)/28+1)
	huge := strings.Repeat(" ", MaxTreeBlob+1)
	sha := src.commit("big", map[string]*string{
		"environments/dev/main.tf":  str("# dev\n"),
		"environments/dev/big.tf":   str(five),
		"environments/dev/huge.bin": str(huge),
	})
	m, err := NewMirrors(t.TempDir(), Auth{Token: testToken}, nil, tr).Sync(ctx, src.url)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := m.Tree(ctx, sha, func(p string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if b, err := tree.ReadFile("environments/dev/big.tf"); err != nil || string(b) != five {
		t.Fatalf("a file past the prefetch bound: %d bytes, %v", len(b), err)
	}
	if _, err := tree.ReadFile("environments/dev/huge.bin"); !errors.Is(err, ErrBlobTooBig) {
		t.Fatalf("a file past MaxTreeBlob: %v, want ErrBlobTooBig", err)
	}
	dir := filepath.Join(t.TempDir(), "wt")
	if _, err := WriteTree(ctx, tree, dir, Selection{Paths: []string{"environments/dev"}}); !errors.Is(err, ErrBlobTooBig) {
		t.Fatalf("WriteTree of a file past MaxTreeBlob: %v, want ErrBlobTooBig", err)
	}
	if _, err := m.CheckoutPaths(ctx, sha, dir, Selection{Paths: []string{"environments/dev"}}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "environments/dev/huge.bin")); err != nil || fi.Size() != int64(len(huge)) {
		t.Fatalf("CheckoutPaths of the big file: %v, %v", fi, err)
	}
}
