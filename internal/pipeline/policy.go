package pipeline

import (
	"context"
	"fmt"
	"strings"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/policy"
	"github.com/gitops-runner/runner/internal/redact"
	"github.com/gitops-runner/runner/internal/repofs"
	"github.com/gitops-runner/runner/internal/store"
)

// Policy is the operator's server-side policy as runs apply it.
type Policy interface {
	// MayPlan decides whether a pull request is planned automatically. An error means the decision
	// could not be made (a failed look-up): nothing is planned and nothing refused.
	MayPlan(ctx context.Context, ev event.Event) (policy.Decision, error)
	// For is what the policy says about a repository.
	For(repo string) policy.RepoPolicy
}

// Credentials give Terraform its environment for one phase of one environment.
type Credentials interface {
	Environ(ctx context.Context, req CredentialsRequest) (Grant, error)
}

// CredentialsRequest names the phase, the run and the environment that Terraform works on.
type CredentialsRequest struct {
	Phase string // PhasePlan or PhaseApply
	Repo  string
	PR    int
	RunID int64
	Env   policy.Environment
}

// Grant is what Terraform gets for one phase: the session's variables (credentials, region, the
// variables the policy passes on), the values to mask, and a note for the pull request comment.
type Grant struct {
	Env     map[string]string
	Secrets []string
	Note    string
}

// policyFor is what the policy says about the run's repository (the built-in default without one).
func (w *work) policyFor() policy.RepoPolicy {
	if w.e.deps.Policy == nil {
		return (&policy.Policy{}).For(w.run.Event.Repo)
	}
	return w.e.deps.Policy.For(w.run.Event.Repo)
}

// mayPlan reports whether a pull request is planned. When it is not, the pull request is told why
// once (a status and a comment) and no Terraform runs.
func (w *work) mayPlan(ctx context.Context) (ok bool, status, errText string) {
	if w.e.deps.Policy == nil {
		return true, "", ""
	}
	ev := w.run.Event
	if ev.RequestedBy != "" {
		// Asked for with a plan command: the commenter was authorised to plan when they asked.
		return true, "", ""
	}
	d, err := w.e.deps.Policy.MayPlan(ctx, ev)
	if err != nil {
		w.setStatus(ctx, "runner/plan", "error", "not planned: could not check who may plan")
		return false, store.StatusFailed, "could not decide whether the pull request may be planned: " + err.Error()
	}
	if d.Allowed {
		return true, "", ""
	}
	// Commit statuses have no neutral state; error blocks a required check until a maintainer acts.
	w.setStatus(ctx, "runner/plan", "error", "not planned: "+firstLine(d.Reason))
	w.planComment(ctx, notPlannedKey, "### Not planned\n\n"+escapeMarkdown(w.redactor.String(d.Reason))+".\n\n"+d.Hint+"\n", "")
	return false, store.StatusNothing, "not planned: " + d.Reason
}

// Sticky comment keys that are not environments (environment names hold no dot).
const (
	notPlannedKey = "runner.not-planned"
	configKey     = "runner.yaml"
)

// applyPolicy combines the server policy with a repository configuration. Refusals (a file that
// tries to loosen the policy) are errors that name the file and lines.
func (w *work) applyPolicy(cfg *config.Repo) (policy.Effective, error) {
	eff, err := w.policyFor().Apply(cfg)
	if err != nil {
		return eff, fmt.Errorf("%s asks for what the server policy does not allow:\n%w", config.RepoFile, err)
	}
	return eff, nil
}

// deployConfig is the configuration a push deploys by: the default branch's .runner.yaml, never the
// pushed commit's own copy (unless the push is to the default branch, whose head it then is).
func (w *work) deployConfig(ctx context.Context) (*config.Repo, string, error) {
	ev := w.run.Event
	def := ev.DefaultBranch
	if def == "" {
		def = config.EnvironmentDefaultBranch
	}
	if ev.Kind == event.KindDeploy && event.Branch(ev.Ref) == def {
		cfg, err := w.loadRepo(w.repo)
		return cfg, def, err
	}
	// The mirror may not have fetched since the default branch last moved.
	if _, err := w.e.deps.Git.Sync(ctx, ev.CloneURL); err != nil {
		return nil, def, fmt.Errorf("fetch %s for its default branch: %w", ev.Repo, err)
	}
	head, err := w.mirror.BranchHead(def)
	if err != nil {
		return nil, def, fmt.Errorf("read the default branch %s: %w", def, err)
	}
	tree, err := w.mirror.Tree(ctx, head, configFile)
	if err != nil {
		return nil, def, fmt.Errorf("read the default branch %s: %w", def, err)
	}
	cfg, err := w.loadRepo(tree)
	return cfg, def, err
}

// loadRepo reads a commit's .runner.yaml; files are named by their repository paths.
func (w *work) loadRepo(fsys repofs.FS) (*config.Repo, error) {
	return config.LoadRepoFS(fsys)
}

// configChanges says on the pull request what its .runner.yaml changes in effect, against the
// merge base's.
func (w *work) configChanges(ctx context.Context, base string, changed []string) {
	if !contains(changed, config.RepoFile) {
		return
	}
	var lines []string
	baseEff := policy.Effective{Repo: &config.Repo{}}
	if tree, err := w.mirror.Tree(ctx, base, configFile); err == nil {
		if cfg, err := w.loadRepo(tree); err == nil {
			baseEff, _ = w.policyFor().Apply(cfg)
		}
	}
	lines = policy.Diff(baseEff, w.eff)
	if len(lines) == 0 {
		lines = []string{"nothing changes in effect"}
	}
	var b strings.Builder
	b.WriteString("### `.runner.yaml` changes in effect\n\nThis pull request's `.runner.yaml` is used to plan it only; deploys read the default branch's.\n\n")
	for _, l := range lines {
		fmt.Fprintf(&b, "- %s\n", escapeMarkdown(l))
	}
	w.planComment(ctx, configKey, b.String(), "")
}

// grant gets Terraform's environment for one environment in this run's phase: once per run and
// environment (a deploy's plan, apply and outputs share the session), remembering a failure too. The
// session's secrets join the run's redactor, which is replaced: call grant before the environment's
// stages start and never while other stages run in parallel (planPR and deployEnv do).
func (w *work) grant(ctx context.Context, name string) (Grant, error) {
	if w.e.deps.Credentials == nil {
		return Grant{}, nil
	}
	w.mu.Lock()
	got, ok := w.grants[name]
	w.mu.Unlock()
	if ok {
		return got.Grant, got.err
	}
	env, _ := w.eff.Environment(name)
	g, err := w.e.deps.Credentials.Environ(ctx, CredentialsRequest{
		Phase: w.phase(), Repo: w.run.Event.Repo, PR: w.run.Event.PR, RunID: w.run.ID, Env: env,
	})
	if err != nil {
		err = fmt.Errorf("credentials for %s: %w", name, err)
	} else {
		w.addSecrets(redact.Secrets("session-credentials", g.Secrets...)...)
	}
	w.mu.Lock()
	if w.grants == nil {
		w.grants = map[string]granted{}
	}
	w.grants[name] = granted{g, err}
	w.mu.Unlock()
	return g, err
}

// granted is a grant asked for once in a run, or why it could not be had.
type granted struct {
	Grant
	err error
}

// note is what the pull request comment says about an environment's credentials.
func (w *work) note(name string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := w.grants[name].Note; n != "" {
		return "> " + escapeMarkdown(n) + "\n\n"
	}
	return ""
}

// phaseVars are the -var inputs the policy (and the file, where allowed) sets for this phase.
func (w *work) phaseVars(name string) map[string]string {
	env, _ := w.eff.Environment(name)
	if w.phase() == PhasePlan {
		return env.Plan.Vars
	}
	return env.Apply.Vars
}

// escapeMarkdown keeps text from a pull request (branch names, file content in errors) from being
// read as markup or mentions in a comment.
func escapeMarkdown(s string) string {
	r := strings.NewReplacer("\\", "\\\\", "`", "\\`", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]",
		"<", "&lt;", ">", "&gt;", "@", "@\u200b", "#", "\\#", "|", "\\|")
	return r.Replace(s)
}
