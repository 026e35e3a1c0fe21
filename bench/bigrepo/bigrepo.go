// Package bigrepo generates, offline and deterministically, a large bare infrastructure monorepo for the git
// mirror benchmarks: the same options always give the same commit IDs, and a finished repository is reused.
package bigrepo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Version changes whenever the generator would write a different repository for the same options, so
// that a cached repository of an older generator is not reused.
const Version = 1

// Options size the repository. Zero fields take the defaults of Defaults.
type Options struct {
	Commits  int    // first-parent commits on main
	Files    int    // files in main's tree
	PRs      int    // pull requests: refs/pull/N/head
	Tags     int    // annotated tags on main
	Branches int    // branches besides main: release points and open pull requests' branches
	Seed     uint64 // of the PCG that draws everything
}

// Defaults is the repository of the benchmarks (issue 16): 30,000 commits on main, 5,000 files, 1,300
// refs and a pack of about 240 MB.
var Defaults = Options{Commits: 30000, Files: 5000, PRs: 1000, Tags: 250, Branches: 49, Seed: 16}

func (o Options) withDefaults() Options {
	d := Defaults
	if o.Commits > 0 {
		d.Commits = o.Commits
	}
	if o.Files > 0 {
		d.Files = o.Files
	}
	if o.PRs > 0 {
		d.PRs = o.PRs
	}
	if o.Tags > 0 {
		d.Tags = o.Tags
	}
	if o.Branches > 0 {
		d.Branches = o.Branches
	}
	if o.Seed != 0 {
		d.Seed = o.Seed
	}
	return d
}

// Stats describe a generated repository.
type Stats struct {
	Head        string        `json:"head"`         // main's commit
	Commits     int           `json:"commits"`      // reachable from main
	FirstParent int           `json:"first_parent"` // main's first-parent chain
	Files       int           `json:"files"`        // in main's tree
	Refs        int           `json:"refs"`         // every ref (heads, tags, pull requests)
	PackBytes   int64         `json:"pack_bytes"`   // objects/pack/*.pack
	Took        time.Duration `json:"took"`         // generation time
	Cached      bool          `json:"-"`            // an earlier generation was reused
}

func (s Stats) String() string {
	how := "generated in " + s.Took.Round(time.Second).String()
	if s.Cached {
		how = "cached (generated in " + s.Took.Round(time.Second).String() + ")"
	}
	return fmt.Sprintf("head %s, %d commits on main (%d first-parent), %d files, %d refs, pack %.1f MB; %s",
		s.Head, s.Commits, s.FirstParent, s.Files, s.Refs, float64(s.PackBytes)/1e6, how)
}

// marker is written into the finished repository; its presence with the same version, options and head
// is what makes Generate skip the work.
type marker struct {
	Version int     `json:"version"`
	Options Options `json:"options"`
	Stats   Stats   `json:"stats"`
}

const markerFile = "bigrepo.json"

// DefaultDir is where the benchmarks keep the repository: $HOME/.cache/gitops-runner/bench-repo/platform.git.
func DefaultDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".cache", "gitops-runner", "bench-repo", "platform.git"), nil
}

// Generate makes the bare repository dir for o, or returns at once when dir already holds it (same
// generator version, same options, main at the recorded head). Progress lines go to progress (nil: none).
// The repository is built beside dir and renamed into place, so dir is never half written.
func Generate(ctx context.Context, dir string, o Options, progress io.Writer) (Stats, error) {
	o = o.withDefaults()
	if s, ok := cached(ctx, dir, o); ok {
		return s, nil
	}
	start := time.Now()
	tmp := fmt.Sprintf("%s.tmp-%d", dir, os.Getpid())
	if err := os.RemoveAll(tmp); err != nil {
		return Stats{}, err
	}
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Dir(tmp), 0o755); err != nil {
		return Stats{}, err
	}
	for _, args := range [][]string{
		{"init", "-q", "--bare", "-b", "main", tmp},
		{"-C", tmp, "config", "gc.auto", "0"},
		{"-C", tmp, "config", "repack.writeBitmaps", "true"},
	} {
		if _, err := git(ctx, nil, args...); err != nil {
			return Stats{}, err
		}
	}
	say(progress, "bigrepo: writing %d commits, %d files, %d pull requests into %s", o.Commits, o.Files, o.PRs, tmp)
	if err := fastImport(ctx, tmp, o, progress); err != nil {
		return Stats{}, err
	}
	say(progress, "bigrepo: fast-import done (%s); repacking", time.Since(start).Round(time.Second))
	// One pack with a bitmap and packed refs, as a hosted repository is kept: the server side of a
	// clone then costs what it costs on GitHub, not a walk of 30,000 commits.
	for _, args := range [][]string{
		{"-C", tmp, "repack", "-a", "-d", "-q", "--write-bitmap-index"},
		{"-C", tmp, "pack-refs", "--all", "--prune"},
	} {
		if _, err := git(ctx, nil, args...); err != nil {
			return Stats{}, err
		}
	}
	s, err := stats(ctx, tmp)
	if err != nil {
		return Stats{}, err
	}
	s.Took = time.Since(start)
	data, err := json.MarshalIndent(marker{Version: Version, Options: o, Stats: s}, "", "  ")
	if err != nil {
		return Stats{}, err
	}
	if err := os.WriteFile(filepath.Join(tmp, markerFile), data, 0o644); err != nil {
		return Stats{}, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return Stats{}, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return Stats{}, err
	}
	return s, nil
}

// cached returns the stats of a finished repository in dir made for o.
func cached(ctx context.Context, dir string, o Options) (Stats, bool) {
	data, err := os.ReadFile(filepath.Join(dir, markerFile))
	if err != nil {
		return Stats{}, false
	}
	var m marker
	if json.Unmarshal(data, &m) != nil || m.Version != Version || m.Options != o {
		return Stats{}, false
	}
	head, err := git(ctx, nil, "-C", dir, "rev-parse", "--verify", "-q", "refs/heads/main^{commit}")
	if err != nil || head != m.Stats.Head {
		return Stats{}, false
	}
	m.Stats.Cached = true
	return m.Stats, true
}

// fastImport streams the history into git fast-import in repo.
func fastImport(ctx context.Context, repo string, o Options, progress io.Writer) error {
	cmd := exec.CommandContext(ctx, "git", "-C", repo, "fast-import", "--quiet", "--done", "--date-format=raw")
	cmd.Env = gitEnv()
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 10 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git fast-import: %w", err)
	}
	werr := writeHistory(ctx, in, o, progress)
	cerr := in.Close()
	err = cmd.Wait()
	if err != nil {
		return fmt.Errorf("git fast-import: %w: %s", err, tail(stderr.String()))
	}
	if werr != nil {
		return fmt.Errorf("write the history: %w", werr)
	}
	return cerr
}

// stats measures the repository with git itself.
func stats(ctx context.Context, repo string) (Stats, error) {
	var s Stats
	var err error
	if s.Head, err = git(ctx, nil, "-C", repo, "rev-parse", "--verify", "refs/heads/main^{commit}"); err != nil {
		return s, err
	}
	count := func(args ...string) (int, error) {
		out, err := git(ctx, nil, append([]string{"-C", repo}, args...)...)
		if err != nil {
			return 0, err
		}
		return strconv.Atoi(out)
	}
	if s.Commits, err = count("rev-list", "--count", "refs/heads/main"); err != nil {
		return s, err
	}
	if s.FirstParent, err = count("rev-list", "--count", "--first-parent", "refs/heads/main"); err != nil {
		return s, err
	}
	lines := func(args ...string) (int, error) {
		out, err := git(ctx, nil, append([]string{"-C", repo}, args...)...)
		if err != nil || out == "" {
			return 0, err
		}
		return strings.Count(out, "\n") + 1, nil
	}
	if s.Files, err = lines("ls-tree", "-r", "--name-only", "refs/heads/main"); err != nil {
		return s, err
	}
	if s.Refs, err = lines("for-each-ref", "--format=%(refname)"); err != nil {
		return s, err
	}
	s.PackBytes, err = PackBytes(repo)
	return s, err
}

// PackBytes is the size of the repository's packs (objects/pack/*.pack).
func PackBytes(repo string) (int64, error) {
	packs, err := filepath.Glob(filepath.Join(repo, "objects", "pack", "*.pack"))
	if err != nil {
		return 0, err
	}
	var n int64
	for _, p := range packs {
		fi, err := os.Stat(p)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
		if err == nil {
			n += fi.Size()
		}
	}
	return n, nil
}

// git runs git with the machine's and the user's configuration left out (so neither changes what is
// generated) and returns its trimmed output.
func git(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = gitEnv()
	cmd.Stdin = stdin
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, tail(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// gitEnv also keeps glibc from handing freed memory back after every object: fast-import allocates and frees
// zlib's buffers per object, and with the default trim threshold that is a brk and fresh page faults each
// time (three quarters of the generation time was in the kernel before this).
func gitEnv() []string {
	return append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "LANG=C", "LC_ALL=C",
		"MALLOC_TOP_PAD_=67108864", "MALLOC_TRIM_THRESHOLD_=268435456")
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

func say(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
