package changes

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"

	"github.com/gitops-runner/runner/internal/repofs"
)

// graph loads each module folder, its reads and its links once per detection; folders are
// repository-relative, slash-separated.
type graph struct {
	fsys    repofs.FS // symlinks followed inside the repository only (within)
	tf      tfconfig.FS
	modules map[string]*module
	read    map[[2]string]*readSet // (module dir, root dir) -> reads: relative paths resolve against the root
	linked  map[string][]Link
	isTF    map[string]bool
	cache   *Cache // shared with other detections; nil: none
	sumsMu  sync.Mutex
	sums    map[string][sha256.Size]byte // fingerprints of folders, once per detection
}

func newGraph(fsys repofs.FS, cache *Cache) *graph {
	fsys = within(fsys)
	return &graph{fsys: fsys, tf: repofs.TFConfig(fsys), modules: map[string]*module{}, read: map[[2]string]*readSet{},
		linked: map[string][]Link{}, isTF: map[string]bool{}, cache: cache, sums: map[string][sha256.Size]byte{}}
}

type call struct{ name, dir string }

type module struct {
	calls []call // local module calls, by target dir
	err   error
}

// reached is a local module a project uses, with the calls it is reached through.
type reached struct {
	dir string
	via []string // "module <name>", innermost first
}

// reachable lists the local modules called from dir, directly or transitively, breadth first (so each
// is reported through its shortest call chain), guarding against cycles. Errors name the folder.
func (g *graph) reachable(dir string) ([]reached, []error) {
	var errs []error
	seen := map[string]bool{dir: true}
	var out []reached
	var queue []reached
	visit := func(from string, via []string) {
		m := g.load(from)
		if m.err != nil {
			errs = append(errs, m.err)
		}
		for _, c := range m.calls {
			if !seen[c.dir] {
				seen[c.dir] = true
				queue = append(queue, reached{dir: c.dir, via: append([]string{"module " + c.name}, via...)})
			}
		}
	}
	visit(dir, nil)
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		out = append(out, r)
		visit(r.dir, r.via)
	}
	return out, errs
}

// reachableDirs lists the module folders reached from dir.
func (g *graph) reachableDirs(dir string) []string {
	rs, _ := g.reachable(dir)
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.dir
	}
	return out
}

func (g *graph) load(dir string) *module {
	if m, ok := g.modules[dir]; ok {
		return m
	}
	m := g.loadModule(dir)
	g.modules[dir] = m
	return m
}

// loadModule loads the module in dir (or takes it from the cache). It touches no map of g's but sums, so
// several run at once (see prepare).
func (g *graph) loadModule(dir string) *module {
	m := &module{}
	fi, err := fs.Stat(g.fsys, dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		m.err = fmt.Errorf("%s: directory does not exist", dir)
		return m
	case err != nil:
		m.err = fmt.Errorf("%s: %w", dir, err)
		return m
	case !fi.IsDir():
		m.err = fmt.Errorf("%s: not a directory", dir)
		return m
	case !tfconfig.IsModuleDirOnFilesystem(g.tf, dir):
		m.err = fmt.Errorf("%s: no Terraform files", dir)
		return m
	}
	sum, cacheable := g.fingerprint(dir)
	if cached, ok := g.cache.module(cacheKey{dir: dir, sum: sum}); cacheable && ok {
		return cached
	}
	if cacheable {
		defer g.cache.putModule(cacheKey{dir: dir, sum: sum}, m)
	}
	mod, diags := tfconfig.LoadModuleFromFilesystem(g.tf, dir)
	if diags.HasErrors() {
		m.err = diagError(dir, diags)
	}
	seen := map[string]bool{}
	var errs []error
	if m.err != nil {
		errs = append(errs, m.err)
	}
	names := make([]string, 0, len(mod.ModuleCalls))
	for n := range mod.ModuleCalls {
		names = append(names, n)
	}
	sort.Strings(names) // a folder called twice is named by its first call in name order, every time
	for _, n := range names {
		c := mod.ModuleCalls[n]
		if !isLocal(c.Source) {
			continue // registry, git, http ... sources are versioned elsewhere
		}
		// Terraform reads backslashes in local sources as slashes on every platform.
		target := path.Join(dir, strings.ReplaceAll(c.Source, `\`, "/"))
		if target == ".." || strings.HasPrefix(target, "../") {
			errs = append(errs, fmt.Errorf("%s: module %q: source %q is outside the repository", dir, c.Name, c.Source))
			continue
		}
		if !seen[target] {
			seen[target] = true
			m.calls = append(m.calls, call{name: c.Name, dir: target})
		}
	}
	sort.Slice(m.calls, func(i, j int) bool { return m.calls[i].dir < m.calls[j].dir })
	m.err = errors.Join(errs...)
	return m
}

// readSet is what one module folder reads, for one root.
type readSet struct {
	reads      []Read
	unresolved []Unresolved
	errs       []string
}

// readMatches reports whether a changed file is what the read reads.
func readMatches(r Read, f string) bool {
	if r.Glob {
		ok, _ := doublestar.Match(r.Path, f)
		return ok
	}
	return f == r.Path
}

func (g *graph) reads(dir, rootDir string) *readSet {
	k := [2]string{dir, rootDir}
	if rs, ok := g.read[k]; ok {
		return rs
	}
	rs := g.readModule(dir, rootDir)
	g.read[k] = rs
	return rs
}

// readModule lists what the module in dir reads for the root module rootDir (or takes it from the
// cache). Like loadModule, several run at once.
func (g *graph) readModule(dir, rootDir string) *readSet {
	sum, cacheable := g.fingerprint(dir)
	if cached, ok := g.cache.readSet(cacheKey{dir: dir, rootDir: rootDir, sum: sum}); cacheable && ok {
		return cached
	}
	rs := &readSet{}
	if cacheable {
		defer g.cache.putReadSet(cacheKey{dir: dir, rootDir: rootDir, sum: sum}, rs)
	}
	reads, unresolved, err := Reads(g.fsys, dir, rootDir)
	rs.reads = reads
	rs.unresolved = unresolved
	if err != nil {
		rs.errs = append(rs.errs, err.Error())
	}
	return rs
}

func (g *graph) links(dir string) []Link {
	if l, ok := g.linked[dir]; ok {
		return l
	}
	l, _ := Links(g.fsys, dir) // a folder that cannot be listed has no links to follow; load reports it
	g.linked[dir] = l
	return l
}

// isOtherModule reports whether file f, under dir, sits in a subfolder of dir that holds Terraform files
// of its own (another module or root, judged on its own).
func (g *graph) isOtherModule(f, dir string) bool {
	for d := path.Dir(f); d != dir && d != "." && under(d, dir); d = path.Dir(d) {
		if g.terraformDir(d) {
			return true
		}
	}
	return false
}

func (g *graph) terraformDir(d string) bool {
	if v, ok := g.isTF[d]; ok {
		return v
	}
	v := hasTerraformFiles(g.fsys, d)
	g.isTF[d] = v
	return v
}

// hasTerraformFiles reports whether the folder dir holds a .tf or .tf.json file (or a symlink so named).
func hasTerraformFiles(fsys repofs.FS, dir string) bool {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && (strings.HasSuffix(n, ".tf") || strings.HasSuffix(n, ".tf.json")) {
			return true
		}
	}
	return false
}

// isLocal is Terraform's rule: local module paths start with ./ or ../.
func isLocal(source string) bool {
	for _, p := range []string{"./", "../", ".\\", "..\\"} {
		if strings.HasPrefix(source, p) {
			return true
		}
	}
	return false
}

// diagError reports the first error diagnostic as "file:line: summary: detail". tfconfig names a file
// by the module folder it was loaded from, so the name is already repository-relative.
func diagError(dir string, diags tfconfig.Diagnostics) error {
	for _, d := range diags {
		if d.Severity != tfconfig.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Pos != nil && d.Pos.Filename != "" {
			// tfconfig joins with filepath.Join: OS separators.
			return fmt.Errorf("%s:%d: %s", filepath.ToSlash(d.Pos.Filename), d.Pos.Line, msg)
		}
		return fmt.Errorf("%s: %s", dir, msg)
	}
	return fmt.Errorf("%s: %v", dir, diags)
}
