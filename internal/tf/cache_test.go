package tf

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// providerMirror writes a filesystem mirror holding example.com/test/fake 1.0.0 for this platform
// (a zip with 1 MB of random bytes as the "plugin": init only unpacks it) and returns the mirror
// directory and the plugin's content.
func providerMirror(t *testing.T) (string, []byte) {
	t.Helper()
	mirror := t.TempDir()
	plugin := make([]byte, 1<<20)
	_, _ = rand.Read(plugin)
	platform := runtime.GOOS + "_" + runtime.GOARCH
	dir := filepath.Join(mirror, "example.com", "test", "fake")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "terraform-provider-fake_v1.0.0", Method: zip.Store}
	h.SetMode(0o755)
	f, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(plugin); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("terraform-provider-fake_1.0.0_%s.zip", platform)
	if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return mirror, plugin
}

// TestParallelInitsShareOnePluginCache runs several inits at once against one plugin cache, each
// installing the same provider. Every init must succeed and the cache must hold one intact copy.
func TestParallelInitsShareOnePluginCache(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	mirror, plugin := providerMirror(t)
	e.rc = cliConfig(t, fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["example.com/*/*"]
  }
}
`, mirror))

	const n = 4
	src, err := os.ReadFile(filepath.Join(e.root, "envs", "cached", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	workspaces := make([]*Workspace, n)
	logs := make([]*syncBuffer, n)
	for i := range n {
		name := fmt.Sprintf("cached-%d", i)
		if err := os.MkdirAll(filepath.Join(e.root, "envs", name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.root, "envs", name, "main.tf"), src, 0o644); err != nil {
			t.Fatal(err)
		}
		workspaces[i], logs[i] = e.workspace(t, name, nil)
	}

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, w := range workspaces {
		wg.Go(func() { errs[i] = w.Init(context.Background()) })
	}
	wg.Wait()
	waited := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("init %d: %v\n%s", i, err, logs[i])
		}
		if logs[i].Contains("waiting for the plugin cache lock") {
			waited++
		}
	}
	t.Logf("%d of %d inits waited for the plugin cache lock", waited, n)

	platform := runtime.GOOS + "_" + runtime.GOARCH
	cached := filepath.Join(e.cache, "example.com", "test", "fake", "1.0.0", platform, "terraform-provider-fake_v1.0.0")
	got, err := os.ReadFile(cached)
	if err != nil {
		t.Fatalf("provider not in the shared cache: %v", err)
	}
	if !bytes.Equal(got, plugin) {
		t.Errorf("cached provider corrupted: %d bytes, want %d", len(got), len(plugin))
	}
	var lockFiles []string
	for i := range n {
		dir := filepath.Join(e.root, "envs", fmt.Sprintf("cached-%d", i))
		installed, err := os.ReadFile(filepath.Join(dir, ".terraform", "providers", "example.com", "test", "fake", "1.0.0", platform, "terraform-provider-fake_v1.0.0"))
		if err != nil || !bytes.Equal(installed, plugin) {
			t.Errorf("env %d: installed provider missing or corrupted (%d bytes): %v", i, len(installed), err)
		}
		lock, err := os.ReadFile(filepath.Join(dir, ".terraform.lock.hcl"))
		if err != nil {
			t.Fatal(err)
		}
		lockFiles = append(lockFiles, string(lock))
	}
	for i := 1; i < n; i++ {
		if lockFiles[i] != lockFiles[0] {
			t.Errorf("lock file %d differs from lock file 0:\n%s\n---\n%s", i, lockFiles[i], lockFiles[0])
		}
	}
	if !strings.Contains(lockFiles[0], `"example.com/test/fake"`) {
		t.Errorf("lock file lacks the provider:\n%s", lockFiles[0])
	}
}
