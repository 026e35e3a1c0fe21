package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gitops-runner/runner/internal/action"
	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/steps"
	"github.com/gitops-runner/runner/internal/store"
)

// Steps runs the steps of a workflow that are not Terraform's own (run, tflint, policy).
type Steps interface {
	Run(ctx context.Context, req steps.Request) (steps.Result, error)
}

// phaseSteps splits a workflow phase around its Terraform step (plan or apply): the steps before the
// init step, those between init and the Terraform step, and those after it. Without an init step, init
// comes right before the Terraform step.
func phaseSteps(list []config.Step, main string) (beforeInit, afterInit, after []config.Step) {
	i := slices.IndexFunc(list, func(s config.Step) bool { return s.Kind == main })
	if i < 0 {
		return nil, nil, nil
	}
	pre, post := list[:i], list[i+1:]
	in := slices.IndexFunc(pre, func(s config.Step) bool { return s.Kind == config.StepInit })
	if in < 0 {
		return pre, nil, post
	}
	return pre[:in], pre[in+1:], post
}

// stepRun is the state of one project's steps in one phase.
type stepRun struct {
	w       *work
	env     config.Environment
	p       config.Project
	environ map[string]string
	log     io.Writer
	// what the steps found
	markdown []string
	failed   []string // steps that failed (not policy failures)
	policy   []string // policy check failures: "package.rule: message"
}

func (w *work) newStepRun(env config.Environment, p config.Project, environ map[string]string, log io.Writer) *stepRun {
	return &stepRun{w: w, env: env, p: p, environ: environ, log: log}
}

// run runs steps in order; the first that cannot run or fails stops the rest (a policy step's failures
// are recorded and do not stop them).
func (s *stepRun) run(ctx context.Context, list []config.Step, planFile string) error {
	for _, st := range list {
		if err := s.one(ctx, st, planFile); err != nil {
			return err
		}
	}
	return nil
}

func (s *stepRun) one(ctx context.Context, st config.Step, planFile string) error {
	w := s.w
	if w.e.deps.Steps == nil {
		return fmt.Errorf("project %s: this runner cannot run %s steps", s.p.Name, st.Kind)
	}
	ev := w.run.Event
	dir := filepath.Join(w.src, filepath.FromSlash(s.p.Dir))
	vars := map[string]string{
		"PROJECT_NAME": s.p.Name, "ENVIRONMENT": s.env.Name, "WORKSPACE": s.p.Workspace, "DIR": dir,
		"COMMIT_SHA": ev.SHA, "HEAD_COMMIT": ev.SHA, "REPO": ev.Repo,
	}
	if ev.PR > 0 {
		vars["PULL_NUM"] = strconv.Itoa(ev.PR)
	}
	req := steps.Request{
		Step: st, Project: s.p.Name, Env: s.env.Name, RepoRoot: w.src, Dir: dir,
		WorkTree: w.dir, Environ: s.environ, Vars: vars, AllowRun: w.policyFor().AllowRunSteps, Log: s.log,
	}
	if planFile != "" {
		req.PlanFile, req.PlanJSON = planFile, planFile+".json"
		vars["PLANFILE"], vars["SHOWFILE"] = req.PlanFile, req.PlanJSON
	}
	res, err := w.e.deps.Steps.Run(ctx, req)
	if err != nil {
		s.markdown = append(s.markdown, fmt.Sprintf("**%s** could not run: %s\n", st.Kind, escapeMarkdown(w.redactor.String(err.Error()))))
		return err
	}
	if res.Markdown != "" {
		s.markdown = append(s.markdown, w.redactor.String(res.Markdown))
	}
	if res.Policy != nil {
		s.policy = append(s.policy, steps.FailureMessages(res.Policy)...)
		return nil
	}
	if res.Failed {
		s.failed = append(s.failed, res.Summary)
		return fmt.Errorf("project %s: %s", s.p.Name, res.Summary)
	}
	return nil
}

func (s *stepRun) section() string { return strings.Join(s.markdown, "\n") }

// policyFailures reads a plan stage's recorded policy check failures.
func policyFailures(out map[string]string) []string {
	var f []string
	if v := out[action.PolicyFailuresKey]; v != "" {
		_ = json.Unmarshal([]byte(v), &f)
	}
	return f
}

// recordPolicy keeps a plan's policy check failures in its stage outputs (for overrides and deploys).
func recordPolicy(r PlanResult, out map[string]string) {
	if len(r.PolicyFailures) == 0 {
		return
	}
	b, _ := json.Marshal(r.PolicyFailures)
	out[action.PolicyFailuresKey] = string(b)
}

// overridden returns the newest override of the pull request's env that covers every failure, if any.
func (w *work) overridden(ctx context.Context, pr int, env string, failures []string) (store.Override, bool) {
	if pr == 0 || len(failures) == 0 {
		return store.Override{}, false
	}
	os, err := w.e.deps.Store.Overrides(ctx, w.run.Event.Repo, pr, env)
	if err != nil {
		w.log.Warn("read policy overrides", "pr", pr, "env", env, "err", err)
		return store.Override{}, false
	}
	for _, o := range os {
		if covers(o.Failures, failures) {
			return o, true
		}
	}
	return store.Override{}, false
}

func covers(overridden, failures []string) bool {
	for _, f := range failures {
		if !slices.Contains(overridden, f) {
			return false
		}
	}
	return true
}

// errPolicy stops a deploy whose plan fails the policy checks without an override.
var errPolicy = errors.New("policy checks failed")

// policyGate decides, at a deploy, whether env's plan may be applied despite policy check failures.
func (w *work) policyGate(ctx context.Context, env string, planOut map[string]string, log io.Writer) error {
	failures := policyFailures(planOut)
	if len(failures) == 0 {
		return nil
	}
	pr := w.mergedPR(ctx)
	if o, ok := w.overridden(ctx, pr, env, failures); ok {
		fmt.Fprintf(log, "policy check failures overridden by %s (%s) on #%d: %s\n", o.By, o.Channel, pr, o.Reason)
		return nil
	}
	return fmt.Errorf("%w for %s: %s (a maintainer can let them through with `%s override %s <reason>` on the pull request, then push again)",
		errPolicy, env, strings.Join(failures, "; "), w.commandPrefix(), env)
}

func (w *work) commandPrefix() string {
	if p := w.e.opts.CommandPrefix; p != "" {
		return p
	}
	return "/runner"
}

// prPolicy reports a pull request plan's policy check failures: errPolicy (the environment's status fails,
// so that a protected branch cannot merge) unless a person overrode exactly these failures.
func (w *work) prPolicy(ctx context.Context, env string, r PlanResult) error {
	if o, ok := w.overridden(ctx, w.run.Event.PR, env, r.PolicyFailures); ok {
		w.log.Info("policy check failures overridden", "env", env, "by", o.By, "override", o.ID)
		return nil
	}
	return fmt.Errorf("%w: %d failure(s); `%s override %s <reason>` lets them through when this merges",
		errPolicy, len(r.PolicyFailures), w.commandPrefix(), env)
}
