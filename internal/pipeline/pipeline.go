// Package pipeline turns a stored run into work: it checks out the commit, works
// out what changed, builds the run's stages per environment and executes them in
// order, recording each stage's log and outcome in the store.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/gitops-runner/runner/internal/changes"
	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/gitrepo"
	"github.com/gitops-runner/runner/internal/pgroup"
	"github.com/gitops-runner/runner/internal/redact"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/tf"
)

// Store is what the pipeline needs from the store.
type Store interface {
	StartRun(ctx context.Context, id int64) (store.Run, error)
	SetRunScope(ctx context.Context, id int64, changed, envs, apps []string) error
	FinishRun(ctx context.Context, id int64, status, errText string) error
	AddRedactions(ctx context.Context, id int64, n int) error
	EnsureStages(ctx context.Context, runID int64, keys []store.StageKey) ([]store.Stage, error)
	StartStage(ctx context.Context, id int64) error
	WaitStage(ctx context.Context, id int64, waitingFor string) error
	FinishStage(ctx context.Context, id int64, status, detail string, output map[string]string) error
	StartAttempt(ctx context.Context, a store.Attempt) error
	EndAttempt(ctx context.Context, stageID int64, attempt int) error
	OpenAttempts(ctx context.Context, runID int64) ([]store.Attempt, error)
	LockReleased(ctx context.Context, stageID int64, attempt int, lockID string) error
	AppendLog(ctx context.Context, stageID int64, lines []string) error
	TryLock(ctx context.Context, repo, env, holder string, runID int64, lease time.Duration) (bool, store.Lock, error)
	RenewLock(ctx context.Context, repo, env, holder string, lease time.Duration) error
	ReleaseLock(ctx context.Context, repo, env, holder, reason string) (store.Lock, error)
	RecordDeployment(ctx context.Context, d store.Deployment) error
	LastDeployment(ctx context.Context, repo, env string) (store.Deployment, error)
	RecordDriftCheck(ctx context.Context, c store.DriftCheck) (prev store.DriftCheck, found bool, err error)
	ListRuns(ctx context.Context, f store.ListFilter) ([]store.Run, error)
	Succeeded(ctx context.Context, repo, env string, limit int) ([]store.Deployment, error)
	DeploymentsOf(ctx context.Context, repo, env string, limit int) ([]store.Deployment, error)
	RequestApproval(ctx context.Context, a store.Approval) (store.Approval, error)
	CurrentApproval(ctx context.Context, runID int64, env string) (store.Approval, error)
	DecideApproval(ctx context.Context, id int64, state, by, channel, reason string) (store.Approval, error)
	Approvals(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error)
	MergedPR(ctx context.Context, repo, sha string) (int, error)
	ReviewedPlan(ctx context.Context, repo string, pr int, env string) (sha string, output map[string]string, ok bool, err error)
	Overrides(ctx context.Context, repo string, pr int, env string) ([]store.Override, error)
	RunStory(ctx context.Context, id int64) (string, error)
	SetRunStory(ctx context.Context, id int64, story string) error
}

// Terraform plans and applies one environment, and reads its outputs.
type Terraform interface {
	Plan(ctx context.Context, req PlanRequest) (PlanResult, error)
	Apply(ctx context.Context, req ApplyRequest) (outputs map[string]string, err error)
	Outputs(ctx context.Context, req ApplyRequest) (map[string]string, error)
}

// Phases of Terraform work: what a command may do, and so which credentials it gets.
const (
	PhasePlan  = "plan"  // a pull request's plan: unreviewed code, plan credentials
	PhaseApply = "apply" // a deploy's plan, apply and outputs: merged code, apply credentials
)

// Root is what Terraform needs to know of a project beyond its folder.
type Root struct {
	// Project names the project: its own Terraform data directory, and <project>.backend.hcl.
	Project          string
	Workspace        string   // "" or "default": Terraform's default workspace
	VarFiles         []string // -var-file, relative to the folder
	BackendConfig    []string // -backend-config: files relative to the folder, or key=value
	TerraformVersion string   // the exact version the project needs; "" for the runner's default
}

// PlanRequest asks for a saved plan of one project folder.
type PlanRequest struct {
	Env      string
	Root     Root
	Dir      string // absolute path of the environment's Terraform root
	WorkTree string // the run's directory (checkout and saved plans): all Terraform may write
	Phase    string // PhasePlan or PhaseApply
	PlanFile string
	Vars     map[string]string
	Environ  map[string]string // Terraform's per-phase environment (credentials, region, passed variables)
	Log      io.Writer
	// PlanJSON, when set, is where the plan's JSON form (terraform show -json) is written, for policy steps.
	PlanJSON string
	// AfterInit, when set, runs after init and before plan (the workflow's steps between them); its error
	// stops the plan.
	AfterInit func(ctx context.Context) error
	// Attempt is the stage attempt the plan belongs to (see attempt.go).
	Attempt tf.Attempt
}

// PlanResult is a saved plan and what it would do.
type PlanResult struct {
	Summary tf.Summary
	Text    string // the plan as Terraform prints it, without colour
	// Fingerprint is each resource change reduced to what review compares (applied == reviewed).
	Fingerprint []tf.ResourceFingerprint
	// Projects are the parts of an environment of several projects, in its order (nil for one).
	Projects []ProjectResult
	// Steps is what the workflow's own steps (run, tflint, policy) found, as Markdown for the comment.
	Steps string
	// PolicyFailures are the policy checks that failed ("package.rule: message"; prefixed with the
	// project for an environment of several): they block a deploy unless a person overrides them.
	PolicyFailures []string
}

// ApplyRequest applies a saved plan (or, for Outputs, reads the current outputs).
type ApplyRequest struct {
	Env      string
	Root     Root
	Dir      string
	WorkTree string
	Phase    string
	PlanFile string
	Environ  map[string]string
	Log      io.Writer
	// Init initialises the environment first: the saved plan was made in an earlier execution of the run
	// (before it waited for approval), whose Terraform data directory is gone with the old checkout.
	Init bool
	// Attempt is the stage attempt the command belongs to (see attempt.go).
	Attempt tf.Attempt
}

// Deps are the pipeline's collaborators. Only Store, Git and WorkDir are required;
// a missing collaborator makes the stages that need it fail with a clear reason
// (never succeed silently).
type Deps struct {
	Store     Store
	Git       *gitrepo.Mirrors
	Terraform Terraform
	Steps     Steps          // a workflow's run, tflint and policy steps; nil: workflows with such steps fail
	PRs       PRReporter     // GitHub comments and statuses; nil: none posted
	Deploys   DeployReporter // GitHub deployments; nil: none posted
	Slack     SlackFactory   // nil: no Slack story
	Images    ImageBuilder   // nil: image apps cannot deploy
	Bundles   BundleBuilder  // nil: bundle apps cannot deploy
	Rollouts  Rollouts       // nil: no instance refresh / ECS wait
	// Migrations runs image apps' database migrations (apps with migrate in .runner.yaml); nil: such
	// deploys fail at their migrate stage.
	Migrations Migrations
	// Policy is the server-side policy; nil: the built-in default, and every pull request is planned.
	Policy Policy
	// Credentials give Terraform its per-phase environment; nil: only what the Terraform runner adds.
	Credentials Credentials
	// Actions carries out comment commands and check run buttons; nil: they are answered that this
	// runner takes none.
	Actions Actions
	Replies Replies   // reactions and replies to comment commands; nil: none
	Waker   Waker     // wakes runs whose approval a newer deploy superseded; nil: they notice on their own
	Merged  MergedPRs // finds merged pull requests on GitHub when no merged delivery recorded one; nil: store only
	Checks  Checks    // check runs instead of commit statuses (GitHub App); nil: commit statuses
	// Plans keeps the saved plans of deploys that wait for approval where other replicas find them; nil: they
	// stay on this replica's disk (one process), and a run resumed elsewhere plans again.
	Plans  PlanKeeper
	Logger *slog.Logger
	// Observer learns how stages, runs and environment locks went (metrics); nil: nobody.
	Observer Observer
	// Tracer makes a span per run execution, per stage and (through ctx) the spans of Terraform and outbound
	// calls under them; nil: no spans.
	Tracer trace.Tracer
}

// Observer learns what the engine did, e.g. to count it. Its values are bounded: kind is the run's
// kind, stage a stage name, env an environment of the repository, outcome a final status.
type Observer interface {
	StageFinished(kind, stage, env, outcome string, d time.Duration)
	RunFinished(kind, outcome string, d time.Duration)
	// LockReleased: how long the run waited for env's lock until it had it, and how long it held it.
	LockReleased(env string, waited, held time.Duration)
	// Drift: the outcome of a drift check of repo's env.
	Drift(repo, env string, drifted bool)
}

// noObserver is the Observer of an engine given none.
type noObserver struct{}

func (noObserver) StageFinished(string, string, string, string, time.Duration) {}
func (noObserver) RunFinished(string, string, time.Duration)                   {}
func (noObserver) LockReleased(string, time.Duration, time.Duration)           {}
func (noObserver) Drift(string, string, bool)                                  {}

// Options tune the engine.
type Options struct {
	WorkDir string // where run work trees go
	// FullWorkTrees checks out every file for pull-request plans too, instead of the sparse work tree
	// (see widen).
	FullWorkTrees   bool
	StageTimeout    time.Duration // per stage; default 45m
	LockLease       time.Duration // default 2m
	LockPoll        time.Duration // how often a waiting run retries the lock; default 1s
	PlanParallelism int           // environments planned at once on a PR; default 3
	PublicURL       string        // runner base URL for links
	Holder          string        // identifies this process in lock holders
	LogTailLines    int           // lines of a failing stage shown in notifications; default 20
	Secrets         []string      // redacted out of every log line and post
	Isolation       Isolation     // how pull requests' Terraform runs
	// TerraformVersion is the version of the runner's Terraform, checked against each repository's
	// allowed versions ("" skips the check).
	TerraformVersion string
	CommandPrefix    string        // comment commands start with it; default "/runner"
	ApprovalTimeout  time.Duration // how long a deploy waits for approval where the policy does not say; default 24h
	ApprovalPoll     time.Duration // how often a waiting deploy looks at its approval besides being woken; default 1m
}

// Isolation says how Terraform on unreviewed code runs, and whether it may run unisolated.
type Isolation struct {
	Isolated        bool   // Terraform runs in the sandbox
	Describe        string // in words, for comments and logs
	Mode            string // the sandbox mode: namespaces, user or none (see attempt.go)
	AllowUnisolated bool   // RUNNER_UNSAFE_UNISOLATED_PLANS: plan pull requests even without isolation
}

// Engine executes runs. It is safe for concurrent use by several workers.
type Engine struct {
	deps Deps
	opts Options
	log  *slog.Logger
	// redactor redacts the configured secrets and credential shapes; each run derives its own.
	redactor *redact.Redactor
	host     pgroup.Host // this host and boot, for the processes of stage attempts
	// detected keeps what change detection parsed, for the next runs (see changes.Cache).
	detected *changes.Cache
}

// New returns an engine.
func New(deps Deps, opts Options) (*Engine, error) {
	if deps.Store == nil || deps.Git == nil {
		return nil, errors.New("pipeline needs a store and a git mirror set")
	}
	if opts.WorkDir == "" {
		return nil, errors.New("pipeline needs a work directory")
	}
	if opts.StageTimeout <= 0 {
		opts.StageTimeout = 45 * time.Minute
	}
	if opts.LockLease <= 0 {
		opts.LockLease = 2 * time.Minute
	}
	if opts.LockPoll <= 0 {
		opts.LockPoll = time.Second
	}
	if opts.PlanParallelism <= 0 {
		opts.PlanParallelism = 3
	}
	if opts.LogTailLines <= 0 {
		opts.LogTailLines = 20
	}
	if opts.CommandPrefix == "" {
		opts.CommandPrefix = "/runner"
	}
	if opts.ApprovalTimeout <= 0 {
		opts.ApprovalTimeout = 24 * time.Hour
	}
	if opts.ApprovalPoll <= 0 {
		opts.ApprovalPoll = time.Minute
	}
	if opts.Holder == "" {
		host, _ := os.Hostname()
		opts.Holder = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Observer == nil {
		deps.Observer = noObserver{}
	}
	if deps.Tracer == nil {
		deps.Tracer = noop.NewTracerProvider().Tracer("")
	}
	red := redact.New(redact.Secrets("secret", opts.Secrets...)...)
	host, err := pgroup.ThisHost()
	if err != nil {
		// Dead attempts' processes are then never killed from here, and weak lock checks never match.
		deps.Logger.Warn("this host's identity is unknown", "err", err)
	}
	return &Engine{deps: deps, opts: opts, log: deps.Logger, redactor: red, host: host, detected: changes.NewCache()}, nil
}

// ErrAbandoned is returned when the process stops while a run is in flight: the
// run is left to be resumed (its unfinished stages re-run) when the job comes back.
var ErrAbandoned = errors.New("run abandoned by a stopping runner; it resumes on restart")

// Execute carries a run to a final status. It is safe to call again for the same
// run after a crash: finished runs are left alone and succeeded stages are kept.
func (e *Engine) Execute(ctx context.Context, runID int64) error {
	run, err := e.deps.Store.StartRun(ctx, runID)
	if err != nil {
		return err
	}
	if store.Finished(run.Status) {
		return nil
	}
	log := e.log.With("run", run.ID, "repo", run.Event.Repo, "sha", short(run.Event.SHA), "kind", run.Event.Kind)
	log.Info("run started", "attempt", run.Attempts)
	ctx, span := e.startRunSpan(ctx, run)
	status, errText, w := e.execute(ctx, run, log)
	defer func() {
		red := e.redactor
		if w != nil && w.redactor != nil {
			red = w.redactor
		}
		endRunSpan(span, status, red.String(errText))
	}()
	if w != nil {
		// Credentials in output are worth knowing about: on a pull request, hostile code may have printed them.
		if err := e.deps.Store.AddRedactions(context.WithoutCancel(ctx), run.ID, w.redactions()); err != nil {
			log.Warn("count the run's redactions", "err", err)
		}
	}
	if status == statusWaiting && ctx.Err() == nil {
		log.Debug("run waits; its worker is free meanwhile", "reason", w.waiting.Reason, "retry_in", w.waiting.After)
		return w.waiting
	}
	if ctx.Err() != nil && status != store.StatusSucceeded {
		// Shutdown (or job timeout): leave the run for the next attempt.
		log.Warn("run interrupted; it will resume", "err", ctx.Err())
		return ErrAbandoned
	}
	red := e.redactor
	if w != nil {
		red = w.redactor
	}
	// The work tree and saved plans served this run only; its logs and outcome are in the store. They go
	// before the run is recorded finished, so that a finished run has none left on disk.
	if err := os.RemoveAll(e.runDir(run.ID)); err != nil {
		log.Warn("remove the run's work tree", "err", err)
	}
	// The outcome is recorded even if ctx is done.
	errText = red.String(errText)
	if err := e.deps.Store.FinishRun(context.WithoutCancel(ctx), run.ID, status, errText); err != nil {
		return err
	}
	args := []any{"status", status, "error", errText}
	if w != nil {
		args = append(args, "redactions", w.redactions())
	}
	log.Info("run finished", args...)
	if !run.Started.IsZero() {
		// From the run's first start: a run that waited for an approval or resumed after a restart counts whole.
		e.deps.Observer.RunFinished(run.Event.Kind, status, time.Since(run.Started))
	}
	return nil
}

// runDir is where a run's work tree and saved plans live while it runs.
func (e *Engine) runDir(id int64) string {
	return filepath.Join(e.opts.WorkDir, fmt.Sprintf("run-%d", id))
}

// statusWaiting is not stored: the run stays running and comes back later.
const statusWaiting = "waiting"

// execute does the run's work; w is nil when there was no work to set up.
func (e *Engine) execute(ctx context.Context, run store.Run, log *slog.Logger) (status, errText string, w *work) {
	ev := run.Event
	switch ev.Kind {
	case event.KindMerged:
		return store.StatusNothing, "merged pull request recorded; the push to the base branch deploys", w
	case event.KindComment, event.KindAction:
		w = &work{e: e, run: run, log: log, dir: e.runDir(run.ID), redactor: e.redactor.With()}
		w.recoverDead(ctx)
		status, errText = w.command(ctx)
		return status, errText, w
	case event.KindRollback, event.KindFix:
		if len(ev.Envs) != 1 || ev.SHA == "" {
			return store.StatusFailed, "a " + ev.Kind + " names one environment and one commit", w
		}
		if wait := e.awaiting(ctx, run); wait != nil {
			return statusWaiting, wait.Error(), &work{waiting: wait, redactor: e.redactor.With()}
		}
	case event.KindDeploy:
		if ev.SHA == "" || ev.SHA == event.ZeroSHA {
			return store.StatusNothing, "branch deleted: nothing to deploy", w
		}
		if event.Branch(ev.Ref) == "" {
			return store.StatusNothing, "push of " + ev.Ref + " is not a branch: nothing to deploy", w
		}
		if wait := e.awaiting(ctx, run); wait != nil {
			// Nothing to do until someone decides (or the wait expires): no checkout, no worker held.
			return statusWaiting, wait.Error(), &work{waiting: wait, redactor: e.redactor.With()}
		}
	case event.KindDrift:
		if len(ev.Envs) != 1 || ev.SHA == "" {
			return store.StatusFailed, "a drift check names one environment and its deployed commit", w
		}
	case event.KindPlan:
	default:
		return store.StatusFailed, "unknown run kind " + ev.Kind, w
	}
	w = &work{e: e, run: run, log: log, dir: e.runDir(run.ID), redactor: e.redactor.With()}
	w.recoverDead(ctx)
	stages, err := e.deps.Store.EnsureStages(ctx, run.ID, []store.StageKey{{Name: StageCheckout}})
	if err != nil {
		return store.StatusFailed, err.Error(), w
	}
	w.stages = stages
	if ev.Kind == event.KindPlan {
		// Who may have a pull request planned is decided before any of its code is read.
		if ok, status, why := w.mayPlan(ctx); !ok {
			return status, why, w
		}
	}
	if err := w.checkout(ctx); err != nil {
		if ev.Kind == event.KindPlan && ctx.Err() == nil {
			// Say on the pull request why nothing was planned (e.g. a broken .runner.yaml, or one
			// that asks for what the server policy refuses).
			w.setStatus(ctx, "runner/config", "failure", "not planned: "+firstLine(w.redactor.String(err.Error())))
			w.planComment(ctx, configKey, "### Not planned: `.runner.yaml`\n\n```\n"+fence(w.redactor.String(err.Error()))+"\n```\n", "")
		}
		return store.StatusFailed, err.Error(), w
	}
	switch ev.Kind {
	case event.KindPlan:
		status, errText = w.planPR(ctx)
		return status, errText, w
	case event.KindRollback, event.KindFix:
		status, errText = w.rollback(ctx)
		return status, errText, w
	case event.KindDrift:
		status, errText = w.driftCheck(ctx)
		return status, errText, w
	default:
		status, errText = w.deploy(ctx)
		return status, errText, w
	}
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// fence keeps text inside a code fence: a line of backticks in it would close the fence early.
func fence(s string) string { return strings.ReplaceAll(s, "```", "`\u200b``") }
