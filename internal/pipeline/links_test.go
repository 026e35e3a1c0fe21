package pipeline

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// A pull request's symlinks must not lead the runner's own parsers (change detection, variables) to files
// outside the checkout, such as /proc/self/environ: their errors are shown on the pull request.
func TestRemoveEscapingLinks(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("TOKEN=x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "env", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "common.tfvars"), []byte("a = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"env/main.tf":          "/proc/self/environ",
		"env/secret.tf":        filepath.Join(outside, "secret"),
		"env/up.tf":            "../../../../../../../../../etc/hostname",
		"env/common.tfvars":    "../common.tfvars",
		"env/sub/chain.tfvars": "../common.tfvars",
		"env/dangling.tf":      "nowhere.tf",
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(l))); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := removeEscapingLinks(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"env/main.tf", "env/secret.tf", "env/up.tf"}; !reflect.DeepEqual(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	for _, kept := range []string{"env/common.tfvars", "env/sub/chain.tfvars", "env/dangling.tf"} {
		if _, err := os.Lstat(filepath.Join(root, kept)); err != nil {
			t.Errorf("%s removed: %v", kept, err)
		}
	}
}
