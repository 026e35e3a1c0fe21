package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/gitops-runner/runner/internal/proc"
)

// GoBuilder builds Go apps with `go build` and wraps them into images. Set its fields before use and do
// not change them while builds run; one GoBuilder may serve concurrent builds.
type GoBuilder struct {
	// Go is the go binary; default "go" from PATH.
	Go string
	// Env is added to what go build inherits from the runner's environment (see goEnv), e.g. a private
	// GOCACHE or GOMODCACHE under the runner's data directory.
	Env []string
	// TempDir holds each build's output directory; default os.TempDir().
	TempDir string
	// WaitDelay is how long go build gets to stop after SIGINT before it is killed; default 10s.
	WaitDelay time.Duration
	// BaseKeychain authenticates base image pulls; default anonymous.
	BaseKeychain authn.Keychain
	// InsecureBase pulls the base image over plain HTTP (test registries on 127.0.0.1).
	InsecureBase bool
}

var _ Builder = (*GoBuilder)(nil)

// Build compiles s.AppDir once per platform (concurrently) and assembles the image or index.
func (b *GoBuilder) Build(ctx context.Context, s Spec, log io.Writer) (Result, error) {
	if log == nil {
		log = io.Discard
	}
	if s.Name == "" || strings.ContainsAny(s.Name, `/\`) {
		return Result{}, fmt.Errorf("build image: invalid binary name %q", s.Name)
	}
	plats, err := parsePlatforms(s.Platforms)
	if err != nil {
		return Result{}, fmt.Errorf("build image %s: %w", s.Name, err)
	}
	dir, err := os.MkdirTemp(b.TempDir, "image-build-")
	if err != nil {
		return Result{}, fmt.Errorf("build image %s: %w", s.Name, err)
	}
	defer os.RemoveAll(dir)

	base, err := b.base(s.BaseImage)
	if err != nil {
		return Result{}, err
	}
	imgs := make([]v1.Image, len(plats))
	lw := &lockedWriter{w: log}
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range plats {
		g.Go(func() error {
			out := filepath.Join(dir, p.OS+"_"+p.Architecture+p.Variant, s.Name)
			w := &prefixWriter{w: lw, prefix: "[" + p.String() + "] "}
			defer w.Flush()
			// The base image is pulled while go build runs. Its layers are read later, when the image is
			// pushed after Build has returned, with the context they were pulled with: ctx, not gctx, which
			// ends with Build.
			type pulled struct {
				img v1.Image
				err error
			}
			bc := make(chan pulled, 1)
			go func() {
				img, err := base(ctx, p)
				bc <- pulled{img, err}
			}()
			if err := b.goBuild(gctx, s.AppDir, out, p, w); err != nil {
				<-bc
				return fmt.Errorf("go build %s for %s: %w", s.Name, p, err)
			}
			bp := <-bc
			if bp.err != nil {
				return bp.err
			}
			img, err := assemble(bp.img, out, s, p)
			if err != nil {
				return fmt.Errorf("assemble image %s for %s: %w", s.Name, p, err)
			}
			imgs[i] = img
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Result{}, err
	}
	r, err := result(imgs, plats)
	if err != nil {
		return Result{}, fmt.Errorf("build image %s: %w", s.Name, err)
	}
	fmt.Fprintf(log, "built %s %s for %d platform(s)\n", s.Name, r.Digest, len(plats))
	return r, nil
}

func parsePlatforms(ss []string) ([]v1.Platform, error) {
	if len(ss) == 0 {
		ss = []string{"linux/amd64"}
	}
	seen := map[string]bool{}
	out := make([]v1.Platform, 0, len(ss))
	for _, s := range ss {
		p, err := v1.ParsePlatform(s)
		if err != nil {
			return nil, fmt.Errorf("platform %q: %w", s, err)
		}
		if p.OS != "linux" || p.Architecture == "" {
			return nil, fmt.Errorf("platform %q: only linux/<arch> is supported", s)
		}
		if seen[p.String()] {
			return nil, fmt.Errorf("platform %q listed twice", s)
		}
		seen[p.String()] = true
		out = append(out, *p)
	}
	return out, nil
}

// goBuild runs go build in appDir the way terraform-exec runs terraform: SIGINT on cancellation, a grace
// period, then kill; its own process group so the compiler and linker get the signal too.
func (b *GoBuilder) goBuild(ctx context.Context, appDir, out string, p v1.Platform, log io.Writer) error {
	goBin := b.Go
	if goBin == "" {
		goBin = "go"
	}
	cmd := proc.Command(ctx, b.WaitDelay, goBin, "build",
		"-trimpath",
		// -buildvcs=false: VCS stamping depends on the work tree (untracked files set vcs.modified); the
		// revision is in the image labels instead, so the binary depends on the source alone.
		"-buildvcs=false",
		"-ldflags", "-s -w -buildid=",
		"-o", out, ".")
	cmd.Dir = appDir
	env := append(goEnv(os.Environ()), b.Env...)
	env = append(env, "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture, "GOWORK=off")
	switch {
	case p.Architecture == "arm" && p.Variant != "":
		env = append(env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	case p.Architecture == "amd64" && p.Variant != "":
		env = append(env, "GOAMD64="+p.Variant)
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = log, log
	fmt.Fprintf(log, "go build -o %s (GOOS=%s GOARCH=%s)\n", filepath.Base(out), p.OS, p.Architecture)
	err := cmd.Run()
	proc.Reap(cmd)
	if ctx.Err() != nil {
		return fmt.Errorf("cancelled: %w", errors.Join(context.Cause(ctx), err))
	}
	return err
}

// goEnv is what go build gets from the runner's own environment: what any program needs (see proc.Inherit) and
// the Go settings that say where modules come from and where the caches are. The runner's credentials and
// settings (AWS_*, GITHUB_*, SLACK_*, RUNNER_*, TF_*) stay out, and so do GOOS, GOARCH, CGO_ENABLED and the
// like, which each build sets itself. go build runs none of the app's code, but the compiler, the linker and
// git (for modules fetched directly) are better off not holding what they do not need. GOAUTH, NETRC and the
// SSH agent are the runner's way into private module hosts (GOPRIVATE), as for Terraform's module sources.
func goEnv(environ []string) []string {
	return proc.Inherit(environ, []string{
		"GOPROXY", "GONOPROXY", "GOPRIVATE", "GONOSUMDB", "GOSUMDB", "GOINSECURE", "GOVCS", "GOAUTH", "NETRC",
		"GOFLAGS", "GOTOOLCHAIN", "GOROOT", "GOPATH", "GOCACHE", "GOMODCACHE", "GOENV",
		"XDG_CACHE_HOME", "XDG_CONFIG_HOME", // where go finds its cache and `go env -w` settings without GOCACHE/GOENV
		"GOMAXPROCS", "GOMEMLIMIT", // the container's limits, for the compiler
		"SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "GIT_SSH",
	}, nil)
}

// lockedWriter serialises writes from concurrent platform builds.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter writes whole lines, each with prefix, so concurrent builds' output stays readable.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := append([]byte(p.prefix), p.buf[:i+1]...)
		p.buf = p.buf[i+1:]
		if _, err := p.w.Write(line); err != nil {
			return len(b), err
		}
	}
}

// Flush writes a trailing partial line.
func (p *prefixWriter) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		_, _ = p.w.Write(append(append([]byte(p.prefix), p.buf...), '\n'))
		p.buf = nil
	}
}
