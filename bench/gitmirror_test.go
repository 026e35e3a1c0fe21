package bench

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/gitops-runner/runner/bench/bigrepo"
	"github.com/gitops-runner/runner/internal/changes"
	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/gitrepo"
	"github.com/gitops-runner/runner/internal/testenv/gitserver"
)

// BenchmarkGitMirror compares the runner's git mirror with the git CLI on a large generated monorepo
// (bench/bigrepo: 30,000 commits on main, 5,000 files, 1,300 refs, a 244 MB pack) served over smart HTTP
// by git http-backend on 127.0.0.1, side by side in one run (issue 16): a cold mirror (Mirrors.Sync into
// an empty directory, go-git and git CLI transports, against git clone --mirror), a warm fetch of one new
// commit (against git fetch), a full work tree of a commit (Mirror.Checkout against git archive | tar -x)
// and the sparse work tree of a pull request touching one environment (Mirror.CheckoutPaths against git
// archive -- paths | tar -x). The runner's side runs in a child process (this test binary re-executed),
// so its peak RSS is the runner code's alone. It measures once, whatever b.N.
func BenchmarkGitMirror(b *testing.B) {
	if testing.Short() {
		b.Skip("large repository benchmark; not in -short runs")
	}
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git not installed")
	}
	ctx, cancel := context.WithTimeout(b.Context(), 45*time.Minute)
	defer cancel()
	src, err := bigrepo.DefaultDir()
	if err != nil {
		b.Fatal(err)
	}
	stats, err := bigrepo.Generate(ctx, src, bigrepo.Options{}, progressTo(b))
	if err != nil {
		b.Fatal(err)
	}
	report(b, "repository: %s", stats)
	root := b.TempDir()
	served := filepath.Join(root, "git", "acme", "platform.git")
	if err := bigrepo.Copy(src, served); err != nil {
		b.Fatal(err)
	}
	gs, err := gitserver.Start(filepath.Join(root, "git"), gitToken)
	if err != nil {
		b.Skipf("git http server not available: %v", err)
	}
	b.Cleanup(gs.Close)
	warmPageCache(b, served)
	e := &mirrorBench{b: b, ctx: ctx, url: gs.URL("acme/platform"), dir: root, peakrss: buildPeakRSS(b, root)}
	before := loadAvg()

	floor, _ := e.run(exec.Command("true"))
	base := e.runner(childSpec{Op: "noop"})
	var rows []mirrorRow

	// Cold: each side into an empty directory; the last mirror of each is kept for the next steps.
	goGit, gitCLI := runnerSide(gitrepo.TransportGoGit), runnerSide(gitrepo.TransportGit)
	sides := []string{gitSide, goGit, gitCLI}
	mirrors := map[string]string{} // side -> mirror root (runner) or mirror path (git)
	cold := map[string][]measured{}
	for run := range coldRuns {
		for k := range sides {
			side := sides[(k+run)%len(sides)]
			dir := filepath.Join(root, fmt.Sprintf("cold-%s-%d", side, run))
			var m measured
			if side == gitSide {
				m = e.git("", "clone", "--mirror", "--quiet", e.url, dir)
			} else {
				m = e.runner(childSpec{Op: "sync", Transport: transportOf(side), Root: dir})
			}
			mirrors[side] = dir
			cold[side] = append(cold[side], m)
			if run < coldRuns-1 {
				_ = os.RemoveAll(dir)
			}
		}
	}
	rows = append(rows, e.rows("cold mirror", cold, sides, 1.5)...)
	e.checkMirrors(stats.Head, cold, mirrors[gitSide])

	// Warm: one new commit on main, then each side fetches it.
	warm := map[string][]measured{}
	for i := range warmRuns {
		head, err := bigrepo.AddCommit(ctx, served, i+1)
		if err != nil {
			b.Fatal(err)
		}
		for k := range sides {
			side := sides[(k+i)%len(sides)]
			var m measured
			if side == gitSide {
				m = e.git(mirrors[gitSide], "fetch", "--quiet", "--prune", "origin")
				m.head = e.revParse(mirrors[gitSide], "refs/heads/main")
			} else {
				m = e.runner(childSpec{Op: "sync", Transport: transportOf(side), Root: mirrors[side]})
			}
			if m.head != head {
				b.Errorf("warm fetch %d, %s: main is %s, want %s", i+1, side, m.head, head)
			}
			warm[side] = append(warm[side], m)
		}
	}
	rows = append(rows, e.rows("warm fetch (1 commit)", warm, sides, 2)...)
	sha := e.revParse(mirrors[gitSide], "refs/heads/main")

	// Work trees: each runner side checks out from its own mirror (the go-git transport reads with go-git,
	// the git transport with git ls-tree and git cat-file --batch), git archive reads git's own mirror.
	treeSides := []string{gitSide, goGit, gitCLI}
	full := e.trees(sha, nil, mirrors, treeSides, false)
	rows = append(rows, e.rows("full work tree", full, treeSides, 1.5)...)
	paths := sparsePaths(b, full[gitSide][0].dir)
	sparse := e.trees(sha, paths, mirrors, treeSides, false)
	rows = append(rows, e.rows(fmt.Sprintf("sparse work tree (%d paths)", len(paths)), sparse, treeSides, 0)...)
	// A runner is long-lived: its first run after a start opens the mirror's packs, later runs find them open.
	// auto (the default) reads the git transport's mirror: git fetches it, and selections are read with go-git.
	auto := runnerSide(gitrepo.TransportAuto)
	mirrors[auto] = mirrors[gitCLI]
	againSides := append(slices.Clone(treeSides), auto)
	again := e.trees(sha, paths, mirrors, againSides, true)
	rows = append(rows, e.rows(fmt.Sprintf("sparse-again work tree (%d paths, the next commit in the process)", len(paths)), again, againSides, 0)...)

	e.table(rows, floor, base, before)
	report(b, "sparse paths: %s", strings.Join(paths, " "))
	for _, r := range rows {
		if r.missed != "" {
			report(b, "TARGET MISSED: %s, %s: %s", r.step, r.side, r.missed)
		}
		b.ReportMetric(r.wall.Seconds(), r.metric+"-s")
		b.ReportMetric(mb(r.rssKB), r.metric+"-rss-MB")
		b.ReportMetric(mb(r.treeKB), r.metric+"-tree-MB")
		if r.ratio > 0 {
			b.ReportMetric(r.ratio, r.metric+"/git-x")
		}
	}
}

// How often each step runs per side (the report has the medians). A round of cold mirrors takes
// about 40 s here.
const (
	coldRuns = 3
	warmRuns = 5
	treeRuns = 5
)

// childEnv carries a childSpec to TestGitMirrorChild in the re-executed test binary.
const childEnv = "RUNNER_BENCH_GITMIRROR_CHILD"

// childSpec is one operation of the runner's mirror done in a child process.
type childSpec struct {
	Op        string   // noop, sync, checkout or paths
	Transport string   // of the Mirrors
	Root      string   // mirror root
	URL       string   // repository URL
	Token     string   // git server token
	SHA       string   // commit to check out
	Dir       string   // work tree
	Paths     []string // of a sparse work tree (git's side)
	Env       string   // the environment a sparse work tree is for (the runner's side)
	Out       string   // file the child writes its childResult to
	// Again makes "paths" write the sparse work tree of the commit's parent first (into Dir-first), then time
	// the commit's: a long-lived runner's next run, whose mirror keeps the blobs it read and whose change
	// detection keeps what it parsed (one file of the environment differs).
	Again bool
}

type childResult struct {
	Took  time.Duration            // the operation alone, in the child
	Parts map[string]time.Duration // of a sparse work tree: see sparseTree
	Path  string                   // the mirror's directory
	Err   string
}

// TestGitMirrorChild is BenchmarkGitMirror's child process; it does nothing in a normal test run.
func TestGitMirrorChild(t *testing.T) {
	raw, ok := os.LookupEnv(childEnv)
	if !ok {
		return
	}
	var spec childSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	res := runChild(t.Context(), spec)
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spec.Out, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func runChild(ctx context.Context, s childSpec) (res childResult) {
	if s.Op == "noop" {
		return res
	}
	ms := gitrepo.NewMirrors(s.Root, gitrepo.Auth{Token: s.Token}, nil, gitrepo.WithTransport(gitrepo.Transport(s.Transport)))
	fail := func(err error) childResult { res.Err = err.Error(); return res }
	start := time.Now()
	if s.Op == "sync" {
		m, err := ms.Sync(ctx, s.URL)
		res.Took = time.Since(start)
		if err != nil {
			return fail(err)
		}
		res.Path = m.Path()
		return res
	}
	m, err := ms.Sync(ctx, s.URL, s.SHA) // the mirror has the commit: no fetch
	if err != nil {
		return fail(err)
	}
	cache := changes.NewCache() // the engine's: one per runner process
	if s.Op == "paths" && s.Again {
		// The runner's previous run: the parent commit, which the warm fetch step's commit changed one file of
		// (environments/dev/variables.tf), as a pull request's next push does.
		out, err := exec.CommandContext(ctx, "git", "--git-dir", m.Path(), "rev-parse", s.SHA+"^").Output()
		if err != nil {
			return fail(fmt.Errorf("the parent of %s: %w", s.SHA, err))
		}
		if _, err := sparseTree(ctx, m, strings.TrimSpace(string(out)), s.Dir+"-first", s.Env, cache); err != nil {
			return fail(err)
		}
	}
	start = time.Now()
	switch s.Op {
	case "checkout":
		err = m.Checkout(ctx, s.SHA, s.Dir)
	case "paths":
		res.Parts, err = sparseTree(ctx, m, s.SHA, s.Dir, s.Env, cache)
	default:
		err = fmt.Errorf("unknown operation %q", s.Op)
	}
	res.Took = time.Since(start)
	if d, ok := res.Parts[partWorkTree]; ok {
		res.Took = d // change detection is the pipeline's whatever the work tree; reported on its own
	}
	if err != nil {
		return fail(err)
	}
	return res
}

// countRefs counts a mirror's refs with git (loose and packed, whoever wrote them); -1 if it cannot.
func countRefs(repo string) int {
	out, err := exec.Command("git", "--git-dir", repo, "for-each-ref", "--format=x").Output()
	if err != nil {
		return -1
	}
	return strings.Count(string(out), "\n")
}

// measured is one timed operation: wall time and the peak RSS of its process tree.
type measured struct {
	wall   time.Duration
	rssKB  int64  // the peak of the largest single process of the tree (exact)
	treeKB int64  // the largest sum over the tree's processes (sampled)
	anonKB int64  // the same, anonymous memory only: without mapped files (packs, binaries)
	head   string // main after a sync or fetch
	refs   int
	dir    string // work tree
	files  int    // in the work tree
	parts  map[string]time.Duration
}

type mirrorBench struct {
	b       *testing.B
	ctx     context.Context
	url     string
	dir     string
	peakrss string // bench/bigrepo/cmd/peakrss, built
	seq     int
}

// buildPeakRSS builds the small wrapper every measured command runs under.
func buildPeakRSS(b *testing.B, dir string) string {
	b.Helper()
	bin := filepath.Join(dir, "peakrss")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/gitops-runner/runner/bench/bigrepo/cmd/peakrss").CombinedOutput()
	if err != nil {
		b.Fatalf("go build peakrss: %v\n%s", err, out)
	}
	return bin
}

// runner does s in a child process and returns the child's own time for the operation and its peak RSS.
func (e *mirrorBench) runner(s childSpec) measured {
	e.b.Helper()
	e.seq++
	s.URL, s.Token = e.url, gitToken
	s.Out = filepath.Join(e.dir, fmt.Sprintf("child-%d.json", e.seq))
	raw, err := json.Marshal(s)
	if err != nil {
		e.b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGitMirrorChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	m, out := e.run(cmd)
	data, err := os.ReadFile(s.Out)
	if err != nil {
		e.b.Fatalf("runner %s: %v\n%s", s.Op, err, out)
	}
	var res childResult
	if err := json.Unmarshal(data, &res); err != nil {
		e.b.Fatal(err)
	}
	if res.Err != "" {
		e.b.Fatalf("runner %s (%s): %s", s.Op, s.Transport, res.Err)
	}
	m.wall, m.parts = res.Took, res.Parts
	if s.Op == "sync" {
		m.head, m.refs = e.revParse(res.Path, "refs/heads/main"), countRefs(res.Path)
	}
	return m
}

// git runs the git CLI with the token as an HTTP header (as a CI job would), timed from the parent.
func (e *mirrorBench) git(repo string, args ...string) measured {
	e.b.Helper()
	if repo != "" {
		args = append([]string{"-C", repo}, args...)
	}
	cmd := exec.Command("git", args...)
	basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + gitToken))
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.extraHeader", "GIT_CONFIG_VALUE_0=Authorization: Basic "+basic)
	m, _ := e.run(cmd)
	if len(args) > 0 && args[0] == "clone" {
		m.refs = countRefs(args[len(args)-1])
		m.head = e.revParse(args[len(args)-1], "refs/heads/main")
	}
	return m
}

// run runs c (made with exec.Command: its context is the benchmark's) under peakrss, which measures its
// memory, and fails the benchmark when it fails.
func (e *mirrorBench) run(c *exec.Cmd) (measured, string) {
	e.b.Helper()
	e.seq++
	rssFile := filepath.Join(e.dir, fmt.Sprintf("rss-%d", e.seq))
	cmd := exec.CommandContext(e.ctx, e.peakrss, append([]string{rssFile, c.Path}, c.Args[1:]...)...)
	cmd.Env, cmd.Dir = c.Env, c.Dir
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 10 * time.Second
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		e.b.Fatal(err)
	}
	err := cmd.Wait()
	wall := time.Since(start)
	if err != nil {
		e.b.Fatalf("%s: %v\n%s", strings.Join(c.Args, " "), err, out.String())
	}
	data, err := os.ReadFile(rssFile)
	if err != nil {
		e.b.Fatal(err)
	}
	var u struct {
		MaxRSSKB   int64 `json:"max_rss_kb"`
		TreeKB     int64 `json:"tree_kb"`
		TreeAnonKB int64 `json:"tree_anon_kb"`
	}
	if err := json.Unmarshal(data, &u); err != nil || u.MaxRSSKB <= 0 {
		e.b.Fatalf("peakrss wrote %q (%v)", data, err)
	}
	return measured{wall: wall, rssKB: u.MaxRSSKB, treeKB: u.TreeKB, anonKB: u.TreeAnonKB}, out.String()
}

func (e *mirrorBench) revParse(repo, rev string) string {
	e.b.Helper()
	out, err := exec.Command("git", "--git-dir", repo, "rev-parse", "--verify", rev).Output()
	if err != nil {
		e.b.Fatalf("rev-parse %s in %s: %v", rev, repo, err)
	}
	return strings.TrimSpace(string(out))
}

// trees checks sha out treeRuns times per side into fresh directories (the whole tree when paths is
// nil); the first work tree of each side is kept, the others removed.
func (e *mirrorBench) trees(sha string, paths []string, mirrors map[string]string, sides []string, again bool) map[string][]measured {
	e.b.Helper()
	res := map[string][]measured{}
	kind := "full"
	if paths != nil {
		kind = "sparse"
	}
	if again {
		kind += "-again"
	}
	for i := range treeRuns {
		for k := range sides {
			side := sides[(k+i)%len(sides)]
			dir := filepath.Join(e.dir, fmt.Sprintf("%s-%s-%d", kind, side, i))
			var m measured
			if side == gitSide {
				// git archive writes the tree; tar -x makes the files: the CLI's way to a tree without .git.
				args := []string{"-o", "pipefail", "-c", `m=$1 s=$2 d=$3; shift 3; mkdir -p "$d" && git --git-dir "$m" archive "$s" -- "$@" | tar -x -C "$d"`,
					"bash", mirrors[gitSide], sha, dir}
				m, _ = e.run(exec.Command("bash", append(args, paths...)...))
			} else {
				op := "checkout"
				if paths != nil {
					op = "paths"
				}
				m = e.runner(childSpec{Op: op, Transport: transportOf(side), Root: mirrors[side], SHA: sha, Dir: dir, Paths: paths, Env: "dev", Again: again})
				_ = os.RemoveAll(dir + "-first")
			}
			m.dir, m.files = dir, countFiles(e.b, dir)
			res[side] = append(res[side], m)
			if i > 0 {
				_ = os.RemoveAll(dir)
			}
		}
	}
	if paths != nil {
		for _, side := range sides[1:] {
			var parts []string
			for _, name := range []string{partRead, partNeeds, partWrite, partDetect} {
				var ds []time.Duration
				for _, m := range res[side] {
					ds = append(ds, m.parts[name])
				}
				parts = append(parts, fmt.Sprintf("%s %.3f s", name, median(ds).Seconds()))
			}
			report(e.b, "%s work tree, %s, medians: %s", kind, side, strings.Join(parts, ", "))
		}
	}
	for _, side := range sides[1:] {
		got, want := res[side][0].files, res[gitSide][0].files
		switch {
		case paths == nil && got != want:
			e.b.Errorf("%s work tree of %s, %s: %d files, git archive made %d", kind, sha, side, got, want)
		case paths != nil:
			// The runner works out what the environment needs; git archive is given it by the benchmark.
			// Each must hold what the other wrote.
			if lost := missingFrom(e.b, res[gitSide][0].dir, res[side][0].dir); len(lost) > 0 {
				e.b.Errorf("%s work tree of %s, %s: %d files, lacks %d of git archive's %d: %v", kind, sha, side, got, len(lost), want, lost[:min(5, len(lost))])
			}
			if extra := missingFrom(e.b, res[side][0].dir, res[gitSide][0].dir); len(extra) > 0 {
				e.b.Errorf("%s work tree of %s, %s: %d files, %d more than git archive's %d: %v", kind, sha, side, got, len(extra), want, extra[:min(5, len(extra))])
			}
		}
	}
	return res
}

// missingFrom lists the files under want that are not under got (relative paths).
func missingFrom(b *testing.B, want, got string) []string {
	b.Helper()
	var lost []string
	err := filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(want, p)
		if err != nil {
			return err
		}
		if _, err := os.Lstat(filepath.Join(got, rel)); err != nil {
			lost = append(lost, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return lost
}

// checkMirrors fails the benchmark when a cold mirror does not have main's head or all refs.
func (e *mirrorBench) checkMirrors(head string, cold map[string][]measured, gitMirror string) {
	want := countRefs(gitMirror)
	for side, ms := range cold {
		m := ms[len(ms)-1]
		if m.head != head || m.refs != want {
			e.b.Errorf("cold mirror, %s: main %s with %d refs; want %s with %d", side, m.head, m.refs, head, want)
		}
	}
}

// mirrorRow is one line of the report: a step's median for one side, and its ratio to git's.
type mirrorRow struct {
	step, side, metric string
	runs               int
	wall               time.Duration
	rssKB, treeKB      int64
	anonKB             int64
	ratio              float64
	target, missed     string
}

// rows makes the report lines of a step: git first, then each runner transport with its ratio to git.
// ratioTarget 0 means the target is absolute (the sparse work tree: at most 0.1 s).
func (e *mirrorBench) rows(step string, res map[string][]measured, sides []string, ratioTarget float64) []mirrorRow {
	prefix := strings.Fields(step)[0]
	var out []mirrorRow
	var gitWall time.Duration
	for _, side := range sides {
		ms := res[side]
		name, metric := sideName(side)
		r := mirrorRow{step: step, side: name, runs: len(ms), metric: prefix + "-" + metric}
		var walls []time.Duration
		for _, m := range ms {
			walls = append(walls, m.wall)
			r.rssKB, r.treeKB, r.anonKB = max(r.rssKB, m.rssKB), max(r.treeKB, m.treeKB), max(r.anonKB, m.anonKB)
		}
		r.wall = median(walls)
		if side == gitSide {
			gitWall = r.wall
			out = append(out, r)
			continue
		}
		r.ratio = ratio(r.wall, gitWall)
		switch {
		case ratioTarget > 0:
			r.target = fmt.Sprintf("<= %.1fx", ratioTarget)
			if r.ratio > ratioTarget {
				r.missed = fmt.Sprintf("%.2fx git (target <= %.1fx)", r.ratio, ratioTarget)
			}
		default:
			r.target = "<= 0.10 s"
			if r.wall > 100*time.Millisecond {
				r.missed = fmt.Sprintf("%.3f s (target <= 0.10 s)", r.wall.Seconds())
			}
		}
		if prefix == "cold" {
			r.target += ", <= 150 MB"
			if r.treeKB > 150*1024 {
				r.missed = strings.TrimSpace(r.missed + fmt.Sprintf(" peak RSS %.0f MB (target <= 150 MB)", mb(r.treeKB)))
			}
		}
		out = append(out, r)
	}
	return out
}

// The sides of a comparison: the git CLI by hand, and the runner with each transport.
const gitSide = "git"

func runnerSide(t gitrepo.Transport) string { return "runner-" + string(t) }

func transportOf(side string) string { return strings.TrimPrefix(side, "runner-") }

func mb(kb int64) float64 { return float64(kb) / 1024 }

// sideName is the side's name in the table and in the metrics.
func sideName(side string) (name, metric string) {
	switch side {
	case gitSide:
		return "git CLI", "git"
	case runnerSide(gitrepo.TransportGoGit):
		return "runner, go-git transport", "runner-gogit"
	case runnerSide(gitrepo.TransportGit):
		return "runner, git CLI transport", "runner-gitcli"
	case runnerSide(gitrepo.TransportAuto):
		return "runner, auto (the default)", "runner-auto"
	}
	return side, side
}

func (e *mirrorBench) table(rows []mirrorRow, floor, base measured, before string) {
	var tab strings.Builder
	w := tabwriter.NewWriter(&tab, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "step\tside\truns\tmedian s\trunner/git\tpeak RSS MB: largest process\tprocess tree\ttree, anonymous\ttarget\t")
	for _, r := range rows {
		ratio := "-"
		if r.ratio > 0 {
			ratio = fmt.Sprintf("%.2fx", r.ratio)
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%.3f\t%s\t%.0f\t%.0f\t%.0f\t%s\t\n", r.step, r.side, r.runs, r.wall.Seconds(), ratio,
			mb(r.rssKB), mb(r.treeKB), mb(r.anonKB), r.target)
	}
	w.Flush()
	report(e.b, "git mirror, runner vs git CLI (loadavg before %q, after %q):\n%s", before, loadAvg(), tab.String())
	report(e.b, "peak RSS: the runner's side is this test binary re-executed, which alone (doing nothing) peaks at %.0f MB; "+
		"every command runs under peakrss, which puts a floor of %.1f MB under the largest-process figure", mb(base.rssKB), mb(floor.rssKB))
}

var sourceRE = regexp.MustCompile(`source\s*=\s*"([^"]+)"`)

// sparsePaths is what a run for a pull request touching environments/dev needs: the configuration, the
// environment and every module it calls, directly or through other modules (read from a full work tree).
func sparsePaths(b *testing.B, tree string) []string {
	b.Helper()
	paths := []string{".runner.yaml"}
	seen := map[string]bool{}
	queue := []string{"environments/dev"}
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		if seen[dir] {
			continue
		}
		seen[dir] = true
		paths = append(paths, dir)
		tfs, _ := filepath.Glob(filepath.Join(tree, filepath.FromSlash(dir), "*.tf"))
		for _, f := range tfs {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			for _, m := range sourceRE.FindAllStringSubmatch(string(data), -1) {
				queue = append(queue, filepath.ToSlash(filepath.Clean(filepath.Join(dir, m[1]))))
			}
		}
	}
	slices.Sort(paths[1:])
	return paths
}

// sparseTree does what a pull request's plan touching env does with its work tree in internal/pipeline:
// checkoutTree reads the commit's tree into memory (its Terraform files and symlinks read up front) and
// loads the configuration from it; change detection (changes.AffectedWith, for a change to env's
// variables.tf) parses the module graph; widen works out what env's projects need (changes.NeedsWith,
// which finds detection's parsing done, through the engine's cache) and writes only that. It returns the
// time of each part; the work tree's time is all but change detection's, which the pipeline does whatever
// the work tree (it did before trees were read from the mirror too).
func sparseTree(ctx context.Context, m *gitrepo.Mirror, sha, dir, env string, cache *changes.Cache) (map[string]time.Duration, error) {
	start := time.Now()
	tree, err := m.Tree(ctx, sha, func(p string) bool { return p == config.RepoFile || changes.TerraformFile(p) })
	if err != nil {
		return nil, err
	}
	cfg, err := config.LoadRepoFS(tree)
	if err != nil {
		return nil, err
	}
	read := time.Now()
	changed := []string{"environments/" + env + "/variables.tf"}
	res, err := changes.AffectedWith(tree, cfg, changed, changes.Options{Cache: cache})
	if err != nil {
		return nil, err
	}
	if !slices.Contains(res.Environments, env) {
		return nil, fmt.Errorf("change detection: %v affected by %v, want %s", res.Environments, changed, env)
	}
	detected := time.Now()
	needs, complete, why := changes.NeedsWith(tree, cfg, []string{env}, changes.Options{Cache: cache})
	if !complete {
		return nil, fmt.Errorf("the sparse work tree of %s would be the whole tree: %s", env, why)
	}
	worked := time.Now()
	if _, err := gitrepo.WriteTree(ctx, tree, dir, gitrepo.Selection{Paths: needs}); err != nil {
		return nil, err
	}
	done := time.Now()
	return map[string]time.Duration{
		partRead: read.Sub(start), partDetect: detected.Sub(read), partNeeds: worked.Sub(detected), partWrite: done.Sub(worked),
		partWorkTree: done.Sub(start) - detected.Sub(read),
	}, nil
}

// The parts of a sparse work tree's time (see sparseTree).
const (
	partRead     = "read the tree and the configuration"
	partDetect   = "change detection (not the work tree's)"
	partNeeds    = "what the plans need"
	partWrite    = "write"
	partWorkTree = "work tree (all but change detection)"
)

func countFiles(b *testing.B, dir string) int {
	b.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		b.Fatal(err)
	}
	return n
}

// warmPageCache reads the served packs once, so that no side pays for reading them from disk.
func warmPageCache(b *testing.B, repo string) {
	b.Helper()
	packs, _ := filepath.Glob(filepath.Join(repo, "objects", "pack", "*"))
	for _, p := range packs {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
}

// progressTo reports the generator's progress lines (a first run generates for about a minute).
func progressTo(b *testing.B) *lineReporter { return &lineReporter{b: b} }

type lineReporter struct{ b *testing.B }

func (l *lineReporter) Write(p []byte) (int, error) {
	report(l.b, "%s", strings.TrimSpace(string(p)))
	return len(p), nil
}
