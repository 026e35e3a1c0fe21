package config

import "sort"

// DefaultWorkflow names the workflow a project uses when it names none: init and plan, then apply.
const DefaultWorkflow = "default"

// DefaultWorkspace is Terraform's own default workspace.
const DefaultWorkspace = "default"

// DefaultIgnore is the glob of changed files that affect nothing unless the configuration's ignore says
// otherwise: documentation.
const DefaultIgnore = "**/*.md"

// Project is one Terraform root of an environment: a folder, planned and applied in one workspace with its
// own inputs. An environment holds one or more; they share its lock, approval, order and story.
type Project struct {
	Name string // unique in the repository; an environment given by dir has one project named after it
	Env  string // the environment it belongs to
	Dir  string // relative to the repository root, slash-separated
	// Workspace is the Terraform workspace (DefaultWorkspace unless set).
	Workspace string
	// VarFiles are passed as -var-file, in order; relative to Dir, as Terraform reads them.
	VarFiles []string
	// BackendConfig are -backend-config values for init: files relative to Dir, or key=value pairs.
	BackendConfig []string
	// TerraformVersion is the exact Terraform version the project needs ("" = the server's default).
	TerraformVersion string
	// WhenModified are extra doublestar globs, repository-relative, whose changes affect the project.
	WhenModified []string
	// DependsOn names projects of the same environment planned and applied before this one.
	DependsOn []string
	Workflow  string            // name of the workflow; DefaultWorkflow unless set
	Vars      map[string]string // -var inputs (the environment's, overridden by the project's own)

	// Discovered is true for projects found through an environment's roots globs.
	Discovered bool
}

// RepoPath is a path relative to the project's folder (a var file, a backend config file) as a
// repository-relative path.
func (p Project) RepoPath(rel string) string { return repoJoin(p.Dir, rel) }

// BackendKeyValues returns the key=value entries of BackendConfig.
func (p Project) BackendKeyValues() map[string]string {
	out := map[string]string{}
	for _, b := range p.BackendConfig {
		if k, v, ok := backendKV(b); ok {
			out[k] = v
		}
	}
	return out
}

// BackendFiles returns the file entries of BackendConfig, relative to Dir.
func (p Project) BackendFiles() []string {
	var out []string
	for _, b := range p.BackendConfig {
		if _, _, ok := backendKV(b); !ok {
			out = append(out, b)
		}
	}
	return out
}

// Step kinds of a workflow.
const (
	StepInit   = "init"
	StepPlan   = "plan"
	StepApply  = "apply"
	StepRun    = "run"    // a command in the sandbox, with the project's environment
	StepTFLint = "tflint" // tflint on the project's folder
	StepPolicy = "policy" // Open Policy Agent checks of the plan JSON
)

// Step is one step of a workflow phase.
type Step struct {
	Kind string
	// Run is the command of a run step (run by /bin/sh -c in the sandbox, in the project's folder).
	Run string
	// Args are extra arguments of a tflint step.
	Args []string
	// Paths are the repository folders holding the rego files of a policy step; empty means the server's
	// policies only.
	Paths []string
	Line  int // where the step is in .runner.yaml (0 for defaults)
}

// Workflow lists the steps of a project's plan and apply.
type Workflow struct {
	Name  string
	Plan  []Step
	Apply []Step
}

// HasRunSteps reports whether the workflow runs commands of its own.
func (w Workflow) HasRunSteps() bool {
	for _, s := range append(append([]Step(nil), w.Plan...), w.Apply...) {
		if s.Kind == StepRun {
			return true
		}
	}
	return false
}

func defaultWorkflow() Workflow {
	return Workflow{
		Name:  DefaultWorkflow,
		Plan:  []Step{{Kind: StepInit}, {Kind: StepPlan}},
		Apply: []Step{{Kind: StepApply}},
	}
}

// Workflow returns the named workflow (DefaultWorkflow always exists).
func (r *Repo) Workflow(name string) (Workflow, bool) {
	if name == "" {
		name = DefaultWorkflow
	}
	if w, ok := r.Workflows[name]; ok {
		return w, true
	}
	if name == DefaultWorkflow {
		return defaultWorkflow(), true
	}
	return Workflow{}, false
}

// Projects returns every project of every environment, environments in deploy order.
func (r *Repo) Projects() []Project {
	var out []Project
	for _, e := range r.Ordered() {
		out = append(out, e.Projects...)
	}
	return out
}

// Project returns the project with that name.
func (r *Repo) Project(name string) (Project, bool) {
	for _, e := range r.Environments {
		for _, p := range e.Projects {
			if p.Name == name {
				return p, true
			}
		}
	}
	return Project{}, false
}

// Project returns the environment's project with that name.
func (e Environment) Project(name string) (Project, bool) {
	for _, p := range e.Projects {
		if p.Name == name {
			return p, true
		}
	}
	return Project{}, false
}

// ProjectNames lists the environment's project names in its order.
func (e Environment) ProjectNames() []string {
	out := make([]string, len(e.Projects))
	for i, p := range e.Projects {
		out[i] = p.Name
	}
	return out
}

// Layers groups projects (of one environment, in its order) so that each project comes after every
// project it depends on: projects in one layer do not depend on each other and may run in parallel.
// Dependencies on projects not in the list are ignored (they are not being run). Validation rejects
// cycles; were there one, its projects would come last, in one layer each.
func Layers(projects []Project) [][]Project {
	in := map[string]bool{}
	for _, p := range projects {
		in[p.Name] = true
	}
	done := map[string]bool{}
	var out [][]Project
	left := append([]Project(nil), projects...)
	for len(left) > 0 {
		var layer, rest []Project
		for _, p := range left {
			ready := true
			for _, d := range p.DependsOn {
				if in[d] && !done[d] {
					ready = false
				}
			}
			if ready {
				layer = append(layer, p)
			} else {
				rest = append(rest, p)
			}
		}
		if len(layer) == 0 { // a cycle: keep going in order rather than loop forever
			layer, rest = rest[:1], rest[1:]
		}
		for _, p := range layer {
			done[p.Name] = true
		}
		out = append(out, layer)
		left = rest
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
