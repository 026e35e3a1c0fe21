package changes

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/repofs"
)

// Needs lists what a work tree must hold for the projects of the named environments to be planned and
// applied, as repository paths (slash-separated; a folder stands for everything under it): each
// project's folder, the local modules it calls however deep, the files its configuration (or its
// modules') reads with a path known statically (for fileset, the folder its glob starts in), the
// targets of symlinks in those folders, its var files and backend config files, and .runner.yaml.
//
// fsys needs only the Terraform files and symlinks of the commit (see TerraformFile): the module graph
// and the reads are worked out from them. When something cannot be told statically (a read whose path
// is a variable, a module folder that does not load), complete is false and names why: the caller then
// writes the whole tree rather than guess.
func Needs(fsys repofs.FS, cfg *config.Repo, envs []string) (paths []string, complete bool, why string) {
	return NeedsWith(fsys, cfg, envs, Options{})
}

// NeedsWith is Needs with options: only opts.Cache counts.
func NeedsWith(fsys repofs.FS, cfg *config.Repo, envs []string, opts Options) (paths []string, complete bool, why string) {
	g := newGraph(fsys, opts.Cache)
	var roots []string
	for _, name := range envs {
		if env, ok := cfg.Environment(name); ok {
			for _, p := range env.Projects {
				roots = append(roots, p.Dir)
			}
		}
	}
	g.prepare(roots)
	set := map[string]bool{config.RepoFile: true}
	for _, name := range envs {
		env, ok := cfg.Environment(name)
		if !ok {
			return nil, false, fmt.Sprintf("no environment %q in %s", name, config.RepoFile)
		}
		for _, p := range env.Projects {
			folders := []string{p.Dir}
			reached, errs := g.reachable(p.Dir)
			if len(errs) > 0 {
				return nil, false, fmt.Sprintf("project %s: %v", p.Name, errs[0])
			}
			for _, r := range reached {
				folders = append(folders, r.dir)
			}
			for _, dir := range folders {
				set[dir] = true
				reads := g.reads(dir, p.Dir)
				if len(reads.unresolved) > 0 {
					u := reads.unresolved[0]
					return nil, false, fmt.Sprintf("project %s: %s at %s reads a path not known statically", p.Name, u.Func, u.At)
				}
				for _, rd := range reads.reads {
					if rd.Glob {
						set[globBase(rd.Path)] = true
					} else {
						set[rd.Path] = true
					}
				}
				for _, l := range g.links(dir) {
					set[l.Target] = true
				}
			}
			for _, vf := range p.VarFiles {
				set[p.RepoPath(vf)] = true
			}
			for _, bf := range p.BackendFiles() {
				set[p.RepoPath(bf)] = true
			}
		}
	}
	for p := range set {
		if p == "" || p == ".." || strings.HasPrefix(p, "../") || path.IsAbs(p) {
			delete(set, p) // outside the repository: a pull request cannot change it, nor can a checkout write it
		}
	}
	return compact(set), true, ""
}

// globBase is the folder a doublestar glob starts in: its path up to the first segment with a
// pattern character ("files/*.json" -> "files"; "**/x" -> ".").
func globBase(glob string) string {
	segs := strings.Split(glob, "/")
	i := 0
	for ; i < len(segs); i++ {
		if strings.ContainsAny(segs[i], "*?[{\\") {
			break
		}
	}
	if i == 0 {
		return "."
	}
	return strings.Join(segs[:i], "/")
}

// compact sorts the paths and drops those under another one of them.
func compact(set map[string]bool) []string {
	if set["."] {
		return []string{"."}
	}
	clean := map[string]bool{}
	for p := range set {
		clean[path.Clean(p)] = true
	}
	var out []string
	for p := range clean {
		covered := false
		for d := path.Dir(p); d != "." && d != "/" && !covered; d = path.Dir(d) {
			covered = clean[d]
		}
		if !covered {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// TerraformFile reports whether a repository path is one change detection and Needs read: Terraform
// configuration (.tf, .tf.json), variables (.tfvars, .tfvars.json), HCL (.hcl: backend configs, lock
// files, tflint) and the repository's .runner.yaml.
func TerraformFile(p string) bool {
	if p == config.RepoFile {
		return true
	}
	for _, ext := range []string{".tf", ".tf.json", ".tfvars", ".tfvars.json", ".hcl"} {
		if strings.HasSuffix(p, ext) {
			return true
		}
	}
	return false
}
