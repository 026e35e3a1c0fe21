package image_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
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
