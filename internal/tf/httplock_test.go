package tf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The backend state is written by sandboxed Terraform: the runner reads it only inside the working tree, never
// through a symlink that leads out, and uses only http(s) lock addresses from it.
func TestHTTPBackendConfigStaysInTheTree(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "runner-secret.json")
	if err := os.WriteFile(secret, []byte(`{"backend":{"type":"http","config":{"lock_address":"http://127.0.0.1:1/l","unlock_address":"http://127.0.0.1:1/u","password":"runner-only"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		state   func(dataDir string) error
		wantErr string
	}{
		{"a regular file", func(d string) error {
			return os.WriteFile(filepath.Join(d, "terraform.tfstate"), []byte(`{"backend":{"type":"http","config":{"lock_address":"http://127.0.0.1:1/l","unlock_address":"http://127.0.0.1:1/u"}}}`), 0o600)
		}, ""},
		{"a symlink out of the tree", func(d string) error { return os.Symlink(secret, filepath.Join(d, "terraform.tfstate")) }, "read the backend configuration"},
		{"a lock address that is not http", func(d string) error {
			return os.WriteFile(filepath.Join(d, "terraform.tfstate"), []byte(`{"backend":{"type":"http","config":{"lock_address":"file:///etc/shadow","unlock_address":"http://127.0.0.1:1/u"}}}`), 0o600)
		}, "not an http(s) URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, ".terraform"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := tc.state(filepath.Join(dir, ".terraform")); err != nil {
				t.Fatal(err)
			}
			w, err := New(Options{Bin: "/bin/false", Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			b, err := w.httpBackendConfig()
			if tc.wantErr == "" {
				if err != nil || b.lockAddress != "http://127.0.0.1:1/l" {
					t.Fatalf("config = %+v, %v", b, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || b.password != "" {
				t.Fatalf("config = %+v, %v; want an error saying %q", b, err, tc.wantErr)
			}
		})
	}
}
