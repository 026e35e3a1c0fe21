package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"

	"github.com/gitops-runner/runner/internal/repofs"
)

// maxWalkEntries bounds the walk of a checkout looking for Terraform folders.
const maxWalkEntries = 200_000

// FindTerraformDirs lists the folders under root that hold .tf or .tf.json files, repository-relative and
// slash-separated ("." for root itself), sorted. Hidden folders (.git, .terraform, .github ...) and
// node_modules are skipped, and symlinked folders are not followed.
func FindTerraformDirs(fsys repofs.FS) ([]string, error) {
	seen := map[string]bool{}
	n := 0
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n++; n > maxWalkEntries {
			return fmt.Errorf("more than %d files and folders", maxWalkEntries)
		}
		name := d.Name()
		if d.IsDir() {
			if p != "." && (strings.HasPrefix(name, ".") || name == "node_modules") {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".tf") || strings.HasSuffix(name, ".tf.json") {
			seen[path.Dir(p)] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find Terraform folders: %w", err)
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out, nil
}

// LocalModuleDirs returns the folders the modules in dirs call as local modules (sources starting with ./
// or ../), repository-relative. Folders that do not parse call nothing here.
func LocalModuleDirs(fsys repofs.FS, dirs []string) map[string]bool {
	out := map[string]bool{}
	for _, d := range dirs {
		mod, diags := tfconfig.LoadModuleFromFilesystem(repofs.TFConfig(fsys), d)
		if diags.HasErrors() {
			continue
		}
		for _, c := range mod.ModuleCalls {
			src := strings.ReplaceAll(c.Source, `\`, "/")
			if strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../") {
				out[path.Join(d, src)] = true
			}
		}
	}
	return out
}

// discoverRoots gives each environment with roots globs its projects: every folder with Terraform files that
// a glob matches, except folders that those folders call as local modules (a module is not a root). Each
// such project is named by its folder.
func (r *Repo) discoverRoots(fsys repofs.FS) RepoErrors {
	var want bool
	for _, e := range r.Environments {
		want = want || len(e.Roots) > 0
	}
	if !want {
		return nil
	}
	dirs, err := FindTerraformDirs(fsys)
	if err != nil {
		return RepoErrors{{Msg: err.Error()}}
	}
	modules := LocalModuleDirs(fsys, dirs)
	var problems RepoErrors
	for i := range r.Environments {
		e := &r.Environments[i]
		if len(e.Roots) == 0 {
			continue
		}
		for _, d := range dirs {
			if modules[d] {
				continue
			}
			for _, g := range e.Roots {
				if ok, _ := doublestar.Match(g, d); ok {
					e.Projects = append(e.Projects, Project{Name: d, Env: e.Name, Dir: d, Workspace: DefaultWorkspace,
						Workflow: e.Workflow, Vars: e.Vars, Discovered: true})
					break
				}
			}
		}
		if len(e.Projects) == 0 {
			problems = append(problems, &RepoProblem{Line: r.lines["env/"+e.Name],
				Msg: fmt.Sprintf("environment %s: roots %s match no folder with .tf files", e.Name, strings.Join(e.Roots, ", "))})
		}
	}
	problems = append(problems, r.crossCheck()...)
	return problems
}

// ErrNoConfiguration says a folder has no Terraform configuration files.
var ErrNoConfiguration = errors.New("no Terraform configuration files (.tf or .tf.json)")
