package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/tf"
)

// ProjectResult is one project's part of an environment's plan.
type ProjectResult struct {
	Name, Dir, Workspace string
	Summary              tf.Summary
	Text                 string
	// Err is why the project was not planned ("" when it was).
	Err string
	// Steps and PolicyFailures are what its workflow's steps found (see PlanResult).
	Steps          string
	PolicyFailures []string
	// Planned is true when the plan was made (a failure then came from a step after it).
	Planned bool
}

// ProjectsFailed says which projects of an environment could not be planned or applied; the others were.
type ProjectsFailed struct {
	Env   string
	Names []string
	Errs  []error
}

func (e *ProjectsFailed) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "\n")
}

func (e *ProjectsFailed) Unwrap() []error { return e.Errs }

// single reports whether env is planned as one folder exactly as before projects existed: its one project
// is the environment itself (so its plan file, comment and status keep their names).
func single(env config.Environment) bool {
	return len(env.Projects) == 1 && env.Projects[0].Name == env.Name
}

// projectsOf returns env's projects named in names (all of them when names is empty), in env's order.
func projectsOf(env config.Environment, names []string) []config.Project {
	if len(names) == 0 {
		return env.Projects
	}
	var out []config.Project
	for _, p := range env.Projects {
		if contains(names, p.Name) {
			out = append(out, p)
		}
	}
	return out
}

// planDir is where env's saved plans live for this run when it has several projects.
func (w *work) planDir(env string) string { return filepath.Join(w.dir, "plans", env) }

// projectPlanFile is where project p's saved plan lives for this run.
func (w *work) projectPlanFile(env config.Environment, p config.Project) string {
	if single(env) {
		return w.planFile(env.Name)
	}
	return filepath.Join(w.planDir(env.Name), url.PathEscape(p.Name)+".tfplan")
}

// planDigest is the checksum of env's saved plans: the one file's SHA-256, or for several projects the
// SHA-256 of their names and checksums, so that changing, adding or removing any one changes it.
func (w *work) planDigest(env string) (string, error) {
	e, _ := w.cfg.Environment(env)
	if single(e) {
		return fileSHA256(w.planFile(env))
	}
	entries, err := os.ReadDir(w.planDir(env))
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	n := 0
	for _, de := range entries { // ReadDir sorts by name
		if !strings.HasSuffix(de.Name(), ".tfplan") {
			continue
		}
		sum, err := fileSHA256(filepath.Join(w.planDir(env), de.Name()))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s %s\n", de.Name(), sum)
		n++
	}
	if n == 0 {
		return "", fmt.Errorf("no saved plans of %s", env)
	}
	h := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(h[:]), nil
}

// preparePlanDir makes env's folder of saved plans, without the plans of an earlier attempt (the digest
// covers every plan in it). Sandboxed Terraform writes there: a run makes it before its plans start (a
// folder made while another environment's command holds the work tree would not be the sandbox's).
func (w *work) preparePlanDir(env config.Environment) error {
	if single(env) {
		return nil
	}
	dir := w.planDir(env.Name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("plan dir: %w", err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.tfplan*"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("clear the saved plans of %s: %w", env.Name, err)
		}
	}
	return nil
}

// plannedProjects lists the projects of env with a saved plan in this run, in env's order.
func (w *work) plannedProjects(env config.Environment) []config.Project {
	if single(env) {
		return env.Projects
	}
	var out []config.Project
	for _, p := range env.Projects {
		if _, err := os.Stat(w.projectPlanFile(env, p)); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// eachProject runs fn for each project in dependency order: layers one after another, the projects of a
// layer at once up to limit, two projects of one folder never at once (they share its lock file). A
// project whose dependency failed is not run; its error says so.
func eachProject(ctx context.Context, projects []config.Project, limit int, fn func(context.Context, config.Project) error) map[string]error {
	var mu sync.Mutex
	errs := map[string]error{}
	dirs := map[string]*sync.Mutex{}
	for _, p := range projects {
		if dirs[p.Dir] == nil {
			dirs[p.Dir] = &sync.Mutex{}
		}
	}
	sem := make(chan struct{}, max(limit, 1))
	for _, layer := range config.Layers(projects) {
		var wg sync.WaitGroup
		for _, p := range layer {
			var failedDep []string
			mu.Lock()
			for _, d := range p.DependsOn {
				if errs[d] != nil {
					failedDep = append(failedDep, d)
				}
			}
			mu.Unlock()
			if len(failedDep) > 0 {
				mu.Lock()
				errs[p.Name] = fmt.Errorf("not run: it depends on %s, which failed", strings.Join(failedDep, ", "))
				mu.Unlock()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					mu.Lock()
					errs[p.Name] = ctx.Err()
					mu.Unlock()
					return
				}
				defer func() { <-sem }()
				dirs[p.Dir].Lock()
				defer dirs[p.Dir].Unlock()
				if err := fn(ctx, p); err != nil {
					mu.Lock()
					errs[p.Name] = err
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	return errs
}

// planEnv plans the named projects of env (all when names is empty), each into its own saved plan, and
// combines their results. Every project is planned even when another fails (except those depending on
// a failed one); the error is then a *ProjectsFailed and the result still holds every project's part.
func (w *work) planEnv(ctx context.Context, env config.Environment, names []string, vars map[string]string, log io.Writer) (PlanResult, error) {
	projects := projectsOf(env, names)
	if len(projects) == 0 {
		return PlanResult{}, fmt.Errorf("environment %s: no project to plan", env.Name)
	}
	if single(env) {
		return w.plan(ctx, env, env.Projects[0], vars, log)
	}
	if err := w.preparePlanDir(env); err != nil {
		return PlanResult{}, err
	}
	var mu sync.Mutex
	results := map[string]PlanResult{}
	logs := newPrefixLogs(log)
	errs := eachProject(ctx, projects, w.e.opts.PlanParallelism, func(ctx context.Context, p config.Project) error {
		plog := logs.writer(p.Name)
		defer plog.flush()
		r, err := w.plan(ctx, env, p, vars, plog)
		mu.Lock()
		results[p.Name] = r
		mu.Unlock()
		if err != nil {
			fmt.Fprintf(plog, "plan failed: %v\n", err)
		}
		return err
	})
	out := PlanResult{Summary: tf.Summary{Environment: env.Name, Resources: []tf.ResourceChange{}, NoChanges: true}}
	failed := &ProjectsFailed{Env: env.Name}
	for _, p := range projects {
		r := results[p.Name]
		pr := ProjectResult{Name: p.Name, Dir: p.Dir, Workspace: p.Workspace, Steps: r.Steps, PolicyFailures: r.PolicyFailures}
		for _, f := range r.PolicyFailures {
			out.PolicyFailures = append(out.PolicyFailures, p.Name+": "+f)
		}
		if err := errs[p.Name]; err != nil {
			pr.Err = err.Error()
			if r.Summary.Environment != "" { // planned; a step after the plan failed
				pr.Summary, pr.Text, pr.Planned = r.Summary, r.Text, true
			}
			failed.Names = append(failed.Names, p.Name)
			failed.Errs = append(failed.Errs, fmt.Errorf("project %s: %w", p.Name, err))
			out.Projects = append(out.Projects, pr)
			continue
		}
		pr.Summary, pr.Text = r.Summary, r.Text
		out.Projects = append(out.Projects, pr)
		s := &out.Summary
		s.Add, s.Change, s.Destroy, s.Replace = s.Add+r.Summary.Add, s.Change+r.Summary.Change, s.Destroy+r.Summary.Destroy, s.Replace+r.Summary.Replace
		s.Resources = append(s.Resources, r.Summary.Resources...)
		s.NoChanges = s.NoChanges && r.Summary.NoChanges
		for _, d := range r.Summary.Drift {
			d.Address = p.Name + ":" + d.Address
			s.Drift = append(s.Drift, d)
		}
		out.Text += fmt.Sprintf("=== project %s (%s, workspace %s) ===\n%s\n", p.Name, p.Dir, p.Workspace, r.Text)
		for _, f := range r.Fingerprint {
			f.Address = p.Name + ":" + f.Address
			out.Fingerprint = append(out.Fingerprint, f)
		}
	}
	sort.SliceStable(out.Fingerprint, func(i, j int) bool { return out.Fingerprint[i].Address < out.Fingerprint[j].Address })
	if len(failed.Names) > 0 {
		return out, failed
	}
	return out, nil
}

// Markdown is the plan as the pull request shows it: the summary, or for an environment of several
// projects a section per project (its summary, or why it was not planned).
func (r PlanResult) Markdown() string {
	if len(r.Projects) == 0 {
		if r.Steps == "" {
			return r.Summary.Markdown()
		}
		return r.Summary.Markdown() + "\n" + r.Steps
	}
	var b strings.Builder
	for _, p := range r.Projects {
		fmt.Fprintf(&b, "#### Project %s\n\n`%s` · workspace `%s`\n\n", codeName(p.Name), escapeMarkdown(p.Dir), escapeMarkdown(p.Workspace))
		if p.Err != "" {
			what := "Plan failed"
			if p.Planned {
				what = "Failed after the plan"
			}
			fmt.Fprintf(&b, "**%s**\n\n```\n%s\n```\n\n", what, fence(p.Err))
		}
		if p.Err == "" || p.Planned {
			s := p.Summary
			s.Environment = p.Name
			b.WriteString(s.Markdown())
			b.WriteString("\n")
		}
		if p.Steps != "" {
			b.WriteString(p.Steps + "\n")
		}
	}
	return b.String()
}

func codeName(s string) string { return "`" + strings.ReplaceAll(s, "`", "'") + "`" }

// applyEnv applies the saved plans of env's planned projects in dependency order and returns their
// outputs merged (a later project's output wins a name both have).
func (w *work) applyEnv(ctx context.Context, env config.Environment, environ map[string]string, init bool, log io.Writer) (map[string]string, error) {
	projects := w.plannedProjects(env)
	if len(projects) == 0 {
		return nil, fmt.Errorf("apply %s: no saved plan", env.Name)
	}
	var mu sync.Mutex
	outs := map[string]map[string]string{}
	logs := newPrefixLogs(log)
	one := func(ctx context.Context, p config.Project, l io.Writer) error {
		wf, _ := w.cfg.Workflow(p.Workflow)
		before, _, after := phaseSteps(wf.Apply, config.StepApply)
		sr := w.newStepRun(env, p, environ, l)
		if err := sr.run(ctx, before, ""); err != nil {
			return err
		}
		o, err := w.e.deps.Terraform.Apply(ctx, ApplyRequest{
			Env: env.Name, Root: rootOf(env, p), Dir: filepath.Join(w.src, filepath.FromSlash(p.Dir)), WorkTree: w.dir,
			Phase: PhaseApply, Environ: environ, PlanFile: w.projectPlanFile(env, p), Log: l, Init: init,
			Attempt: w.tfAttempt(ctx, env.Name),
		})
		if err != nil {
			return err
		}
		mu.Lock()
		outs[p.Name] = o
		mu.Unlock()
		return sr.run(ctx, after, "")
	}
	if single(env) {
		if err := one(ctx, projects[0], log); err != nil {
			return nil, err
		}
		return outs[projects[0].Name], nil
	}
	errs := eachProject(ctx, projects, w.e.opts.PlanParallelism, func(ctx context.Context, p config.Project) error {
		l := logs.writer(p.Name)
		defer l.flush()
		err := one(ctx, p, l)
		if err != nil {
			fmt.Fprintf(l, "apply failed: %v\n", err)
		}
		return err
	})
	merged := map[string]string{}
	failed := &ProjectsFailed{Env: env.Name}
	for _, p := range projects {
		if err := errs[p.Name]; err != nil {
			failed.Names = append(failed.Names, p.Name)
			failed.Errs = append(failed.Errs, fmt.Errorf("project %s: %w", p.Name, err))
			continue
		}
		for k, v := range outs[p.Name] {
			merged[k] = v
		}
	}
	if len(failed.Names) > 0 {
		return merged, failed
	}
	return merged, nil
}

// outputsEnv reads the current outputs of every project of env, merged like applyEnv's.
func (w *work) outputsEnv(ctx context.Context, env config.Environment, environ map[string]string, log io.Writer) (map[string]string, error) {
	merged := map[string]string{}
	var errs []error
	for _, p := range env.Projects {
		o, err := w.e.deps.Terraform.Outputs(ctx, ApplyRequest{Env: env.Name, Root: rootOf(env, p),
			Dir: filepath.Join(w.src, filepath.FromSlash(p.Dir)), WorkTree: w.dir, Phase: PhaseApply, Environ: environ, Log: log,
			Attempt: w.tfAttempt(ctx, env.Name)})
		if err != nil {
			errs = append(errs, fmt.Errorf("project %s: %w", p.Name, err))
			continue
		}
		for k, v := range o {
			merged[k] = v
		}
	}
	return merged, errors.Join(errs...)
}

// rootOf is what Terraform needs to know of project p beyond its folder.
func rootOf(env config.Environment, p config.Project) Root {
	name := p.Name
	if single(env) {
		name = env.Name
	}
	return Root{Project: name, Workspace: p.Workspace, VarFiles: p.VarFiles, BackendConfig: p.BackendConfig,
		TerraformVersion: p.TerraformVersion}
}

// prefixLogs interleaves the logs of projects running at once into one stage log, a whole line at a time,
// each line prefixed with its project's name.
type prefixLogs struct {
	mu sync.Mutex
	w  io.Writer
}

func newPrefixLogs(w io.Writer) *prefixLogs { return &prefixLogs{w: w} }

type prefixWriter struct {
	mu     sync.Mutex // Terraform's stdout and stderr are written from two goroutines
	logs   *prefixLogs
	prefix string
	buf    []byte
}

func (l *prefixLogs) writer(name string) *prefixWriter {
	return &prefixWriter{logs: l, prefix: "[" + name + "] "}
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		p.emit(p.buf[:i+1])
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

func (p *prefixWriter) emit(line []byte) {
	p.logs.mu.Lock()
	defer p.logs.mu.Unlock()
	_, _ = p.logs.w.Write(append([]byte(p.prefix), line...))
}

func (p *prefixWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		p.emit(append(p.buf, '\n'))
		p.buf = nil
	}
}
