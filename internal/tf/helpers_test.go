package tf

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// terraformBin returns the Terraform binary for tests that need the real one, or skips.
func terraformBin(t testing.TB) string {
	t.Helper()
	bin, err := FindBinary(os.Getenv("RUNNER_TERRAFORM_BIN"), execLookPath)
	if err != nil {
		t.Skipf("skipping: needs a real Terraform binary (set RUNNER_TERRAFORM_BIN or put terraform on PATH): %v", err)
	}
	return bin
}

// cliConfig writes an empty Terraform CLI configuration: the machine's TF_CLI_CONFIG_FILE points at a
// missing file, and tests must not depend on a developer's ~/.terraformrc.
func cliConfig(t testing.TB, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "terraform.rc")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// copyFixtures copies testdata/fixtures (environments and the modules they share) into a temporary
// directory and returns the copy's root.
func copyFixtures(t testing.TB) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join("testdata", "fixtures")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// syncBuffer is a stage log that tests can read while Terraform writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Contains(s string) bool { return strings.Contains(b.String(), s) }

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !waitUntil(within, cond) {
		t.Fatalf("timed out after %s waiting for %s", within, what)
	}
}

// waitUntil polls cond every 20ms until it holds (true) or within has passed (false).
func waitUntil(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

type testEnv struct {
	root  string // copy of testdata/fixtures
	cache string // shared plugin cache
	rc    string // CLI config file
	bin   string
}

func newTestEnv(t testing.TB) *testEnv {
	return &testEnv{
		root:  copyFixtures(t),
		cache: filepath.Join(t.TempDir(), "plugin-cache"),
		rc:    cliConfig(t, "# tests: no provider downloads\n"),
		bin:   terraformBin(t),
	}
}

// workspace makes a Workspace for fixture environment env; mod adjusts the options.
func (e *testEnv) workspace(t testing.TB, env string, mod func(*Options)) (*Workspace, *syncBuffer) {
	t.Helper()
	log := &syncBuffer{}
	opts := Options{
		Bin:            e.bin,
		Dir:            filepath.Join(e.root, "envs", env),
		PluginCacheDir: e.cache,
		Env:            map[string]string{"TF_CLI_CONFIG_FILE": e.rc},
		Log:            log,
		CommandTimeout: 2 * time.Minute,
		GracePeriod:    20 * time.Second,
	}
	if mod != nil {
		mod(&opts)
	}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return w, log
}

var execLookPath = exec.LookPath
