// Package changes decides which environments and apps a set of changed files affects, following
// local Terraform module calls (read from the HCL) from each environment, transitively.
package changes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"

	"github.com/gitops-runner/runner/internal/config"
)

// maxFileReasons caps the per-file reasons for one environment or app, so a large change stays readable.
const maxFileReasons = 20

// Result is what a change affects.
type Result struct {
	Environments []string            // in config order
	Apps         []string            // in config order
	Reasons      map[string][]string // environment or app name -> why, e.g. "environments/dev/main.tf changed"
}

// Affected maps changed paths (slash-separated, relative to root, as git reports them) to the
// environments and apps of cfg they affect. root is a checkout of the commit whose configuration
// counts. A change under an environment's dir affects it; a change under a local module dir
// affects every environment that calls the module, directly or through other local modules; a
// change to .runner.yaml affects every environment; a change under an app's path affects the app.
//
// Environments whose configuration or local modules are missing or unparseable are reported in
// the error (with the path); the Result still holds what could be decided.
func Affected(root string, cfg *config.Repo, changed []string) (Result, error) {
	res := Result{Reasons: map[string][]string{}}
	files := normalize(changed)
	configChanged := false
	for _, f := range files {
		if f == config.RepoFile {
			configChanged = true
		}
	}

	g := &graph{root: root, modules: map[string]*module{}}
	var errs []error
	for _, env := range cfg.Environments {
		reach, err := g.reachable(env.Dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("environment %s: %w", env.Name, err))
		}
		var reasons []string
		if configChanged {
			reasons = append(reasons, config.RepoFile+" changed")
		}
		reasons = append(reasons, fileReasons(files, env.Dir)...)
		for _, r := range reach { // nearest modules first
			if anyUnder(files, r.dir) {
				reasons = append(reasons, r.reason())
			}
		}
		if len(reasons) > 0 {
			res.Environments = append(res.Environments, env.Name)
			res.Reasons[env.Name] = reasons
		}
	}
	for _, app := range cfg.Apps {
		if reasons := fileReasons(files, app.Path); len(reasons) > 0 {
			res.Apps = append(res.Apps, app.Name)
			res.Reasons[app.Name] = append(res.Reasons[app.Name], reasons...)
		}
	}
	return res, errors.Join(errs...)
}

// normalize cleans the paths and drops duplicates and ones that leave the repository.
func normalize(changed []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range changed {
		p := path.Clean(strings.TrimPrefix(filepath.ToSlash(c), "/"))
		if p == "." || p == ".." || strings.HasPrefix(p, "../") || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func under(file, dir string) bool {
	return dir == "." || file == dir || strings.HasPrefix(file, dir+"/")
}

func anyUnder(files []string, dir string) bool {
	for _, f := range files {
		if under(f, dir) {
			return true
		}
	}
	return false
}

func fileReasons(files []string, dir string) []string {
	var out []string
	n := 0
	for _, f := range files {
		if !under(f, dir) {
			continue
		}
		if n++; n <= maxFileReasons {
			out = append(out, f+" changed")
		}
	}
	if n > maxFileReasons {
		out = append(out, fmt.Sprintf("and %d more files under %s", n-maxFileReasons, dir))
	}
	return out
}

// reached is a local module an environment uses, with the modules it is called through.
type reached struct {
	dir string
	via []string // intermediate module dirs, outermost first; empty for a direct call
}

func (r reached) reason() string {
	if len(r.via) == 0 {
		return fmt.Sprintf("module %s changed", r.dir)
	}
	return fmt.Sprintf("module %s changed (via %s)", r.dir, strings.Join(r.via, ", "))
}

type module struct {
	calls []string // local module dirs it calls, relative to root, sorted
	err   error
}

// graph loads modules once per Affected call; module dirs are relative to root, slash-separated.
type graph struct {
	root    string
	modules map[string]*module
}

// reachable lists the local modules called from dir, directly or transitively, breadth first (so
// each is reported through its shortest call chain), guarding against cycles.
func (g *graph) reachable(dir string) ([]reached, error) {
	var errs []error
	start := g.load(dir)
	if start.err != nil {
		errs = append(errs, start.err)
	}
	seen := map[string]bool{dir: true}
	var out []reached
	queue := []reached{}
	for _, c := range start.calls {
		if !seen[c] {
			seen[c] = true
			queue = append(queue, reached{dir: c})
		}
	}
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		out = append(out, r)
		m := g.load(r.dir)
		if m.err != nil {
			errs = append(errs, m.err)
		}
		for _, c := range m.calls {
			if !seen[c] {
				seen[c] = true
				via := append(append([]string(nil), r.via...), r.dir)
				queue = append(queue, reached{dir: c, via: via})
			}
		}
	}
	return out, errors.Join(errs...)
}

func (g *graph) load(dir string) *module {
	if m, ok := g.modules[dir]; ok {
		return m
	}
	m := &module{}
	g.modules[dir] = m
	abs := filepath.Join(g.root, filepath.FromSlash(dir))
	fi, err := os.Stat(abs)
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
	case !tfconfig.IsModuleDir(abs):
		m.err = fmt.Errorf("%s: no Terraform files", dir)
		return m
	}
	mod, diags := tfconfig.LoadModule(abs)
	if diags.HasErrors() {
		m.err = g.diagError(dir, diags)
		return m
	}
	seen := map[string]bool{}
	var errs []error
	for _, call := range mod.ModuleCalls {
		if !isLocal(call.Source) {
			continue // registry, git, http ... sources are versioned elsewhere
		}
		// Terraform reads backslashes in local sources as slashes on every platform.
		target := path.Join(dir, strings.ReplaceAll(call.Source, `\`, "/"))
		if target == ".." || strings.HasPrefix(target, "../") {
			errs = append(errs, fmt.Errorf("%s: module %q: source %q is outside the repository", dir, call.Name, call.Source))
			continue
		}
		if !seen[target] {
			seen[target] = true
			m.calls = append(m.calls, target)
		}
	}
	sort.Strings(m.calls)
	m.err = errors.Join(errs...)
	return m
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

// diagError reports the first error diagnostic as "file:line: summary: detail", file relative to root.
func (g *graph) diagError(dir string, diags tfconfig.Diagnostics) error {
	for _, d := range diags {
		if d.Severity != tfconfig.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Pos != nil && d.Pos.Filename != "" {
			file := d.Pos.Filename
			if rel, err := filepath.Rel(g.root, file); err == nil && !strings.HasPrefix(rel, "..") {
				file = filepath.ToSlash(rel)
			}
			return fmt.Errorf("%s:%d: %s", file, d.Pos.Line, msg)
		}
		return fmt.Errorf("%s: %s", dir, msg)
	}
	return fmt.Errorf("%s: %v", dir, diags)
}
