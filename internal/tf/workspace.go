package tf

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	"go.opentelemetry.io/otel/trace"

	"github.com/gitops-runner/runner/internal/sandbox"
)

// Defaults for the zero values of Options.
const (
	DefaultCommandTimeout = 30 * time.Minute
	DefaultGracePeriod    = 60 * time.Second
	DefaultLockTimeout    = 2 * time.Minute
)

// ErrTimeout marks a command stopped because Options.CommandTimeout elapsed (as opposed to the caller
// cancelling its context).
var ErrTimeout = errors.New("terraform command timed out")

// Options configure one Workspace.
type Options struct {
	// Bin is the terraform (or tofu) executable, e.g. from FindBinary.
	Bin string
	// Dir is the environment's root module; commands run with it as their working directory, so
	// relative plan file paths are relative to it.
	Dir string
	// Environment names the environment in errors and selects <Environment>.backend.hcl. Defaults to
	// the base name of Dir.
	Environment string
	// PluginCacheDir is the provider cache shared by all workspaces (TF_PLUGIN_CACHE_DIR). It is
	// created if missing, and inits that share it are serialised (see cachelock.go). Empty disables
	// the cache.
	PluginCacheDir string
	// Env is added to the command environment, over the inherited allow-list (see commandEnv).
	// Variables terraform-exec manages itself (TF_LOG*, TF_INPUT, TF_IN_AUTOMATION, TF_VAR_*,
	// TF_CLI_ARGS*, TF_WORKSPACE, ...) are rejected: pass variables to Plan instead.
	Env map[string]string
	// Log receives Terraform's output line by line while a command runs (the stage log); nil discards.
	Log io.Writer
	// CommandTimeout bounds each command; 0 means DefaultCommandTimeout.
	CommandTimeout time.Duration
	// GracePeriod is how long Terraform gets to exit after the interrupt (SIGINT) sent on cancellation
	// or timeout before it is killed; 0 means DefaultGracePeriod.
	GracePeriod time.Duration
	// LockTimeout is how long plan and apply wait for the state lock; 0 means DefaultLockTimeout.
	LockTimeout time.Duration
	// BaseEnv, when not nil, is the whole environment Terraform starts from, instead of the
	// allow-list inherited from the runner's own environment (see commandEnv). The server passes an
	// explicit one: Terraform on a repository's code gets nothing of the runner's that was not named.
	BaseEnv map[string]string
	// Sandbox, when set, runs every command isolated: its launcher is started in place of Bin and
	// Terraform may write only WorkTree.
	Sandbox Sandbox
	// WorkTree is the directory tree sandboxed commands may write (the run's directory, holding the
	// checkout and the saved plans). Required with Sandbox.
	WorkTree string
	// Workspace is the Terraform workspace Init selects, creating it when missing; "" and "default"
	// keep Terraform's default.
	Workspace string
	// BackendConfig are extra -backend-config values for Init (after the backend.hcl files): files
	// relative to Dir, or key=value pairs.
	BackendConfig []string
	// VarFiles are passed to Plan as -var-file, relative to Dir, before the -var inputs.
	VarFiles []string
	// Attempt names the stage attempt the commands belong to (see Attempt); zero: none.
	Attempt Attempt
	// Observe learns each command's verb (its first word: init, plan, apply, show, output, workspace),
	// result (ok or error) and duration, e.g. for metrics; nil: nobody.
	Observe func(verb, result string, d time.Duration)
	// Tracer makes a span per command ("terraform plan"), a child of the span in the command's context;
	// nil: none.
	Tracer trace.Tracer
	// Versions, shared by the workspaces of a process, knows Bin's version: terraform-exec's version
	// checks are answered from it instead of by a `terraform version` per Workspace (see Versions).
	// nil: terraform-exec asks Bin once per Workspace.
	Versions *Versions
}

// Attempt is what a Workspace is told of the stage attempt its commands belong to.
//
// Terraform names the holder of a state lock "<user>@<host name>" (statemgr.NewLockInfo) and prints the
// ID of the lock it takes nowhere. In namespaces mode every command of an attempt runs under the
// attempt's own Hostname, so a lock's holder tells which attempt took it; in the other modes the holder
// is the real host, and only the lock's creation time tells attempts apart (the caller's StaleLocks
// decides). When a command fails on a held lock and StaleLocks says a dead attempt of the caller's took
// it, the command releases it (`terraform force-unlock -force ID`) and runs once more; any other lock
// is never released, and the error names its holder.
type Attempt struct {
	// Hostname is the sandbox's host name for the attempt's commands (a valid host name; namespaces mode).
	Hostname string
	// Records is where each command's launcher records its process group (see internal/pgroup).
	Records string
	// Marker starts the value of every command's RUNNER_TF_COMMAND_ID, so that what an attempt's commands
	// started can be found by it even outside their process groups.
	Marker string
	// Stale, when set, recognises locks left by dead attempts: the attempt resumes after one. The first try
	// of each command then waits at most ResumeLockTimeout for the lock.
	Stale StaleLocks
}

// StaleLocks recognises state locks left behind by dead attempts of the caller's (implemented by the
// pipeline, which knows its attempts).
type StaleLocks interface {
	// LeftBy describes the dead attempt that took lock ("attempt 1 of stage dev/apply (replica h/12 died)"),
	// or returns "" when no dead attempt of the caller's took it.
	LeftBy(lock LockInfo) string
	// Released records that lock, left by a dead attempt, was released.
	Released(ctx context.Context, lock LockInfo)
}

// ResumeLockTimeout is how long a command of an attempt resuming after a dead one first waits for the
// state lock: a lock the dead attempt left is never released by waiting.
const ResumeLockTimeout = 5 * time.Second

// Sandbox isolates each Terraform command (implemented by internal/sandbox).
type Sandbox interface {
	// Launcher is the executable started in place of the real program.
	Launcher() string
	// Enter returns the variables that make the launcher run cmd isolated, and a release to call
	// when the command has ended.
	Enter(ctx context.Context, cmd sandbox.Command) (env map[string]string, release func(), err error)
}

// Workspace runs Terraform commands for one environment of one run. It owns a tfexec.Terraform, whose
// Set* methods mutate it, so a Workspace must not be shared between runs; its methods hold a mutex
// so that accidental concurrent calls run one after another instead of racing.
type Workspace struct {
	opts Options
	name string

	mu       sync.Mutex
	lockWait time.Duration     // -lock-timeout of the command being run (under mu)
	env      map[string]string // see commandEnv; run adds the command marker
	exe      string            // what terraform-exec starts: Bin, or the sandbox's launcher
	tf       *tfexec.Terraform // made by the first command (see terraform)
	fronted  bool              // tf starts exe through Options.Versions' front
	log      *stageLog
	stdout   *lineWriter
	stderr   *lineWriter
}

// New validates opts and prepares a Workspace; it starts no process.
func New(opts Options) (*Workspace, error) {
	if opts.Bin == "" {
		return nil, fmt.Errorf("terraform workspace: %w: Options.Bin is empty", ErrNoBinary)
	}
	if opts.Dir == "" {
		return nil, errors.New("terraform workspace: Options.Dir is empty")
	}
	if fi, err := os.Stat(opts.Dir); err != nil {
		return nil, fmt.Errorf("terraform workspace: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("terraform workspace: %s is not a directory", opts.Dir)
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = DefaultCommandTimeout
	}
	if opts.GracePeriod <= 0 {
		opts.GracePeriod = DefaultGracePeriod
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	name := opts.Environment
	if name == "" {
		name = filepath.Base(filepath.Clean(opts.Dir))
	}
	if p := tfexec.ProhibitedEnv(opts.Env); len(p) > 0 {
		sort.Strings(p)
		return nil, fmt.Errorf("terraform workspace %s: environment variables managed by terraform-exec cannot be set: %s",
			name, strings.Join(p, ", "))
	}
	if opts.PluginCacheDir != "" {
		abs, err := filepath.Abs(opts.PluginCacheDir)
		if err != nil {
			return nil, fmt.Errorf("terraform workspace %s: plugin cache: %w", name, err)
		}
		opts.PluginCacheDir = abs
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("terraform workspace %s: create plugin cache: %w", name, err)
		}
	}

	exe := opts.Bin
	if opts.Sandbox != nil {
		if !filepath.IsAbs(opts.WorkTree) || !filepath.IsAbs(opts.Bin) {
			return nil, fmt.Errorf("terraform workspace %s: a sandboxed workspace needs absolute Bin and WorkTree", name)
		}
		exe = opts.Sandbox.Launcher()
	}
	env := commandEnv(opts, os.Environ())
	// Environments sharing one directory (told apart by <environment>.backend.hcl) each need their own
	// data directory: in a shared .terraform the second init finds the first one's backend and fails,
	// and inits running at once overwrite each other's. One named after its directory keeps .terraform.
	if _, set := env["TF_DATA_DIR"]; !set {
		if name != filepath.Base(filepath.Clean(opts.Dir)) {
			// Projects sharing a folder (workspaces) have different names: each gets its own.
			env["TF_DATA_DIR"] = filepath.Join(".terraform", "env-"+dataDirName(name))
		}
	}
	if opts.Workspace != "" && !validWorkspace(opts.Workspace) {
		return nil, fmt.Errorf("terraform workspace %s: workspace name %q is not valid", name, opts.Workspace)
	}
	log := &stageLog{w: opts.Log}
	return &Workspace{
		opts:   opts,
		name:   name,
		env:    env,
		exe:    exe,
		log:    log,
		stdout: newLineWriter(log),
		stderr: newLineWriter(log),
	}, nil
}

// inheritedEnv and inheritedPrefixes are what Terraform gets from the runner's own environment.
// Everything else (GitHub and Slack tokens, database URLs ...) stays out of reach of the
// configuration under review, whose external data sources and provisioners can read their
// environment. TF_INPUT=0 cannot be passed (terraform-exec forbids it); it passes -input=false to
// every command that can prompt (init, plan, apply) instead, and sets TF_IN_AUTOMATION=1 itself.
var (
	inheritedEnv = []string{
		"PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "TZ", "LANG",
		"SSL_CERT_FILE", "SSL_CERT_DIR",
		"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
		"TF_CLI_CONFIG_FILE", "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE",
		// Private module sources over git+ssh authenticate through the agent or a configured command.
		"SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "GIT_SSH",
	}
	// TF_VAR_ values are not inherited: terraform-exec refuses them in the environment it is given
	// (InheritedVars turns them into -var inputs for the CLI).
	inheritedPrefixes = []string{"LC_", "AWS_", "TF_TOKEN_"}
)

// varPrefix marks Terraform input variables in an environment.
const varPrefix = "TF_VAR_"

// InheritedVars returns the TF_VAR_<name> values of environ by name, for callers that pass them as
// -var inputs (terraform-exec does not let them through the environment).
func InheritedVars(environ []string) map[string]string {
	vars := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, varPrefix) && len(k) > len(varPrefix) {
			vars[k[len(varPrefix):]] = v
		}
	}
	return vars
}

func commandEnv(opts Options, environ []string) map[string]string {
	env := map[string]string{}
	if opts.BaseEnv != nil {
		environ = nil
		for k, v := range opts.BaseEnv {
			env[k] = v
		}
	}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		keep := false
		for _, name := range inheritedEnv {
			keep = keep || k == name
		}
		for _, p := range inheritedPrefixes {
			keep = keep || strings.HasPrefix(k, p)
		}
		if keep {
			env[k] = v
		}
	}
	env["CHECKPOINT_DISABLE"] = "1" // no update checks from automation
	for k, v := range opts.Env {
		env[k] = v
	}
	if opts.PluginCacheDir != "" {
		env["TF_PLUGIN_CACHE_DIR"] = opts.PluginCacheDir
	}
	return env
}

// run runs one Terraform command under the per-command timeout, streaming its output to the stage
// log (stdout only when logStdout: machine-readable output such as show -json stays out of the log).
// A command of an attempt that resumes after a dead one may release a lock that attempt left and run
// again (see Attempt).
func (w *Workspace) run(ctx context.Context, verb string, logStdout bool, fn func(context.Context, *tfexec.Terraform) error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.opts.Observe == nil {
		return w.runLocked(ctx, verb, logStdout, fn)
	}
	start := time.Now()
	err := w.runLocked(ctx, verb, logStdout, fn)
	result := "ok"
	if err != nil {
		result = "error"
	}
	v, _, _ := strings.Cut(verb, " ")
	w.opts.Observe(v, result, time.Since(start))
	return err
}

func (w *Workspace) runLocked(ctx context.Context, verb string, logStdout bool, fn func(context.Context, *tfexec.Terraform) error) error {
	w.lockWait = w.opts.LockTimeout
	stale := w.opts.Attempt.Stale
	if stale == nil {
		return w.once(ctx, verb, logStdout, fn)
	}
	w.lockWait = min(ResumeLockTimeout, w.opts.LockTimeout)
	err := w.once(ctx, verb, logStdout, fn)
	le, ok := lockErrorOf(err)
	if !ok {
		return err
	}
	w.lockWait = w.opts.LockTimeout
	holder, released, rerr := w.releaseStale(ctx, le, stale)
	if rerr != nil {
		return fmt.Errorf("%s %s: %w (terraform: %w)", verb, w.name, rerr, err)
	}
	if !released && w.opts.LockTimeout > ResumeLockTimeout {
		// Someone else's lock: wait for it as any command would.
		w.log.writeLine(fmt.Appendf(nil, "waiting up to %s for the state lock held by %s\n", w.opts.LockTimeout, describeHolder(holder)))
	} else if !released {
		return lockHeldError(verb, w.name, holder, err)
	}
	err = w.once(ctx, verb, logStdout, fn)
	if le, ok := lockErrorOf(err); ok && !released {
		if h, known := holderOf(le); known || h.ID != "" {
			holder = h
		}
		return lockHeldError(verb, w.name, holder, err)
	}
	return err
}

// lockErrorOf finds Terraform's lock diagnostic in a command's error.
func lockErrorOf(err error) (LockError, bool) {
	if err == nil {
		return LockError{}, false
	}
	return ParseLockError(err.Error())
}

// holderOf is the held lock as far as the diagnostic tells it: all of it, or (known false) only its ID.
func holderOf(le LockError) (LockInfo, bool) {
	if le.HolderKnown() {
		return le.Info, true
	}
	return LockInfo{ID: le.HeldID}, false
}

// releaseStale releases the lock of le when a dead attempt of the caller's took it. It returns the
// holder as far as it is known, and whether the command may run again (the lock was released, or was
// found free).
func (w *Workspace) releaseStale(ctx context.Context, le LockError, stale StaleLocks) (LockInfo, bool, error) {
	holder, known := holderOf(le)
	if !known {
		h, err := w.httpLockHolder(ctx)
		switch {
		case err != nil:
			w.log.writeLine(fmt.Appendf(nil, "state lock %s: %v\n", holder.ID, err))
			return holder, false, nil
		case h == nil:
			w.log.writeLine([]byte("the state lock was free again: running the command once more\n"))
			return holder, true, nil
		}
		holder = *h
	}
	by := stale.LeftBy(holder)
	if by == "" {
		return holder, false, nil
	}
	if !validLockID(holder.ID) {
		return holder, false, fmt.Errorf("state lock left by %s: its ID %q cannot be passed to force-unlock", by, holder.ID)
	}
	err := w.once(ctx, "force-unlock -force "+holder.ID, true, func(ctx context.Context, tf *tfexec.Terraform) error {
		return tf.ForceUnlock(ctx, holder.ID)
	})
	if err != nil {
		return holder, false, fmt.Errorf("release state lock %s left by %s: %w", holder.ID, by, err)
	}
	w.log.writeLine(fmt.Appendf(nil, "released state lock %s left by %s\n", holder.ID, by))
	stale.Released(ctx, holder)
	return holder, true, nil
}

// ErrLockHeld marks a command that failed on a state lock that is not the runner's to release.
var ErrLockHeld = errors.New("state lock held")

func describeHolder(l LockInfo) string {
	if l.Who == "" {
		return "an unknown holder (lock " + l.ID + ")"
	}
	s := l.Who + " (lock " + l.ID
	if l.Operation != "" {
		s += ", " + l.Operation
	}
	if !l.Created.IsZero() {
		s += ", created " + l.Created.UTC().Format(time.RFC3339)
	}
	return s + ")"
}

func lockHeldError(verb, name string, holder LockInfo, err error) error {
	return fmt.Errorf("%s %s: %w by %s: not released, no attempt of this run that died took it (terraform: %w)",
		verb, name, ErrLockHeld, describeHolder(holder), err)
}

// terraform returns the Workspace's tfexec.Terraform, made on the first command: with Options.Versions it
// starts exe through a front that answers terraform-exec's version checks (see Versions), which is
// written and checked once per process, so it needs the command's context.
func (w *Workspace) terraform(ctx context.Context) (*tfexec.Terraform, error) {
	if w.tf != nil {
		return w.tf, nil
	}
	exe := w.exe
	if w.opts.Versions != nil {
		if abs, err := absBinary(exe); err == nil {
			if f := w.opts.Versions.front(ctx, abs); f != "" {
				exe, w.fronted = f, true
			}
		}
	}
	tf, err := tfexec.NewTerraform(w.opts.Dir, exe)
	if err != nil {
		return nil, err
	}
	// terraform-exec cancels through exec.Cmd.Cancel (SIGINT to Terraform, which then releases the
	// state lock) and kills after exec.Cmd.WaitDelay, which SetWaitDelay sets.
	if err := tf.SetWaitDelay(w.opts.GracePeriod); err != nil {
		return nil, err
	}
	w.tf = tf
	return tf, nil
}

// once runs one Terraform command (see run).
func (w *Workspace) once(ctx context.Context, verb string, logStdout bool, fn func(context.Context, *tfexec.Terraform) error) (err error) {
	ctx, end := w.span(ctx, verb)
	defer func() { end(err) }()
	cctx, cancel := context.WithTimeout(ctx, w.opts.CommandTimeout)
	defer cancel()

	tf, err := w.terraform(ctx)
	if err != nil {
		return fmt.Errorf("%s %s: %w", verb, w.name, err)
	}
	if logStdout {
		tf.SetStdout(w.stdout)
	} else {
		tf.SetStdout(nil)
	}
	tf.SetStderr(w.stderr)
	marker := newCommandID()
	if w.opts.Attempt.Marker != "" {
		marker = w.opts.Attempt.Marker + "." + marker
	}
	env := maps.Clone(w.env)
	env[commandMarker] = marker
	if w.fronted {
		// Without it (the binary cannot tell its version), the front runs the binary for terraform-exec.
		if v, err := w.opts.Versions.Of(ctx, w.opts.Bin); err == nil {
			env[versionEnv] = v
		}
	}
	if w.opts.Sandbox != nil {
		add, release, err := w.opts.Sandbox.Enter(ctx, sandbox.Command{Program: w.opts.Bin, WorkTree: w.opts.WorkTree,
			Hostname: w.opts.Attempt.Hostname, Records: w.opts.Attempt.Records})
		if err != nil {
			return fmt.Errorf("%s %s: %w", verb, w.name, err)
		}
		defer release()
		maps.Copy(env, add)
	}
	if err := tf.SetEnv(env); err != nil {
		return fmt.Errorf("%s %s: %w", verb, w.name, err)
	}
	w.log.writeLine([]byte("$ " + filepath.Base(w.opts.Bin) + " " + verb + "\n"))

	err = fn(cctx, tf)
	if cctx.Err() != nil {
		if n := killLeftovers(commandMarker, marker); n > 0 {
			w.log.writeLine(fmt.Appendf(nil, "killed %d process(es) left behind by the stopped command\n", n))
		}
	}
	w.stdout.Flush()
	w.stderr.Flush()
	if err == nil {
		return nil
	}
	if ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: %w after %s (terraform: %w)", verb, w.name, ErrTimeout, w.opts.CommandTimeout, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: stopped: %w (terraform: %w)", verb, w.name, ctx.Err(), err)
	}
	return fmt.Errorf("%s %s: %w", verb, w.name, err)
}

// commandMarker is set to a fresh id in each command's environment (after Attempt.Marker and a dot), so
// that processes the command leaves behind can be found (see killLeftovers).
const commandMarker = CommandMarker

// CommandMarker is the variable marking the processes of Terraform commands.
const CommandMarker = "RUNNER_TF_COMMAND_ID"

func newCommandID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails on supported platforms
	return hex.EncodeToString(b)
}

// lockTimeout is the -lock-timeout of the command being run: call it inside run's fn.
func (w *Workspace) lockTimeout() *tfexec.LockTimeoutOption {
	return tfexec.LockTimeout(w.lockWait.String())
}

// dataDirName makes a project name (which may hold '/') one path element.
func dataDirName(name string) string { return strings.ReplaceAll(name, "/", "__") }

// validWorkspace is Terraform's rule for workspace names, kept strict: they reach a command line.
func validWorkspace(ws string) bool {
	if ws == "" || len(ws) > 90 || strings.HasPrefix(ws, "-") {
		return false
	}
	for _, r := range ws {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
