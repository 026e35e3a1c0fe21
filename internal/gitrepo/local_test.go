package gitrepo

import (
	"context"
	"path/filepath"
	"testing"
)

// A working copy (objects under .git) reads like a bare mirror: the CLI reads the user's own checkout.
func TestOpenLocalWorkingCopy(t *testing.T) {
	src := newSource(t)
	h := buildBase(src)
	m, err := OpenLocal(src.dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m.Resolve("main"); err != nil || got != h.c2 {
		t.Errorf("Resolve(main) = %q, %v; want %s", got, err, h.c2)
	}
	if err := m.Checkout(context.Background(), h.f1, filepath.Join(t.TempDir(), "wt")); err != nil {
		t.Errorf("Checkout: %v", err)
	}
}
