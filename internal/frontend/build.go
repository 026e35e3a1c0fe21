// Package frontend builds the frontend app into a reproducible bundle (npm ci && npm run build, packed as a
// deterministic .tar.gz) and uploads it to the artifacts bucket under its commit SHA.
package frontend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gitops-runner/runner/internal/proc"
)

// DefaultGrace is how long npm gets to exit after SIGINT before it is killed.
const DefaultGrace = 10 * time.Second

// Bundle is a packed build output.
type Bundle struct {
	Path   string
	SHA256 string // hex
	Size   int64
}

// BuildOption adjusts Build.
type BuildOption func(*buildConfig)

type buildConfig struct {
	npm    string
	grace  time.Duration
	env    []string
	output string
}

// WithNPM sets the npm executable (default "npm" from PATH).
func WithNPM(path string) BuildOption { return func(c *buildConfig) { c.npm = path } }

// WithGrace sets how long npm gets between SIGINT and SIGKILL when ctx is cancelled.
func WithGrace(d time.Duration) BuildOption { return func(c *buildConfig) { c.grace = d } }

// WithEnv sets the environment npm starts from (default: the runner's own, cut down to what npm needs, see
// npmEnv); VITE_API_URL is always added.
func WithEnv(env []string) BuildOption { return func(c *buildConfig) { c.env = env } }

// WithOutput sets where the bundle is written (default <appDir>/dist.tar.gz).
func WithOutput(path string) BuildOption { return func(c *buildConfig) { c.output = path } }

// Build runs `npm ci` and `npm run build` in appDir with VITE_API_URL=apiURL, streaming their output to log
// line by line, then packs appDir/dist with Pack. Cancelling ctx sends npm's process group SIGINT, then SIGKILL
// after the grace period.
func Build(ctx context.Context, appDir, apiURL string, log io.Writer, opts ...BuildOption) (Bundle, error) {
	if log == nil {
		log = io.Discard
	}
	cfg := buildConfig{npm: "npm", grace: DefaultGrace, output: filepath.Join(appDir, "dist.tar.gz")}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.env == nil {
		cfg.env = npmEnv(os.Environ())
	}
	env := append(append([]string(nil), cfg.env...), "VITE_API_URL="+apiURL, "NPM_CONFIG_UPDATE_NOTIFIER=false")

	dist := filepath.Join(appDir, "dist")
	// A stale dist/ would leak old files into the bundle if the build does not clean it itself.
	if err := os.RemoveAll(dist); err != nil {
		return Bundle{}, fmt.Errorf("frontend build: remove old dist: %w", err)
	}
	for _, args := range [][]string{{"ci", "--no-audit", "--no-fund"}, {"run", "build"}} {
		if err := run(ctx, cfg, appDir, env, log, args...); err != nil {
			return Bundle{}, fmt.Errorf("frontend build: %w", err)
		}
	}
	if fi, err := os.Stat(dist); err != nil || !fi.IsDir() {
		return Bundle{}, fmt.Errorf("frontend build: npm run build produced no %s directory", dist)
	}
	b, err := Pack(dist, cfg.output)
	if err != nil {
		return Bundle{}, fmt.Errorf("frontend build: %w", err)
	}
	fmt.Fprintf(log, "bundle %s: %d bytes, sha256 %s\n", b.Path, b.Size, b.SHA256)
	return b, nil
}

// npmEnv is what npm gets from the runner's own environment: what any program needs (see proc.Inherit) and
// npm's own settings. npm ci runs the install scripts of every dependency and npm run build runs the app's
// tooling: the runner's webhook secret, GitHub and Slack tokens and AWS credentials stay out of their reach.
func npmEnv(environ []string) []string {
	return proc.Inherit(environ,
		[]string{"NODE_EXTRA_CA_CERTS", "NODE_OPTIONS"},
		[]string{"NPM_CONFIG_", "npm_config_"})
}

// run runs npm with args in its own process group, so a cancel reaches the scripts npm starts too.
func run(ctx context.Context, cfg buildConfig, dir string, env []string, log io.Writer, args ...string) error {
	line := "npm " + strings.Join(args, " ")
	fmt.Fprintf(log, "$ %s\n", line)
	cmd := proc.Command(ctx, cfg.grace, cfg.npm, args...)
	cmd.Dir = dir
	cmd.Env = env
	out := &lineWriter{w: log}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", line, err)
	}
	err := cmd.Wait()
	// Whatever npm left behind (a script that ignored SIGINT, a stray child) goes with it.
	proc.Reap(cmd)
	out.flush()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", line, ctx.Err())
	case errors.Is(err, exec.ErrWaitDelay):
		return fmt.Errorf("%s: exited but left processes holding its output: %w", line, err)
	case err != nil:
		return fmt.Errorf("%s: %w", line, err)
	}
	return nil
}

// maxLine bounds how much of one unterminated line is held before it is written anyway.
const maxLine = 64 << 10

// lineWriter passes whole lines to w, so interleaved stdout/stderr and slow writers never split a line.
type lineWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			if len(l.buf) >= maxLine {
				l.emit(append(l.buf, '\n'))
				l.buf = l.buf[:0]
			}
			return len(p), nil
		}
		l.emit(l.buf[:i+1])
		l.buf = l.buf[i+1:]
	}
}

func (l *lineWriter) emit(line []byte) {
	// A failing log must not fail the build.
	_, _ = l.w.Write(line)
}

func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(append(l.buf, '\n'))
		l.buf = nil
	}
}
