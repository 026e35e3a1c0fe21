package tf

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestPromoteProviders(t *testing.T) {
	data, cache := t.TempDir(), t.TempDir()
	pkg := func(root, rel string) string { return filepath.Join(root, "providers", filepath.FromSlash(rel)) }
	installed := pkg(data, "registry.terraform.io/hashicorp/aws/6.47.0/linux_amd64")
	if err := os.MkdirAll(installed, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(installed, "terraform-provider-aws_v6.47.0_x5"), []byte("binary"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A package init linked from the cache (the mirror) is already there.
	linked := pkg(data, "registry.terraform.io/hashicorp/random/3.6.0/linux_amd64")
	if err := os.MkdirAll(filepath.Dir(linked), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), linked); err != nil {
		t.Fatal(err)
	}
	added, err := PromoteProviders(data, cache)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(added, []string{"registry.terraform.io/hashicorp/aws/6.47.0/linux_amd64"}) {
		t.Fatalf("added %v", added)
	}
	fi, err := os.Stat(filepath.Join(cache, "registry.terraform.io/hashicorp/aws/6.47.0/linux_amd64/terraform-provider-aws_v6.47.0_x5"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("promoted binary: %v, %v (want readable and executable by all)", fi, err)
	}
	if again, err := PromoteProviders(data, cache); err != nil || len(again) != 0 {
		t.Fatalf("second promotion added %v, %v", again, err)
	}
	if _, err := PromoteProviders(t.TempDir(), cache); err != nil {
		t.Fatalf("a workspace without providers: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(cache, "registry.terraform.io/hashicorp/aws/6.47.0"))
	if len(entries) != 1 {
		t.Errorf("cache holds %d entries beside the package (a temporary copy left behind?)", len(entries))
	}
}
