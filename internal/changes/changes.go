// Package changes decides which projects (Terraform roots), environments and apps a set of changed files
// affects, and why: each affected project comes with the chains that lead from a changed file to it.
package changes

import (
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/repofs"
)

// maxReasons caps the reasons kept for one project or app, so a large change stays readable.
const maxReasons = 20

// Result is what a change affects.
type Result struct {
	Environments []string            // in config order
	Projects     map[string][]string // environment -> its affected projects, in the environment's order
	Apps         []string            // in config order
	// Reasons says why, for each affected environment, project and app: one line per reason, such as
	// "modules/net/main.tf → module net → environments/prod/network".
	Reasons map[string][]string
	// Why is the structured form of the project reasons, by project name.
	Why map[string][]Reason
	// Ignored are changed files that affect nothing by the configuration's ignore globs (documentation).
	Ignored []string
	// Uncovered are folders with Terraform files that changed but that no project plans and no project
	// calls as a module: most likely a root that .runner.yaml does not list yet.
	Uncovered []string
	// Unresolved are file reads whose path is not known statically, in the configuration of affected
	// projects: every file under the reading module's folder then counts as read.
	Unresolved []UnresolvedRead
	// Problems are what could not be read, by project: a configuration that does not parse, a missing
	// module. The project still counts as affected when one of its own files changed.
	Problems map[string][]string
}

// Reason is one chain from a changed file to a project.
type Reason struct {
	File  string   `json:"file"`
	Chain []string `json:"chain"` // from the file to the project's folder, e.g. [file, "module net", project dir]
}

func (r Reason) String() string { return strings.Join(r.Chain, " → ") }

// UnresolvedRead is a read whose path could not be worked out, and the project it was found for.
type UnresolvedRead struct {
	Project string `json:"project"`
	Func    string `json:"func"`
	At      string `json:"at"`
	Expr    string `json:"expr"`
}

// Options tune detection beyond the configuration.
type Options struct {
	// AllProjects names environments whose every project counts as affected (a plan command naming them).
	AllProjects map[string]bool
	// Cache keeps what was parsed for later detections (see Cache); nil: nothing is kept.
	Cache *Cache
}

// Affected maps changed paths (slash-separated, relative to the repository's top, as git reports them)
// to the projects, environments and apps of cfg they affect. fsys is the commit whose configuration
// counts: a checkout (repofs.Dir) or the commit itself, read from the mirror.
//
// A project is affected by the files directly in its folder, by those of the local modules it calls
// however deep, by its var files and backend config files, by files its configuration (or its modules')
// reads through file, templatefile, fileset ... with a path known statically, by changes to the targets
// of symlinks in those folders, by its when_modified globs, and by .runner.yaml. Files matching the
// configuration's ignore globs count only when read explicitly (var file, file read, when_modified).
//
// Symlinks are followed only inside the repository (see Links): one that dangles, loops or leads out
// of it (an absolute target always does) is not followed, whatever is on the disk at its target.
func Affected(fsys repofs.FS, cfg *config.Repo, changed []string) (Result, error) {
	return AffectedWith(fsys, cfg, changed, Options{})
}

// AffectedWith is Affected with options.
func AffectedWith(fsys repofs.FS, cfg *config.Repo, changed []string, opts Options) (Result, error) {
	res := Result{Projects: map[string][]string{}, Reasons: map[string][]string{}, Why: map[string][]Reason{},
		Problems: map[string][]string{}}
	files := normalize(changed)
	var counted []string // files that count as a folder's own (not ignored)
	configChanged := false
	for _, f := range files {
		switch {
		case f == config.RepoFile:
			configChanged = true
		case ignored(cfg.Ignore, f):
			res.Ignored = append(res.Ignored, f)
		default:
			counted = append(counted, f)
		}
	}
	g := newGraph(fsys, opts.Cache)
	var roots []string
	for _, p := range cfg.Projects() {
		roots = append(roots, p.Dir)
	}
	g.prepare(roots)
	covered := map[string]bool{}
	for _, env := range cfg.Ordered() {
		for _, p := range env.Projects {
			covered[p.Dir] = true
			reasons, problems, unresolved := g.project(p, files, counted)
			for _, r := range g.reachableDirs(p.Dir) {
				covered[r] = true
			}
			if len(problems) > 0 {
				res.Problems[p.Name] = problems
			}
			if configChanged {
				reasons = append([]Reason{{File: config.RepoFile, Chain: []string{config.RepoFile, "every project"}}}, reasons...)
			}
			if opts.AllProjects[env.Name] && len(reasons) == 0 {
				reasons = []Reason{{Chain: []string{"named by the plan command"}}}
			}
			if len(reasons) == 0 {
				continue
			}
			res.Unresolved = append(res.Unresolved, unresolved...)
			if len(reasons) > maxReasons {
				more := len(reasons) - maxReasons
				reasons = append(reasons[:maxReasons], Reason{Chain: []string{fmt.Sprintf("and %d more", more)}})
			}
			res.Projects[env.Name] = append(res.Projects[env.Name], p.Name)
			res.Why[p.Name] = reasons
			for _, r := range reasons {
				res.Reasons[p.Name] = append(res.Reasons[p.Name], r.String())
				if p.Name != env.Name {
					res.Reasons[env.Name] = append(res.Reasons[env.Name], p.Name+": "+r.String())
				}
			}
		}
		if len(res.Projects[env.Name]) > 0 {
			res.Environments = append(res.Environments, env.Name)
		}
	}
	for _, app := range cfg.Apps {
		var reasons []string
		for _, f := range files {
			if under(f, app.Path) {
				reasons = append(reasons, f+" changed")
			}
		}
		if len(reasons) > maxReasons {
			reasons = append(reasons[:maxReasons], fmt.Sprintf("and %d more files under %s", len(reasons)-maxReasons, app.Path))
		}
		if len(reasons) > 0 {
			res.Apps = append(res.Apps, app.Name)
			res.Reasons[app.Name] = append(res.Reasons[app.Name], reasons...)
		}
	}
	res.Uncovered = uncovered(g.fsys, counted, covered)
	return res, nil
}

// project works out the reasons a project is affected, what could not be read, and its unresolved reads.
func (g *graph) project(p config.Project, files, counted []string) ([]Reason, []string, []UnresolvedRead) {
	var reasons []Reason
	var problems []string
	var unresolved []UnresolvedRead
	seen := map[string]bool{}
	add := func(r Reason) {
		if k := r.String(); !seen[k] {
			seen[k] = true
			reasons = append(reasons, r)
		}
	}
	// The project's folder and each module folder it reaches: own files, reads, links.
	type folder struct {
		dir string
		via []string // the module calls leading to it, innermost first: "module net"
	}
	folders := []folder{{dir: p.Dir}}
	reached, errs := g.reachable(p.Dir)
	for _, e := range errs {
		problems = append(problems, e.Error())
	}
	for _, r := range reached {
		folders = append(folders, folder{dir: r.dir, via: r.via})
	}
	for _, fo := range folders {
		tail := append(append([]string(nil), fo.via...), p.Dir)
		reads := g.reads(fo.dir, p.Dir)
		for _, e := range reads.errs {
			problems = append(problems, e)
		}
		for _, u := range reads.unresolved {
			unresolved = append(unresolved, UnresolvedRead{Project: p.Name, Func: u.Func, At: u.At, Expr: u.Expr})
		}
		recursive := len(reads.unresolved) > 0
		for _, f := range counted {
			if path.Dir(f) == fo.dir && !varFileOnly(f) || (recursive && under(f, fo.dir) && !g.isOtherModule(f, fo.dir)) {
				chain := []string{f}
				if recursive && path.Dir(f) != fo.dir {
					chain = append(chain, "read by a path not known statically ("+reads.unresolved[0].At+")")
				}
				add(Reason{File: f, Chain: append(chain, tail...)})
			}
		}
		for _, rd := range reads.reads {
			for _, f := range files {
				if readMatches(rd, f) {
					add(Reason{File: f, Chain: append([]string{f, rd.Func + " at " + rd.At}, tail...)})
				}
			}
		}
		for _, l := range g.links(fo.dir) {
			for _, f := range files {
				if f == l.Target || under(f, l.Target) {
					add(Reason{File: f, Chain: append([]string{f, "symlink " + l.Path}, tail...)})
				}
			}
		}
	}
	for _, vf := range p.VarFiles {
		rp := p.RepoPath(vf)
		for _, f := range files {
			if f == rp {
				add(Reason{File: f, Chain: []string{f, "var file", p.Dir}})
			}
		}
	}
	for _, bf := range p.BackendFiles() {
		rp := p.RepoPath(bf)
		for _, f := range files {
			if f == rp {
				add(Reason{File: f, Chain: []string{f, "backend config", p.Dir}})
			}
		}
	}
	for _, glob := range p.WhenModified {
		for _, f := range files {
			if ok, _ := doublestar.Match(glob, f); ok {
				add(Reason{File: f, Chain: []string{f, "when_modified " + glob, p.Dir}})
			}
		}
	}
	sort.SliceStable(reasons, func(i, j int) bool { return len(reasons[i].Chain) < len(reasons[j].Chain) })
	return reasons, problems, unresolved
}

// varFileOnly reports whether f is a variables file Terraform reads only when given -var-file (not
// terraform.tfvars or *.auto.tfvars, which it loads from the folder itself): it affects the projects
// that name it, not every project of its folder.
func varFileOnly(f string) bool {
	base := path.Base(f)
	if !strings.HasSuffix(base, ".tfvars") && !strings.HasSuffix(base, ".tfvars.json") {
		return false
	}
	return base != "terraform.tfvars" && base != "terraform.tfvars.json" &&
		!strings.HasSuffix(base, ".auto.tfvars") && !strings.HasSuffix(base, ".auto.tfvars.json")
}

func ignored(globs []string, f string) bool {
	for _, g := range globs {
		if ok, _ := doublestar.Match(g, f); ok {
			return true
		}
	}
	return false
}

// uncovered lists the folders of changed files that hold Terraform files but are neither a project nor
// reached as a module by one.
func uncovered(fsys repofs.FS, files []string, covered map[string]bool) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		d := path.Dir(f)
		if seen[d] || covered[d] || !strings.HasSuffix(f, ".tf") && !strings.HasSuffix(f, ".tf.json") {
			continue
		}
		seen[d] = true
		if hasTerraformFiles(fsys, d) {
			out = append(out, d)
		}
	}
	return out
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
