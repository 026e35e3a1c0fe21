package image_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/image"
)

func TestBuildIsReproducible(t *testing.T) {
	tests := []struct {
		name     string
		change   func(*image.Spec)
		wantSame bool
	}{
		{name: "same commit twice", change: func(*image.Spec) {}, wantSame: true},
		{name: "another commit time", change: func(s *image.Spec) { s.Created = s.Created.Add(time.Second) }},
		{name: "another revision", change: func(s *image.Spec) { s.Revision = strings.Repeat("f", 40) }},
	}
	ctx := context.Background()
	b := &image.GoBuilder{TempDir: t.TempDir()}
	first, err := b.Build(ctx, spec(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	firstLayer := appLayerDigest(t, first)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec()
			tt.change(&s)
			// A fresh builder and temp dir: nothing carries over but the go build cache.
			again, err := (&image.GoBuilder{TempDir: t.TempDir()}).Build(ctx, s, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if same := again.Digest == first.Digest; same != tt.wantSame {
				t.Errorf("digest %s vs %s: same = %v, want %v", again.Digest, first.Digest, same, tt.wantSame)
			}
			if tt.wantSame && appLayerDigest(t, again) != firstLayer {
				t.Error("same commit built a different app layer")
			}
		})
	}
}

func appLayerDigest(t *testing.T, r image.Result) string {
	t.Helper()
	layers, err := r.Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, err := layers[len(layers)-1].Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

func TestBuildRejectsBadSpecs(t *testing.T) {
	tests := []struct {
		name   string
		change func(*image.Spec)
		want   string
	}{
		{name: "non-linux platform", change: func(s *image.Spec) { s.Platforms = []string{"windows/amd64"} },
			want: "only linux"},
		{name: "duplicate platform", change: func(s *image.Spec) { s.Platforms = []string{"linux/amd64", "linux/amd64"} },
			want: "twice"},
		{name: "name with a slash", change: func(s *image.Spec) { s.Name = "../x" }, want: "invalid binary name"},
		{name: "app that does not compile", change: func(s *image.Spec) { s.AppDir = t.TempDir() },
			want: "go build app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec()
			tt.change(&s)
			_, err := (&image.GoBuilder{TempDir: t.TempDir()}).Build(context.Background(), s, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// fakeGo stands in for the go binary: it records its pid and its child's, starts a long child, says
// "started", and waits. onInt is the shell's SIGINT trap.
const fakeGo = `#!/bin/sh
echo $$ > "$FAKEGO_DIR/pid"
trap '%s' INT
sleep 600 >/dev/null 2>&1 &
echo $! > "$FAKEGO_DIR/child"
echo started
wait $!
`

func TestBuildCancellationStopsGoBuild(t *testing.T) {
	tests := []struct {
		name       string
		onInt      string
		wantSignal bool // the fake saw SIGINT and exited by itself
	}{
		{name: "go build exits on SIGINT", onInt: `echo interrupted > "$FAKEGO_DIR/signal"; exit 130`, wantSignal: true},
		{name: "go build ignores SIGINT and is killed after WaitDelay", onInt: ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			goBin := filepath.Join(dir, "go")
			script := strings.Replace(fakeGo, "%s", tt.onInt, 1)
			if err := os.WriteFile(goBin, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			const waitDelay = 300 * time.Millisecond
			b := &image.GoBuilder{Go: goBin, Env: []string{"FAKEGO_DIR=" + dir}, TempDir: t.TempDir(),
				WaitDelay: waitDelay}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			log := &signalWriter{word: "started", seen: make(chan struct{})}
			errc := make(chan error, 1)
			go func() { _, err := b.Build(ctx, spec(), log); errc <- err }()

			select {
			case <-log.seen:
			case err := <-errc:
				t.Fatalf("build ended before it started: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatal("fake go build never started")
			}
			cancelled := time.Now()
			cancel()
			var err error
			select {
			case err = <-errc:
			case <-time.After(30 * time.Second):
				t.Fatal("Build did not return after cancellation")
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
			_, statErr := os.Stat(filepath.Join(dir, "signal"))
			if got := statErr == nil; got != tt.wantSignal {
				t.Errorf("fake go saw SIGINT = %v, want %v", got, tt.wantSignal)
			}
			if !tt.wantSignal && time.Since(cancelled) < waitDelay {
				t.Errorf("returned after %v, before the %v grace period", time.Since(cancelled), waitDelay)
			}
			for _, f := range []string{"pid", "child"} {
				waitGone(t, readPid(t, filepath.Join(dir, f)))
			}
		})
	}
}

type signalWriter struct {
	word string
	buf  syncBuffer
	seen chan struct{}
	done bool
}

func (w *signalWriter) Write(p []byte) (int, error) {
	n, err := w.buf.Write(p)
	if !w.done && strings.Contains(w.buf.String(), w.word) {
		w.done = true
		close(w.seen)
	}
	return n, err
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitGone polls until pid has exited (gone, or a zombie waiting for init to reap it).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running after cancellation: %s", pid, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// envDumpingGo stands in for the go binary in front of the real one: it keeps the environment it was started
// with (NUL-separated, exactly as exec passed it), then runs the real go build with it.
const envDumpingGo = `#!/bin/sh
cat /proc/$$/environ > '%s'
exec '%s' "$@"
`

// go build gets the runner's environment cut down to what a build needs: the runner's credentials and settings
// never reach it, the Go settings for module downloads and caches do, and the target is the build's own. The
// real go build runs behind the wrapper, so the cut-down environment is also shown to be enough.
func TestGoBuildGetsAnExplicitEnvironment(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads the wrapper's environment from /proc")
	}
	realGo, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	// The caches and proxy the machine already uses, so the build is fast and offline-safe.
	goEnv := map[string]string{}
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPROXY", "GOFLAGS"} {
		out, err := exec.Command(realGo, "env", k).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", k, err)
		}
		goEnv[k] = strings.TrimSpace(string(out))
	}
	tests := []struct {
		name string
		key  string
		set  string // set in the runner's environment for the test
		want string // what go build sees; "" means it does not see the variable at all
	}{
		{name: "the runner's AWS access key", key: "AWS_ACCESS_KEY_ID", set: "AKIDCANARY"},
		{name: "the runner's AWS secret key", key: "AWS_SECRET_ACCESS_KEY", set: "canary-aws-secret"},
		{name: "the runner's AWS session token", key: "AWS_SESSION_TOKEN", set: "canary-aws-token"},
		{name: "the ECS task role endpoint", key: "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", set: "/v2/credentials/canary"},
		{name: "the web identity token", key: "AWS_WEB_IDENTITY_TOKEN_FILE", set: "/var/run/secrets/canary"},
		{name: "the GitHub token", key: "GITHUB_TOKEN", set: "ghs_canary"},
		{name: "the webhook secret", key: "RUNNER_WEBHOOK_SECRET", set: "canary-webhook"},
		{name: "the Slack token", key: "SLACK_BOT_TOKEN", set: "xoxb-canary"},
		{name: "a Terraform registry token", key: "TF_TOKEN_app_terraform_io", set: "canary-tf-token"},
		{name: "a Terraform variable", key: "TF_VAR_db_password", set: "canary-tf-var"},
		{name: "another cloud's credentials", key: "GOOGLE_APPLICATION_CREDENTIALS", set: "/canary.json"},
		{name: "the runner's target OS is the build's own", key: "GOOS", set: "windows", want: "linux"},
		{name: "the runner's target arch is the build's own", key: "GOARCH", set: "arm64", want: "amd64"},
		{name: "cgo stays off", key: "CGO_ENABLED", set: "1", want: "0"},
		{name: "no workspace", key: "GOWORK", set: "/canary/go.work", want: "off"},
		{name: "the module proxy", key: "GOPROXY", set: goEnv["GOPROXY"], want: goEnv["GOPROXY"]},
		{name: "private modules", key: "GOPRIVATE", set: "example.com/private", want: "example.com/private"},
		{name: "private modules skip the checksum database", key: "GONOSUMDB", set: "example.com/private",
			want: "example.com/private"},
		{name: "the checksum database", key: "GOSUMDB", set: "sum.golang.org", want: "sum.golang.org"},
		{name: "go flags", key: "GOFLAGS", set: goEnv["GOFLAGS"], want: goEnv["GOFLAGS"]},
		{name: "the build cache", key: "GOCACHE", set: goEnv["GOCACHE"], want: goEnv["GOCACHE"]},
		{name: "the module cache", key: "GOMODCACHE", set: goEnv["GOMODCACHE"], want: goEnv["GOMODCACHE"]},
		{name: "the CA bundle", key: "SSL_CERT_FILE", set: "/etc/ssl/certs/ca-certificates.crt",
			want: "/etc/ssl/certs/ca-certificates.crt"},
		{name: "the proxy exceptions", key: "NO_PROXY", set: "169.254.169.254", want: "169.254.169.254"},
		{name: "the temp dir", key: "TMPDIR", set: os.TempDir(), want: os.TempDir()},
		{name: "the builder's own addition", key: "GOBUILD_EXTRA", want: "from-the-builder"},
	}
	for _, tt := range tests {
		if tt.set != "" {
			t.Setenv(tt.key, tt.set)
		}
	}
	dir := t.TempDir()
	dump := filepath.Join(dir, "environ")
	wrapper := filepath.Join(dir, "go")
	if err := os.WriteFile(wrapper, []byte(fmt.Sprintf(envDumpingGo, dump, realGo)), 0o755); err != nil {
		t.Fatal(err)
	}
	b := &image.GoBuilder{Go: wrapper, Env: []string{"GOBUILD_EXTRA=from-the-builder"}, TempDir: t.TempDir()}
	var log syncBuffer
	if _, err := b.Build(context.Background(), spec(), &log); err != nil {
		t.Fatalf("build: %v\nlog:\n%s", err, log.String())
	}
	raw, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, kv := range bytes.Split(bytes.TrimSuffix(raw, []byte{0}), []byte{0}) {
		k, v, _ := strings.Cut(string(kv), "=")
		seen[k] = v
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := seen[tt.key]
			switch {
			case tt.want == "" && ok:
				t.Errorf("go build saw %s=%q", tt.key, v)
			case tt.want != "" && v != tt.want:
				t.Errorf("go build saw %s=%q, want %q", tt.key, v, tt.want)
			}
		})
	}
	for _, k := range []string{"PATH", "HOME"} {
		if seen[k] != os.Getenv(k) {
			t.Errorf("go build saw %s=%q, want the runner's %q", k, seen[k], os.Getenv(k))
		}
	}
	for k, v := range seen {
		for _, prefix := range []string{"AWS_", "GITHUB_", "SLACK_", "RUNNER_", "TF_"} {
			if strings.HasPrefix(k, prefix) {
				t.Errorf("go build saw %s=%q", k, v)
			}
		}
	}
}
