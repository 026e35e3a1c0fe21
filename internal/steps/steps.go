// Package steps runs the steps of a project's workflow besides Terraform's own: commands (run, tflint) in
// the sandbox with the project's environment, and Open Policy Agent checks of the plan (policy).
package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/plancheck"
	"github.com/gitops-runner/runner/internal/proc"
	"github.com/gitops-runner/runner/internal/sandbox"
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout = 10 * time.Minute
	DefaultShell   = "/bin/sh"
	// maxOutput is how much of a command's output a failed step keeps to show.
	maxOutput = 16 << 10
)

// ErrRunNotAllowed refuses a run step the server policy does not allow for the repository.
var ErrRunNotAllowed = errors.New("run steps are not allowed for this repository by the runner's server policy (allow_run_steps)")

// Sandbox isolates each command (implemented by internal/sandbox).
type Sandbox interface {
	Launcher() string
	Enter(ctx context.Context, cmd sandbox.Command) (env map[string]string, release func(), err error)
}

// Options configure a Runner.
type Options struct {
	// Sandbox, when set, runs every command isolated; WorkTree in each request is then all it may write.
	Sandbox Sandbox
	// BaseEnv is the whole environment commands start from (the runner's explicit one); nil: the
	// allow-list of proc.Inherit over the runner's own environment.
	BaseEnv map[string]string
	Shell   string // run steps: DefaultShell -c COMMAND
	// TFLint is the tflint binary (absolute); "" looks for tflint on PATH when a step needs it.
	TFLint string
	// PolicyDir holds the server's own rego files, checked besides the repository's (absolute; "" none).
	PolicyDir string
	// Self is the runner's own executable (absolute): policy checks run in a child process of it, in the
	// sandbox, so that a hostile policy's compile and evaluation cost that process, which is killed at its
	// deadline. "" checks in this process (tests, the CLI on one's own repository).
	Self    string
	Timeout time.Duration // per step; DefaultTimeout when 0
}

// Runner runs steps. It holds no state of its own between calls: one Runner serves every run.
type Runner struct{ opts Options }

// New returns a Runner.
func New(opts Options) *Runner {
	if opts.Shell == "" {
		opts.Shell = DefaultShell
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	return &Runner{opts: opts}
}

// Request is one step of one project.
type Request struct {
	Step     config.Step
	Project  string
	Env      string
	RepoRoot string // the checkout (absolute)
	Dir      string // the project's folder (absolute): commands run there
	WorkTree string // the run's directory (absolute): all a sandboxed command may write
	// PlanFile and PlanJSON are the saved plan and its JSON form (absolute), once the plan is made.
	PlanFile, PlanJSON string
	// Environ is the phase's environment (credentials, region, passed variables); Vars are more variables
	// for commands (PROJECT_NAME, WORKSPACE, ...).
	Environ, Vars map[string]string
	// AllowRun says whether the server policy lets this repository run commands of its own.
	AllowRun bool
	Log      io.Writer
}

// Result is what a step found.
type Result struct {
	Kind    string
	Failed  bool
	Summary string // one line
	// Markdown is the step's section for the pull request comment, every piece of text escaped (it comes
	// from the repository and from commands it runs).
	Markdown string
	Policy   *plancheck.Report // policy steps
}

// Run runs one step. A step that ran and failed is a Result with Failed; an error means it could not run
// at all (a missing tool, a refused run step, a policy that does not compile), which fails the project too.
func (r *Runner) Run(ctx context.Context, req Request) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	switch req.Step.Kind {
	case config.StepRun:
		if !req.AllowRun {
			return Result{Kind: config.StepRun}, ErrRunNotAllowed
		}
		return r.command(ctx, req, config.StepRun, r.opts.Shell, "-c", req.Step.Run)
	case config.StepTFLint:
		bin := r.opts.TFLint
		if bin == "" {
			p, err := exec.LookPath("tflint")
			if err != nil {
				return Result{Kind: config.StepTFLint}, errors.New("tflint is not installed on this runner (an operator sets RUNNER_TFLINT_BIN)")
			}
			bin = p
		}
		return r.command(ctx, req, config.StepTFLint, bin, append([]string{"--format=compact", "--no-color"}, req.Step.Args...)...)
	case config.StepPolicy:
		return r.policy(ctx, req)
	}
	return Result{Kind: req.Step.Kind}, fmt.Errorf("step %q is run by Terraform, not here", req.Step.Kind)
}

// command runs program with args in the project's folder (in the sandbox when there is one).
func (r *Runner) command(ctx context.Context, req Request, kind, program string, args ...string) (Result, error) {
	res := Result{Kind: kind}
	abs, err := filepath.Abs(program)
	if err != nil {
		return res, err
	}
	out := &tail{max: maxOutput}
	w := io.MultiWriter(out, logOr(req.Log))
	label := kind
	if kind == config.StepRun {
		label = "run: " + firstLine(req.Step.Run)
	}
	fmt.Fprintf(logOr(req.Log), "$ %s\n", label)
	err = r.exec(ctx, req.WorkTree, req.Dir, abs, args, r.env(req), nil, w, w)
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("%s step of %s: stopped: %w", kind, req.Project, ctx.Err())
	case err != nil:
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return res, fmt.Errorf("%s step of %s: %w", kind, req.Project, err)
		}
		res.Failed = true
		res.Summary = fmt.Sprintf("%s failed (exit %d)", label, exit.ExitCode())
	default:
		res.Summary = label + " passed"
	}
	res.Markdown = fmt.Sprintf("**%s** %s\n", escape(label), map[bool]string{true: "failed", false: "passed"}[res.Failed])
	if text := strings.TrimSpace(out.String()); text != "" && (res.Failed || kind == config.StepTFLint) {
		res.Markdown += "\n```\n" + strings.ReplaceAll(text, "```", "`\u200b``") + "\n```\n"
	}
	return res, nil
}

// exec runs program (in the sandbox when there is one, where it may write only workTree) and waits for it.
func (r *Runner) exec(ctx context.Context, workTree, dir, program string, args []string, env map[string]string,
	stdin io.Reader, stdout, stderr io.Writer) error {
	exe := program
	if r.opts.Sandbox != nil {
		add, release, err := r.opts.Sandbox.Enter(ctx, sandbox.Command{Program: program, WorkTree: workTree})
		if err != nil {
			return err
		}
		defer release()
		maps.Copy(env, add)
		exe = r.opts.Sandbox.Launcher()
	}
	cmd := proc.Command(ctx, 0, exe, args...)
	cmd.Dir = dir
	cmd.Env = flatten(env)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	err := cmd.Run()
	proc.Reap(cmd)
	return err
}

// env is what a command gets: the base, the phase's credentials and variables, and the step's own.
func (r *Runner) env(req Request) map[string]string {
	env := map[string]string{}
	if r.opts.BaseEnv != nil {
		maps.Copy(env, r.opts.BaseEnv)
	} else {
		for _, kv := range proc.Inherit(os.Environ(), nil, nil) {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	maps.Copy(env, req.Environ)
	maps.Copy(env, req.Vars)
	return env
}

// policy checks the plan JSON against the repository's rego files under the step's paths and the
// server's own.
func (r *Runner) policy(ctx context.Context, req Request) (Result, error) {
	res := Result{Kind: config.StepPolicy}
	if req.PlanJSON == "" {
		return res, errors.New("policy step before the plan: nothing to check")
	}
	var modules []plancheck.Module
	if len(req.Step.Paths) > 0 {
		dirs := make([]string, len(req.Step.Paths))
		for i, p := range req.Step.Paths {
			dirs[i] = filepath.Join(req.RepoRoot, filepath.FromSlash(p))
		}
		m, err := plancheck.Load(req.RepoRoot, dirs...)
		if err != nil {
			return res, fmt.Errorf("policy step of %s: %w", req.Project, err)
		}
		modules = append(modules, m...)
	}
	if r.opts.PolicyDir != "" {
		m, err := plancheck.Load(r.opts.PolicyDir, r.opts.PolicyDir)
		if err != nil {
			return res, fmt.Errorf("policy step of %s: the server's policies: %w", req.Project, err)
		}
		for i := range m {
			m[i].Path = "server:" + m[i].Path
		}
		modules = append(modules, m...)
	}
	if len(modules) == 0 {
		return res, fmt.Errorf("policy step of %s: no .rego files under %s and no server policies", req.Project, strings.Join(req.Step.Paths, ", "))
	}
	plan, err := os.ReadFile(req.PlanJSON)
	if err != nil {
		return res, fmt.Errorf("policy step of %s: read the plan: %w", req.Project, err)
	}
	var rep plancheck.Report
	if r.opts.Self != "" {
		rep, err = plancheck.CheckIn(ctx, r.child(req), modules, plan, plancheck.Options{})
	} else {
		rep, err = plancheck.Check(ctx, modules, plan, plancheck.Options{})
	}
	if err != nil {
		return res, fmt.Errorf("policy step of %s: %w", req.Project, err)
	}
	res.Policy = &rep
	res.Failed = rep.Failed()
	fmt.Fprintf(logOr(req.Log), "$ policy (%d files)\n", len(modules))
	for _, x := range rep.Results {
		level := "warn"
		if x.Fail {
			level = "FAIL"
		}
		fmt.Fprintf(logOr(req.Log), "%s %s.%s: %s\n", level, x.Package, x.Rule, x.Message)
	}
	res.Summary = fmt.Sprintf("policy: %d failure(s), %d warning(s)", len(rep.Failures()), len(rep.Warnings()))
	res.Markdown = rep.Markdown()
	return res, nil
}

// FailureMessages lists a policy report's failures as "package.rule: message", sorted, to compare what was
// overridden with what a later plan finds.
func FailureMessages(rep *plancheck.Report) []string {
	if rep == nil {
		return nil
	}
	var out []string
	for _, f := range rep.Failures() {
		out = append(out, f.Package+"."+f.Rule+": "+f.Message)
	}
	sort.Strings(out)
	return out
}

func flatten(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func logOr(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// escape keeps text from the repository from being read as Markdown, mentions or HTML.
func escape(s string) string {
	r := strings.NewReplacer("\\", "\\\\", "`", "\\`", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]",
		"<", "&lt;", ">", "&gt;", "@", "@\u200b", "#", "\\#", "|", "\\|")
	return r.Replace(s)
}

// tail keeps the last max bytes written.
type tail struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

// maxChildOutput bounds what a policy check's child may answer.
const maxChildOutput = 16 << 20

// child starts the runner binary as a policy check's child: in the sandbox, with nothing of the
// environment but what any program needs (no credentials), killed when its deadline passes.
func (r *Runner) child(req Request) plancheck.Runner {
	return func(ctx context.Context, stdin []byte) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, plancheck.DefaultTimeout+20*time.Second)
		defer cancel()
		env := map[string]string{}
		for _, kv := range append(proc.Inherit(os.Environ(), nil, nil), plancheck.ChildEnv()) {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		var out limited
		out.max = maxChildOutput
		errOut := &tail{max: 4 << 10}
		err := r.exec(ctx, req.WorkTree, req.WorkTree, r.opts.Self, nil, env, bytes.NewReader(stdin), &out, errOut)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("the policies took longer than %s: stopped", plancheck.DefaultTimeout+20*time.Second)
		}
		if err != nil {
			return nil, fmt.Errorf("the checking process failed (%v): %s", err, strings.TrimSpace(errOut.String()))
		}
		return out.buf.Bytes(), nil
	}
}

// limited keeps at most max bytes and drops the rest.
type limited struct {
	max int
	buf bytes.Buffer
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
