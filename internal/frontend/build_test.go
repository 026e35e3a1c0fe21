package frontend_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/frontend"
)

// packageLock is what `npm install --package-lock-only` writes for a package with no dependencies.
const packageLock = `{
  "name": "fixture",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {
      "name": "fixture",
      "version": "1.0.0"
    }
  }
}
`

// buildScript stands in for `vite build`: it writes dist/ with the API URL baked in.
const buildScript = `const fs = require('fs');
const url = process.env.VITE_API_URL;
fs.mkdirSync('dist/assets', { recursive: true });
fs.writeFileSync('dist/index.html', '<html><body data-api="' + url + '"></body></html>\n');
fs.writeFileSync('dist/assets/app.js', 'export const api = ' + JSON.stringify(url) + ';\n');
console.log('built for ' + url);
console.error('a warning on stderr');
`

// slowScript hangs like a stuck build, after telling the test its pid.
const slowScript = `require('fs').writeFileSync('build.pid', String(process.pid));
setTimeout(() => {}, 120000);
`

// stubbornScript is slowScript ignoring SIGINT, so only the kill after the grace period stops it.
const stubbornScript = `process.on('SIGINT', () => {});
` + slowScript

// newApp writes a frontend app whose build runs script with node.
func newApp(t *testing.T, script string) string {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm is not installed")
	}
	dir := t.TempDir()
	files := map[string]string{
		"package.json":      `{"name": "fixture", "version": "1.0.0", "private": true, "scripts": {"build": "node build.js"}}` + "\n",
		"package-lock.json": packageLock,
		"build.js":          script,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBuildBundlesTheAPIURL(t *testing.T) {
	t.Parallel()
	dir := newApp(t, buildScript)
	ctx := context.Background()
	builds := []struct {
		apiURL   string
		sameAs   int // index of an earlier build with the same checksum, or -1
		differ   int // index of an earlier build with a different checksum, or -1
		wantHTML string
	}{
		{"https://api.dev.example.com", -1, -1, `data-api="https://api.dev.example.com"`},
		{"https://api.dev.example.com", 0, -1, `data-api="https://api.dev.example.com"`},
		{"http://127.0.0.1:18080", -1, 0, `data-api="http://127.0.0.1:18080"`},
	}
	var got []frontend.Bundle
	for i, bt := range builds {
		var log syncBuffer
		b, err := frontend.Build(ctx, dir, bt.apiURL, &log, frontend.WithOutput(filepath.Join(t.TempDir(), "bundle.tar.gz")))
		if err != nil {
			t.Fatalf("build %d: %v\nlog:\n%s", i, err, log.String())
		}
		got = append(got, b)
		for _, want := range []string{"$ npm ci --no-audit --no-fund\n", "$ npm run build\n", "built for " + bt.apiURL + "\n", "a warning on stderr\n"} {
			if !strings.Contains(log.String(), want) {
				t.Errorf("build %d: log lacks %q:\n%s", i, want, log.String())
			}
		}
		var html string
		for _, e := range readBundle(t, b.Path) {
			if e.name == "index.html" {
				html = e.body
			}
		}
		if !strings.Contains(html, bt.wantHTML) {
			t.Errorf("build %d: index.html = %q, want it to contain %q", i, html, bt.wantHTML)
		}
		if bt.sameAs >= 0 && b.SHA256 != got[bt.sameAs].SHA256 {
			t.Errorf("build %d: sha256 %s, want the same as build %d (%s)", i, b.SHA256, bt.sameAs, got[bt.sameAs].SHA256)
		}
		if bt.differ >= 0 && b.SHA256 == got[bt.differ].SHA256 {
			t.Errorf("build %d: same sha256 as build %d with another API URL", i, bt.differ)
		}
	}
}

func TestBuildFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		script  string
		wantErr string
	}{
		{"script fails", "console.error('vite: syntax error'); process.exit(3)", "npm run build: exit status 3"},
		{"script writes no dist", "console.log('nothing')", "produced no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := newApp(t, tt.script)
			var log syncBuffer
			_, err := frontend.Build(context.Background(), dir, "http://x", &log)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q\nlog:\n%s", err, tt.wantErr, log.String())
			}
			if _, statErr := os.Stat(filepath.Join(dir, "dist.tar.gz")); statErr == nil {
				t.Error("a failed build left a bundle")
			}
		})
	}
}

func TestBuildCancelStopsTheScript(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script string
	}{
		{"script exits on SIGINT", slowScript},
		{"script ignores SIGINT and is killed after the grace period", stubbornScript},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := newApp(t, tt.script)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := frontend.Build(ctx, dir, "http://x", nil, frontend.WithGrace(300*time.Millisecond))
				done <- err
			}()
			var pid int
			waitFor(t, 60*time.Second, func() bool {
				b, err := os.ReadFile(filepath.Join(dir, "build.pid"))
				if err != nil || len(b) == 0 {
					return false
				}
				pid, err = strconv.Atoi(string(b))
				return err == nil
			})
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "npm run build") {
					t.Errorf("err = %v, want npm run build cancelled", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Build did not return after cancel")
			}
			waitFor(t, 10*time.Second, func() bool { return !alive(pid) })
		})
	}
}

// alive reports whether pid is a live process; a zombie nobody reaped counts as dead.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || !strings.HasPrefix(string(stat[i+1:]), " Z")
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met before the deadline")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// envScript stands in for a build (or a dependency's install script) that reads its environment.
const envScript = `const fs = require('fs');
fs.writeFileSync('env.json', JSON.stringify(process.env));
fs.mkdirSync('dist', { recursive: true });
fs.writeFileSync('dist/index.html', 'x');
`

// The install and build scripts of every npm dependency run with npm's environment: the runner's secrets must
// not be in it, while what npm needs to run and the API URL are.
func TestBuildKeepsTheRunnersSecretsFromNPM(t *testing.T) {
	secrets := []string{"RUNNER_WEBHOOK_SECRET", "RUNNER_API_TOKEN", "GITHUB_TOKEN", "SLACK_BOT_TOKEN",
		"SLACK_WEBHOOK_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "TF_TOKEN_app_terraform_io", "TF_VAR_db_password"}
	for _, k := range secrets {
		t.Setenv(k, "secret-"+k)
	}
	t.Setenv("HOME", t.TempDir())
	dir := newApp(t, envScript)
	var log syncBuffer
	if _, err := frontend.Build(context.Background(), dir, "https://api.example.com", &log); err != nil {
		t.Fatalf("build: %v\nlog:\n%s", err, log.String())
	}
	raw, err := os.ReadFile(filepath.Join(dir, "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	for _, k := range secrets {
		if v, ok := env[k]; ok {
			t.Errorf("npm saw %s=%q", k, v)
		}
	}
	for k, want := range map[string]string{"VITE_API_URL": "https://api.example.com", "HOME": os.Getenv("HOME")} {
		if env[k] != want {
			t.Errorf("npm saw %s=%q, want %q", k, env[k], want)
		}
	}
	if env["PATH"] == "" {
		t.Error("npm saw no PATH")
	}
}
