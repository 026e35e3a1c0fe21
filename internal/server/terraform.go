package server

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/pipeline"
	"github.com/gitops-runner/runner/internal/tf"
)

// terraformRunner plans and applies with a fresh tf.Workspace per call (a
// workspace is never shared between goroutines).
type terraformRunner struct {
	bin         string
	version     string            // bin's version, when known
	versions    map[string]string // other versions projects may pin -> binary
	pluginCache string
	env         map[string]string
	timeout     time.Duration
	// sandboxed: Terraform runs isolated with exactly baseEnv (plus each request's own); otherwise
	// it inherits the runner's allow-listed environment (tf.commandEnv).
	sandbox tf.Sandbox
	baseEnv map[string]string
	// launcher, without sandbox: the unisolated sandbox, whose launcher runs commands as they are but
	// records their process groups.
	launcher    tf.Sandbox
	lockTimeout time.Duration
	observe     func(verb, result string, d time.Duration)
	tracer      trace.Tracer // nil: no spans
	known       *tf.Versions // the binaries' versions, shared by every workspace
}

// TerraformOptions configure the runner's Terraform.
type TerraformOptions struct {
	Bin         string // explicit binary; default terraform, then tofu, on PATH
	PluginCache string
	Timeout     time.Duration
	// Sandbox, when set, isolates every command; BaseEnv is then the whole environment Terraform
	// gets besides the sandbox's own variables and each request's credentials.
	Sandbox tf.Sandbox
	BaseEnv map[string]string
	// Version is Bin's version ("" when unknown); Versions are other binaries by version, for projects
	// that pin terraform_version.
	Version  string
	Versions map[string]string
	// Launcher, without Sandbox, is the unisolated sandbox: commands go through its launcher only so that
	// their process groups are recorded.
	Launcher tf.Sandbox
	// LockTimeout is how long plan and apply wait for a state lock (tf.DefaultLockTimeout when 0).
	LockTimeout time.Duration
	// Observe learns each Terraform command's verb, result and duration (metrics); nil: nobody.
	Observe func(verb, result string, d time.Duration)
	// Tracer makes a span per Terraform command; nil: none.
	Tracer trace.Tracer
	// Known learns each binary's version once; terraform-exec's version checks are answered from it
	// (nil: a `terraform version` per plan and per apply).
	Known *tf.Versions
}

// NewTerraform finds the binary (explicit, else terraform, else tofu on PATH).
func NewTerraform(o TerraformOptions) (pipeline.Terraform, error) {
	bin, err := tf.FindBinary(o.Bin, execLookPath)
	if err != nil {
		return nil, err
	}
	return &terraformRunner{bin: bin, version: o.Version, versions: o.Versions, pluginCache: o.PluginCache, timeout: o.Timeout,
		sandbox: o.Sandbox, baseEnv: o.BaseEnv, launcher: o.Launcher, lockTimeout: o.LockTimeout, observe: o.Observe,
		tracer: o.Tracer, known: o.Known}, nil
}

// binFor is the binary of the Terraform version a project pins ("" for the default).
func (t *terraformRunner) binFor(project, want string) (string, error) {
	if want == "" || want == t.version {
		return t.bin, nil
	}
	if b, ok := t.versions[want]; ok {
		return b, nil
	}
	have := []string{}
	if t.version != "" {
		have = append(have, t.version)
	}
	for v := range t.versions {
		have = append(have, v)
	}
	sort.Strings(have)
	return "", fmt.Errorf("project %s needs Terraform %s; this runner has %s (an operator adds versions with RUNNER_TERRAFORM_BINS)",
		project, want, cmp.Or(strings.Join(have, ", "), "no other version"))
}

func (t *terraformRunner) workspace(env string, root pipeline.Root, dir, workTree string, environ map[string]string, log io.Writer, att tf.Attempt) (*tf.Workspace, error) {
	bin, err := t.binFor(cmp.Or(root.Project, env), root.TerraformVersion)
	if err != nil {
		return nil, err
	}
	opts := tf.Options{
		Bin: bin, Dir: dir, Environment: cmp.Or(root.Project, env), PluginCacheDir: t.pluginCache, Env: t.env,
		Log: log, CommandTimeout: t.timeout,
		Workspace: root.Workspace, VarFiles: root.VarFiles, BackendConfig: root.BackendConfig,
		LockTimeout: t.lockTimeout, Attempt: att, Observe: t.observe, Tracer: t.tracer, Versions: t.known,
	}

	if t.baseEnv != nil {
		// Terraform's whole environment: the runner's explicit base and the phase's own (credentials).
		opts.BaseEnv = maps.Clone(t.baseEnv)
		maps.Copy(opts.BaseEnv, environ)
		opts.PluginCacheDir = ""
	}
	if t.sandbox != nil {
		// The sandbox reads providers from the cache through the runner's CLI configuration; it
		// never writes the cache.
		opts.Sandbox, opts.WorkTree = t.sandbox, workTree
	} else if t.launcher != nil && att.Records != "" {
		abs, aerr := filepath.Abs(workTree)
		absBin, berr := filepath.Abs(bin)
		if aerr == nil && berr == nil {
			opts.Sandbox, opts.WorkTree, opts.Bin = t.launcher, abs, absBin
		}
	}
	return tf.New(opts)
}

func (t *terraformRunner) Plan(ctx context.Context, req pipeline.PlanRequest) (pipeline.PlanResult, error) {
	// The plan's own output is the human-readable plan for the PR comment: it is
	// captured while it streams to the stage log, so no extra `terraform show` runs.
	capture := &captureWriter{w: req.Log}
	planFile, err := absPlanFile(req.Env, req.PlanFile)
	if err != nil {
		return pipeline.PlanResult{}, err
	}
	ws, err := t.workspace(req.Env, req.Root, req.Dir, req.WorkTree, req.Environ, capture, req.Attempt)
	if err != nil {
		return pipeline.PlanResult{}, err
	}
	if err := ws.Init(ctx); err != nil {
		return pipeline.PlanResult{}, err
	}
	t.promote(ws, req.Phase, req.Log)
	if req.AfterInit != nil {
		if err := req.AfterInit(ctx); err != nil {
			return pipeline.PlanResult{}, err
		}
	}
	capture.start()
	_, err = ws.Plan(ctx, planFile, req.Vars)
	text := capture.stop()
	if err != nil {
		return pipeline.PlanResult{}, err
	}
	p, err := ws.Show(ctx, planFile)
	if err != nil {
		return pipeline.PlanResult{}, err
	}
	if req.PlanJSON != "" {
		// Policy steps read the plan as terraform show -json gives it.
		b, err := json.Marshal(p)
		if err != nil {
			return pipeline.PlanResult{}, fmt.Errorf("plan JSON of %s: %w", req.Env, err)
		}
		if err := os.WriteFile(req.PlanJSON, b, 0o640); err != nil {
			return pipeline.PlanResult{}, fmt.Errorf("plan JSON of %s: %w", req.Env, err)
		}
	}
	sum := tf.Summarize(req.Env, p)
	fmt.Fprint(req.Log, sum.Text())
	return pipeline.PlanResult{Summary: sum, Text: text, Fingerprint: tf.Fingerprint(p)}, nil
}

// captureWriter passes everything to w and keeps a copy while capturing.
type captureWriter struct {
	w   io.Writer
	mu  sync.Mutex
	on  bool
	buf strings.Builder
}

func (c *captureWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.on {
		c.buf.Write(p)
	}
	c.mu.Unlock()
	return c.w.Write(p)
}

func (c *captureWriter) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = true
	c.buf.Reset()
}

// stop ends the capture and returns the text without the "$ terraform plan" line.
func (c *captureWriter) stop() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	text := c.buf.String()
	if strings.HasPrefix(text, "$ ") {
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			text = text[i+1:]
		}
	}
	return strings.TrimSpace(text) + "\n"
}

// absPlanFile resolves a plan file named relative to the runner's working directory (a relative
// RUNNER_DATA_DIR): Terraform runs in the environment's directory and would read the path from there.
func absPlanFile(env, planFile string) (string, error) {
	abs, err := filepath.Abs(planFile)
	if err != nil {
		return "", fmt.Errorf("saved plan for %s: %w", env, err)
	}
	return abs, nil
}

func (t *terraformRunner) Apply(ctx context.Context, req pipeline.ApplyRequest) (map[string]string, error) {
	planFile, err := absPlanFile(req.Env, req.PlanFile)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(planFile); err != nil {
		return nil, fmt.Errorf("saved plan for %s: %w", req.Env, err)
	}
	ws, err := t.workspace(req.Env, req.Root, req.Dir, req.WorkTree, req.Environ, req.Log, req.Attempt)
	if err != nil {
		return nil, err
	}
	if req.Init {
		// The saved plan was made before the run waited (for approval): its checkout, and Terraform's data
		// directory with it, were made again since.
		if err := ws.Init(ctx); err != nil {
			return nil, err
		}
	}
	// The saved plan's size turns apply's progress into "apply: 12/40 resources"; without it (show
	// failed) the log still counts resources done.
	var progress []tf.ApplyOption
	if p, err := ws.Show(ctx, planFile); err == nil {
		progress = append(progress, tf.Planned(tf.Summarize(req.Env, p).Changes()))
	}
	fmt.Fprintf(req.Log, "$ terraform apply %s\n", req.PlanFile)
	if err := ws.Apply(ctx, planFile, progress...); err != nil {
		return nil, err
	}
	return ws.Outputs(ctx)
}

// Outputs initialises the environment and reads its current outputs (no plan, no apply).
func (t *terraformRunner) Outputs(ctx context.Context, req pipeline.ApplyRequest) (map[string]string, error) {
	ws, err := t.workspace(req.Env, req.Root, req.Dir, req.WorkTree, req.Environ, req.Log, req.Attempt)
	if err != nil {
		return nil, err
	}
	if err := ws.Init(ctx); err != nil {
		return nil, err
	}
	t.promote(ws, req.Phase, req.Log)
	return ws.Outputs(ctx)
}

// promote adds what a deploy's init downloaded to the shared provider cache, which sandboxed
// Terraform only reads: pull requests then install providers from it instead of downloading them.
// Only reviewed code's inits promote (see tf.PromoteProviders), before any of its providers runs.
func (t *terraformRunner) promote(ws *tf.Workspace, phase string, log io.Writer) {
	if t.baseEnv == nil || t.pluginCache == "" || phase != pipeline.PhaseApply {
		return
	}
	added, err := tf.PromoteProviders(ws.DataDir(), t.pluginCache)
	for _, p := range added {
		fmt.Fprintf(log, "provider %s added to the shared cache\n", p)
	}
	if err != nil {
		fmt.Fprintf(log, "warning: %v\n", err)
	}
}

// terraformVersion is the runner's Terraform version, for the policy's allowed versions ("" when it
// cannot be told: the check is then skipped, and plans fail on the missing binary anyway).
func terraformVersion(ctx context.Context, cfg config.Server, log *slog.Logger, known *tf.Versions) string {
	bin, err := tf.FindBinary(cfg.TerraformBin, execLookPath)
	if err != nil {
		return ""
	}
	v, err := known.Of(ctx, bin)
	if err != nil {
		log.Warn("terraform version unknown: the policy's terraform_versions are not checked", "err", err)
		return ""
	}
	return v
}
