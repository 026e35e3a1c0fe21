package config

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"gopkg.in/yaml.v3"
)

type rawProject struct {
	Name             string            `yaml:"name"`
	Dir              string            `yaml:"dir"`
	Workspace        *string           `yaml:"workspace"`
	VarFiles         []string          `yaml:"var_files"`
	BackendConfig    []string          `yaml:"backend_config"`
	TerraformVersion string            `yaml:"terraform_version"`
	WhenModified     []string          `yaml:"when_modified"`
	DependsOn        []string          `yaml:"depends_on"`
	Workflow         string            `yaml:"workflow"`
	Vars             map[string]string `yaml:"vars"`
}

type rawWorkflow struct {
	Plan  *rawPhase `yaml:"plan"`
	Apply *rawPhase `yaml:"apply"`
}

type rawPhase struct {
	Steps []yaml.Node `yaml:"steps"`
}

var (
	projectNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$`)
	workspaceRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,89}$`)
	tfVersionRE   = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$`)
	backendKeyRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Limits on what one configuration may list: it comes from pull requests.
const (
	maxProjects  = 1000
	maxListItems = 100
	maxRunLength = 4096
)

// ValidProjectName reports whether s can name a project: letters, digits, '.', '_', '-' and '/', starting
// with a letter or digit, at most 128 characters, without "..", "//" or a trailing '/'.
func ValidProjectName(s string) bool {
	return projectNameRE.MatchString(s) && !strings.Contains(s, "..") && !strings.Contains(s, "//") && !strings.HasSuffix(s, "/")
}

func backendKV(s string) (key, value string, ok bool) {
	k, v, found := strings.Cut(s, "=")
	if !found || !backendKeyRE.MatchString(k) {
		return "", "", false
	}
	return k, v, true
}

// repoJoin joins a path relative to dir onto dir, repository-relative and cleaned.
func repoJoin(dir, rel string) string { return path.Join(dir, rel) }

// environmentProjects fills e.Projects (or e.Roots) from the one of dir, roots and projects the entry sets.
func (v *repoValidator) environmentProjects(i int, raw *rawEnvironment, e *Environment, label string) {
	at := func(p ...any) int { return v.t.Line(append([]any{"environments", i}, p...)...) }
	given := 0
	for _, set := range []bool{raw.Dir != "", raw.Roots != nil, raw.Projects != nil} {
		if set {
			given++
		}
	}
	switch {
	case given == 0:
		v.addf(at(), "environment %s: dir, roots or projects is required", label)
		return
	case given > 1:
		v.addf(at(), "environment %s: set only one of dir, roots and projects", label)
		return
	}
	switch {
	case raw.Dir != "":
		if e.Dir == "" {
			return // reported by environment
		}
		e.Projects = []Project{{Name: e.Name, Env: e.Name, Dir: e.Dir, Workspace: DefaultWorkspace,
			Workflow: e.Workflow, Vars: e.Vars}}
	case raw.Roots != nil:
		if len(raw.Roots) == 0 {
			v.addf(at("roots"), "environment %s: roots is empty", label)
		}
		for j, g := range raw.Roots {
			c, err := v.glob(g)
			if err != nil {
				v.addf(at("roots", j), "environment %s: roots: %v", label, err)
				continue
			}
			e.Roots = append(e.Roots, c)
		}
	default:
		if len(raw.Projects) == 0 {
			v.addf(at("projects"), "environment %s: projects is empty", label)
		}
		if len(raw.Projects) > maxProjects {
			v.addf(at("projects"), "environment %s: more than %d projects", label, maxProjects)
			return
		}
		for j := range raw.Projects {
			e.Projects = append(e.Projects, v.project(i, j, &raw.Projects[j], e))
		}
	}
}

// glob checks a repository-relative doublestar glob and returns it cleaned.
func (v *repoValidator) glob(g string) (string, error) {
	c, err := repoCleanRel(g)
	if err != nil {
		return "", err
	}
	if !doublestar.ValidatePattern(c) {
		return "", fmt.Errorf("%q is not a valid glob", g)
	}
	return c, nil
}

func (v *repoValidator) project(i, j int, raw *rawProject, e *Environment) Project {
	at := func(p ...any) int { return v.t.Line(append([]any{"environments", i, "projects", j}, p...)...) }
	p := Project{Name: raw.Name, Env: e.Name, Workspace: DefaultWorkspace, TerraformVersion: raw.TerraformVersion,
		DependsOn: raw.DependsOn, Workflow: raw.Workflow}
	label := raw.Name
	switch {
	case raw.Name == "":
		label = fmt.Sprintf("%s.projects[%d]", e.Name, j)
		v.addf(at(), "project %s: name is required", label)
	case !ValidProjectName(raw.Name):
		v.addf(at("name"), "project name %q: use letters, digits, '.', '_', '-' and '/' (at most 128)", raw.Name)
	}
	if raw.Dir == "" {
		v.addf(at(), "project %s: dir is required", label)
	} else if d, err := repoCleanRel(raw.Dir); err != nil {
		v.addf(at("dir"), "project %s: dir: %v", label, err)
	} else {
		p.Dir = d
	}
	if raw.Workspace != nil {
		if !workspaceRE.MatchString(*raw.Workspace) {
			v.addf(at("workspace"), "project %s: workspace %q: use letters, digits, '.', '_' and '-'", label, *raw.Workspace)
		}
		p.Workspace = *raw.Workspace
	}
	if p.Workflow == "" {
		p.Workflow = e.Workflow
	}
	p.VarFiles = v.relFiles(raw.VarFiles, p.Dir, label, "var_files", at)
	for k, b := range raw.BackendConfig {
		if key, val, ok := backendKV(b); ok {
			if strings.ContainsAny(val, "\n\r\x00") {
				v.addf(at("backend_config", k), "project %s: backend_config %s: the value has a line break", label, key)
				continue
			}
			p.BackendConfig = append(p.BackendConfig, b)
			continue
		}
		if fs := v.relFiles([]string{b}, p.Dir, label, "backend_config", func(...any) int { return at("backend_config", k) }); len(fs) == 1 {
			p.BackendConfig = append(p.BackendConfig, fs[0])
		}
	}
	if raw.TerraformVersion != "" && !tfVersionRE.MatchString(raw.TerraformVersion) {
		v.addf(at("terraform_version"), "project %s: terraform_version %q is not an exact version like 1.5.7", label, raw.TerraformVersion)
	}
	p.TerraformVersion = strings.TrimPrefix(p.TerraformVersion, "v")
	for k, g := range raw.WhenModified {
		c, err := v.glob(repoJoin(p.Dir, g))
		if err != nil || strings.HasPrefix(g, "/") {
			v.addf(at("when_modified", k), "project %s: when_modified %q must be a glob relative to the project's dir, inside the repository", label, g)
			continue
		}
		p.WhenModified = append(p.WhenModified, c)
	}
	if len(raw.WhenModified) > maxListItems || len(raw.DependsOn) > maxListItems {
		v.addf(at(), "project %s: more than %d when_modified or depends_on entries", label, maxListItems)
	}
	p.Vars = map[string]string{}
	for k, val := range e.Vars {
		p.Vars[k] = val
	}
	for _, k := range sortedKeys(raw.Vars) {
		if err := CheckVarName(k); err != nil {
			v.addf(at("vars", k), "project %s: vars: %v", label, err)
		}
		p.Vars[k] = raw.Vars[k]
	}
	if len(p.Vars) == 0 {
		p.Vars = nil
	}
	return p
}

// relFiles checks paths relative to a project's dir: relative, inside the repository. It returns them cleaned,
// still relative to dir (as Terraform, running in dir, reads them).
func (v *repoValidator) relFiles(files []string, dir, label, key string, at func(...any) int) []string {
	if len(files) > maxListItems {
		v.addf(at(key), "project %s: more than %d %s", label, maxListItems, key)
		return nil
	}
	var out []string
	for k, f := range files {
		if f == "" || path.IsAbs(f) || strings.ContainsAny(f, "\\\x00\n") {
			v.addf(at(key, k), "project %s: %s %q must be a path relative to the project's dir", label, key, f)
			continue
		}
		if _, err := repoCleanRel(repoJoin(dir, f)); err != nil {
			v.addf(at(key, k), "project %s: %s %q is outside the repository", label, key, f)
			continue
		}
		out = append(out, path.Clean(f))
	}
	return out
}

// workflows validates the named workflows.
func (v *repoValidator) workflows(raw map[string]rawWorkflow) map[string]Workflow {
	out := map[string]Workflow{}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		at := func(p ...any) int { return v.t.Line(append([]any{"workflows", name}, p...)...) }
		if !repoNameRE.MatchString(name) {
			v.addf(at(), "workflow name %q: use lowercase letters, digits, '-' and '_' (at most 63)", name)
			continue
		}
		w := defaultWorkflow()
		w.Name = name
		rw := raw[name]
		if rw.Plan != nil {
			w.Plan = v.steps(name, "plan", rw.Plan.Steps, at)
		}
		if rw.Apply != nil {
			w.Apply = v.steps(name, "apply", rw.Apply.Steps, at)
		}
		out[name] = w
	}
	return out
}

// steps validates the steps of one phase: plan has exactly one plan step (after init, before policy
// steps); apply has exactly one apply step.
func (v *repoValidator) steps(wf, phase string, nodes []yaml.Node, at func(...any) int) []Step {
	if len(nodes) > maxListItems {
		v.addf(at(phase, "steps"), "workflow %s: %s: more than %d steps", wf, phase, maxListItems)
		return nil
	}
	var out []Step
	counts := map[string]int{}
	for k := range nodes {
		s, ok := v.step(wf, phase, &nodes[k])
		if !ok {
			continue
		}
		counts[s.Kind]++
		switch {
		case phase == "plan" && s.Kind == StepApply, phase == "apply" && (s.Kind == StepPlan || s.Kind == StepInit || s.Kind == StepPolicy):
			v.addf(s.Line, "workflow %s: %s: a %s step cannot be part of %s", wf, phase, s.Kind, phase)
		case s.Kind == StepInit && counts[StepPlan] > 0:
			v.addf(s.Line, "workflow %s: plan: init must come before plan", wf)
		case s.Kind == StepPolicy && counts[StepPlan] == 0:
			v.addf(s.Line, "workflow %s: plan: a policy step checks the plan, so it must come after plan", wf)
		}
		out = append(out, s)
	}
	main := StepPlan
	if phase == "apply" {
		main = StepApply
	}
	if counts[main] != 1 {
		v.addf(at(phase), "workflow %s: %s needs exactly one %s step, not %d", wf, phase, main, counts[main])
	}
	if counts[StepInit] > 1 {
		v.addf(at(phase), "workflow %s: %s has more than one init step", wf, phase)
	}
	return out
}

func (v *repoValidator) step(wf, phase string, n *yaml.Node) (Step, bool) {
	s := Step{Line: n.Line}
	bad := func(format string, args ...any) (Step, bool) {
		v.addf(n.Line, "workflow %s: %s: "+format, append([]any{wf, phase}, args...)...)
		return Step{}, false
	}
	known := func(k string) bool {
		switch k {
		case StepInit, StepPlan, StepApply, StepTFLint, StepPolicy, StepRun:
			return true
		}
		return false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value == StepRun {
			return bad("a run step needs a command (run: \"...\")")
		}
		if !known(n.Value) {
			return bad("unknown step %q (init, plan, apply, run, tflint, policy)", n.Value)
		}
		s.Kind = n.Value
		return s, true
	case yaml.MappingNode:
	default:
		return bad("a step is a name or a mapping with one key")
	}
	if len(n.Content) != 2 {
		return bad("a step is a mapping with exactly one key")
	}
	key, val := n.Content[0].Value, n.Content[1]
	if !known(key) {
		return bad("unknown step %q (init, plan, apply, run, tflint, policy)", key)
	}
	s.Kind = key
	switch key {
	case StepRun:
		if val.Kind != yaml.ScalarNode || strings.TrimSpace(val.Value) == "" {
			return bad("run needs a command")
		}
		if len(val.Value) > maxRunLength || strings.ContainsRune(val.Value, 0) {
			return bad("run command is longer than %d bytes", maxRunLength)
		}
		s.Run = val.Value
	case StepTFLint, StepPolicy:
		if val.Kind == yaml.ScalarNode && (val.Tag == "!!null" || val.Value == "") {
			return s, true
		}
		var opts struct {
			Args  []string `yaml:"args"`
			Paths []string `yaml:"paths"`
		}
		if val.Kind != yaml.MappingNode || val.Decode(&opts) != nil {
			return bad("%s takes a mapping (args or paths)", key)
		}
		for i := 0; i+1 < len(val.Content); i += 2 {
			k := val.Content[i].Value
			if (key == StepTFLint && k != "args") || (key == StepPolicy && k != "paths") {
				return bad("%s: unknown key %q", key, k)
			}
		}
		if len(opts.Args) > maxListItems || len(opts.Paths) > maxListItems {
			return bad("%s: too many entries", key)
		}
		for _, a := range opts.Args {
			if strings.ContainsAny(a, "\x00\n") {
				return bad("tflint: argument %q has a line break", a)
			}
		}
		s.Args = opts.Args
		for _, p := range opts.Paths {
			c, err := repoCleanRel(p)
			if err != nil {
				return bad("policy: paths: %v", err)
			}
			s.Paths = append(s.Paths, c)
		}
	default:
		if !(val.Kind == yaml.ScalarNode && (val.Tag == "!!null" || val.Value == "")) {
			return bad("%s takes no options here (extra_args are not supported)", key)
		}
	}
	return s, true
}

// crossCheck validates what spans projects: unique names, depends_on within an environment and without
// cycles, workflows that exist, and no two projects sharing state.
func (r *Repo) crossCheck() RepoErrors {
	var problems RepoErrors
	add := func(line int, format string, args ...any) {
		problems = append(problems, &RepoProblem{Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	seen := map[string]string{}
	type stateKey struct{ dir, ws string }
	type backendKey struct{ bucket, key, ws string }
	states := map[stateKey]string{}
	backends := map[backendKey]string{}
	for _, e := range r.Environments {
		envLine := r.lines["env/"+e.Name]
		names := map[string]bool{}
		for j, p := range e.Projects {
			line := r.projectLine(e.Name, j)
			names[p.Name] = true
			if p.Name == "" {
				continue
			}
			if other, dup := seen[p.Name]; dup {
				add(line, "project %q is defined twice (environments %s and %s)", p.Name, other, e.Name)
			}
			seen[p.Name] = e.Name
			if _, ok := r.Workflow(p.Workflow); !ok {
				add(line, "project %s: workflow %q is not defined under workflows", p.Name, p.Workflow)
			}
			sk := stateKey{p.Dir, p.Workspace}
			if other, dup := states[sk]; dup && p.Dir != "" {
				add(line, "projects %s and %s would share state: both plan %s in workspace %s (give one another workspace)", other, p.Name, p.Dir, p.Workspace)
			}
			states[sk] = p.Name
			kv := p.BackendKeyValues()
			if key, ok := kv["key"]; ok {
				bk := backendKey{kv["bucket"], key, p.Workspace}
				if other, dup := backends[bk]; dup {
					add(line, "projects %s and %s would share state: both use backend key %q in workspace %s", other, p.Name, key, p.Workspace)
				}
				backends[bk] = p.Name
			}
		}
		line := envLine
		for _, p := range e.Projects {
			for _, d := range p.DependsOn {
				switch {
				case d == p.Name:
					add(line, "project %s depends on itself", p.Name)
				case !names[d]:
					add(line, "project %s depends on %q, which is not a project of environment %s", p.Name, d, e.Name)
				}
			}
		}
		if cycle := dependencyCycle(e.Projects); cycle != nil {
			add(line, "environment %s: projects depend on each other: %s", e.Name, strings.Join(cycle, " -> "))
		}
	}
	return problems
}

// dependencyCycle returns one cycle of depends_on (first name repeated at the end), or nil.
func dependencyCycle(projects []Project) []string {
	deps := map[string][]string{}
	for _, p := range projects {
		deps[p.Name] = p.DependsOn
	}
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(n string) []string
	visit = func(n string) []string {
		state[n] = active
		stack = append(stack, n)
		for _, d := range deps[n] {
			if _, ok := deps[d]; !ok || d == n {
				continue
			}
			switch state[d] {
			case active:
				for i, s := range stack {
					if s == d {
						return append(append([]string(nil), stack[i:]...), d)
					}
				}
			case unseen:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		return nil
	}
	for _, p := range projects {
		if state[p.Name] == unseen {
			if c := visit(p.Name); c != nil {
				return c
			}
		}
	}
	return nil
}

func projectLineKey(env string, i int) string { return fmt.Sprintf("project/%s/%d", env, i) }

// projectLine is the line of the i-th project of env in the configuration file: its entry, else the
// environment's.
func (r *Repo) projectLine(env string, i int) int {
	if l, ok := r.lines[projectLineKey(env, i)]; ok {
		return l
	}
	return r.lines["env/"+env]
}
