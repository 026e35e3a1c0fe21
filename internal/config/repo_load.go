package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/gitops-runner/runner/internal/repofs"
)

// LoadRepo reads dir/.runner.yaml, or builds DefaultRepo(dir) when there is none. A file that
// lists no environments gets them discovered from environments/*, and one without an apps key
// gets the default apps. Every environment dir and app path must be a directory inside dir.
// Problems are returned as RepoErrors whose File is the config file's path.
func LoadRepo(dir string) (*Repo, error) {
	return loadRepo(repofs.Dir(dir), dirNames(dir))
}

// LoadRepoFS is LoadRepo of a repository read through fsys (a commit read from a mirror, say), naming
// files by their repository paths.
func LoadRepoFS(fsys repofs.FS) (*Repo, error) {
	return loadRepo(fsys, func(rel string) string { return rel })
}

// dirNames names a repository path as a file under dir, for messages.
func dirNames(dir string) func(string) string {
	return func(rel string) string {
		if rel == "." {
			return dir
		}
		return filepath.Join(dir, filepath.FromSlash(rel))
	}
}

func loadRepo(fsys repofs.FS, name func(string) string) (*Repo, error) {
	file := name(RepoFile)
	data, err := repoReadFile(fsys, RepoFile, file)
	if errors.Is(err, fs.ErrNotExist) {
		return defaultRepo(fsys, name)
	}
	if err != nil {
		return nil, err
	}
	r, err := ParseRepo(data)
	if err != nil {
		var re RepoErrors
		if errors.As(err, &re) {
			return nil, re.withFile(file)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	r.source = file
	var problems RepoErrors
	if len(r.Environments) == 0 {
		envs, p := repoDiscoverEnvironments(fsys, name)
		r.Environments, problems = envs, append(problems, p...)
	}
	if !r.appsGiven {
		r.Apps = repoDiscoverApps(fsys)
	}
	problems = append(problems, r.discoverRoots(fsys)...)
	problems = append(problems, r.checkDirs(fsys, name)...)
	if len(problems) > 0 {
		return nil, problems.withFile(file)
	}
	return r, nil
}

// repoReadFile reads the config file rel (named file in messages), refusing anything but a small regular
// file: the checkout is untrusted, and a symlink could point anywhere on the runner's disk.
func repoReadFile(fsys repofs.FS, rel, file string) ([]byte, error) {
	fi, err := fsys.Lstat(rel)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, RepoErrors{{File: file, Msg: "must be a regular file"}}
	}
	f, err := fsys.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, RepoMaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return data, nil
}

// DefaultRepo is the configuration of a repository without .runner.yaml: every folder under
// environments/ is an environment (Order 1..n in name order, branch main), and apps/backend (image)
// and apps/frontend (bundle) are apps when they exist.
func DefaultRepo(dir string) (*Repo, error) {
	return defaultRepo(repofs.Dir(dir), dirNames(dir))
}

func defaultRepo(fsys repofs.FS, name func(string) string) (*Repo, error) {
	r := &Repo{Notify: repoDefaultNotify(), lines: map[string]int{}, Ignore: []string{DefaultIgnore}}
	envs, problems := repoDiscoverEnvironments(fsys, name)
	r.Environments = envs
	r.Apps = repoDiscoverApps(fsys)
	problems = append(problems, r.checkDirs(fsys, name)...)
	if len(problems) > 0 {
		return nil, problems
	}
	return r, nil
}

func repoDiscoverEnvironments(fsys repofs.FS, file func(string) string) ([]Environment, RepoErrors) {
	entries, err := fsys.ReadDir("environments")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, RepoErrors{{File: file("environments"), Msg: err.Error()}}
	}
	var envs []Environment
	var problems RepoErrors
	for _, e := range entries { // ReadDir sorts by name
		name := e.Name()
		if strings.HasPrefix(name, ".") || !repofs.IsDir(fsys, path.Join("environments", name)) {
			continue
		}
		if !repoNameRE.MatchString(name) {
			problems = append(problems, &RepoProblem{File: file(path.Join("environments", name)),
				Msg: fmt.Sprintf("environment name %q: use lowercase letters, digits, '-' and '_' (or list environments in %s)", name, RepoFile)})
			continue
		}
		d := path.Join("environments", name)
		envs = append(envs, Environment{
			Name:     name,
			Dir:      d,
			Projects: []Project{{Name: name, Env: name, Dir: d, Workspace: DefaultWorkspace, Workflow: DefaultWorkflow}},
			Workflow: DefaultWorkflow,
			Order:    len(envs) + 1,
			Branch:   EnvironmentDefaultBranch,
			APIURL:   EnvironmentDefaultAPIURL,
			Refresh:  repoDefaultRefresh(),
		})
	}
	return envs, problems
}

func repoDiscoverApps(fsys repofs.FS) []App {
	var apps []App
	if repofs.IsDir(fsys, "apps/backend") {
		apps = append(apps, App{Name: "backend", Path: "apps/backend", Kind: AppKindImage, Repository: "backend",
			Platforms: []string{AppDefaultPlatform}, BaseImage: AppDefaultBaseImage})
	}
	if repofs.IsDir(fsys, "apps/frontend") {
		apps = append(apps, App{Name: "frontend", Path: "apps/frontend", Kind: AppKindBundle})
	}
	return apps
}

// checkDirs reports environment dirs and app paths that are missing, not directories, or that
// resolve (through symlinks) outside the repository.
func (r *Repo) checkDirs(fsys repofs.FS, file func(string) string) RepoErrors {
	if _, err := fsys.Stat("."); err != nil {
		return RepoErrors{{File: file("."), Msg: err.Error()}}
	}
	var problems RepoErrors
	check := func(kind, name, rel string, line int) {
		real, err := repofs.Resolve(fsys, rel)
		switch {
		case errors.Is(err, repofs.ErrOutside):
			problems = append(problems, &RepoProblem{Line: line, Msg: fmt.Sprintf("%s %s: %s leads outside the repository", kind, name, rel)})
		case errors.Is(err, fs.ErrNotExist):
			problems = append(problems, &RepoProblem{Line: line, Msg: fmt.Sprintf("%s %s: %s does not exist", kind, name, rel)})
		case err != nil:
			problems = append(problems, &RepoProblem{Line: line, Msg: fmt.Sprintf("%s %s: %v", kind, name, err)})
		case !repofs.IsDir(fsys, real):
			problems = append(problems, &RepoProblem{Line: line, Msg: fmt.Sprintf("%s %s: %s is not a directory", kind, name, rel)})
		}
	}
	checkFile := func(p Project, rel string, line int) {
		_, err := repofs.Resolve(fsys, p.RepoPath(rel))
		switch {
		case errors.Is(err, repofs.ErrOutside):
			problems = append(problems, &RepoProblem{Line: line, Msg: fmt.Sprintf("project %s: %s leads outside the repository", p.Name, p.RepoPath(rel))})
		case errors.Is(err, fs.ErrNotExist):
			problems = append(problems, &RepoProblem{Line: line, Msg: fmt.Sprintf("project %s: %s does not exist", p.Name, p.RepoPath(rel))})
		case err != nil:
			problems = append(problems, &RepoProblem{Line: line, Msg: fmt.Sprintf("project %s: %v", p.Name, err)})
		}
	}
	for _, e := range r.Environments {
		for j, p := range e.Projects {
			line := r.projectLine(e.Name, j)
			kind, name := "project", p.Name
			if p.Name == e.Name && p.Dir == e.Dir {
				kind = "environment"
			}
			check(kind, name, p.Dir, line)
			for _, f := range p.VarFiles {
				checkFile(p, f, line)
			}
			for _, f := range p.BackendFiles() {
				checkFile(p, f, line)
			}
		}
	}
	for _, a := range r.Apps {
		check("app", a.Name, a.Path, r.lines["app/"+a.Name])
	}
	return problems
}

// ValidateRepoDir checks a repository checkout the way `runner validate DIR` reports it: the
// configuration (strictly parsed), that each environment dir has .tf files, and that those files
// are syntactically valid HCL. Each error prints as "file:line: message" when the line is known.
func ValidateRepoDir(dir string) []error {
	r, err := LoadRepo(dir)
	if err != nil {
		var re RepoErrors
		if errors.As(err, &re) {
			return re.Unwrap()
		}
		return []error{err}
	}
	var errs []error
	file := r.source
	if file == "" {
		file = dir
	}
	if len(r.Environments) == 0 {
		errs = append(errs, &RepoProblem{File: file, Msg: "no environments: add environments/<name>/ or list them in " + RepoFile})
	}
	parsed := map[string]bool{} // folders shared by projects (workspaces) are reported once
	for _, e := range r.Environments {
		for j, p := range e.Projects {
			pDir := filepath.Join(dir, filepath.FromSlash(p.Dir))
			tfs, _ := filepath.Glob(filepath.Join(pDir, "*.tf"))
			jsons, _ := filepath.Glob(filepath.Join(pDir, "*.tf.json"))
			if len(tfs)+len(jsons) == 0 {
				what := fmt.Sprintf("project %s (environment %s)", p.Name, p.Env)
				if e.Dir == p.Dir && p.Name == e.Name {
					what = "environment " + e.Name
				}
				errs = append(errs, &RepoProblem{File: file, Line: r.projectLine(e.Name, j), Msg: fmt.Sprintf("%s: %s has no .tf files", what, p.Dir)})
				continue
			}
			if !parsed[p.Dir] {
				parsed[p.Dir] = true
				errs = append(errs, repoHCLProblems(tfs, jsons)...)
			}
		}
	}
	return errs
}

func repoHCLProblems(tfs, jsons []string) []error {
	p := hclparse.NewParser()
	var diags hcl.Diagnostics
	sort.Strings(tfs)
	for _, f := range tfs {
		_, d := p.ParseHCLFile(f)
		diags = append(diags, d...)
	}
	for _, f := range jsons {
		_, d := p.ParseJSONFile(f)
		diags = append(diags, d...)
	}
	var errs []error
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		prob := &RepoProblem{Msg: d.Summary}
		if d.Detail != "" {
			prob.Msg += ": " + d.Detail
		}
		if d.Subject != nil {
			prob.File, prob.Line = d.Subject.Filename, d.Subject.Start.Line
		}
		errs = append(errs, prob)
	}
	return errs
}
