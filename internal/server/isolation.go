package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/pipeline"
	"github.com/gitops-runner/runner/internal/sandbox"
	"github.com/gitops-runner/runner/internal/steps"
	"github.com/gitops-runner/runner/internal/tf"
)

// isolation is how the runner's Terraform runs: the sandbox, the runner's own CLI configuration and
// the explicit environment Terraform starts from.
type isolation struct {
	sandbox *sandbox.Sandbox
	baseEnv map[string]string
	allow   bool // RUNNER_UNSAFE_UNISOLATED_PLANS
}

// setupIsolation closes the data directory to other users, writes the runner's Terraform CLI
// configuration and probes the sandbox.
func setupIsolation(ctx context.Context, cfg config.Server, log *slog.Logger) (*isolation, error) {
	if err := protectDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	var base []byte
	if cfg.TerraformCLIConfig != "" {
		b, err := os.ReadFile(cfg.TerraformCLIConfig)
		if err != nil {
			return nil, fmt.Errorf("read the Terraform CLI configuration: %w", err)
		}
		base = b
	}
	if err := os.MkdirAll(cfg.PluginCacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("create the plugin cache: %w", err)
	}
	cli, err := tf.BuildCLIConfig(base, cfg.PluginCacheDir)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cfg.DataDir, "sandbox")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	rc := filepath.Join(dir, "terraformrc")
	if err := os.WriteFile(rc, cli.Text, 0o644); err != nil {
		return nil, fmt.Errorf("write the runner's Terraform CLI configuration: %w", err)
	}
	env := map[string]string{
		"PATH":                      "/usr/local/bin:/usr/bin:/bin",
		"TF_CLI_CONFIG_FILE":        rc,
		"CHECKPOINT_DISABLE":        "1",
		"AWS_EC2_METADATA_DISABLED": "true", // never the instance's own role
	}
	ro := append([]string{rc}, cli.Paths...)
	for k, v := range cfg.TerraformEnv {
		env[k] = v
		if (k == "SSL_CERT_FILE" || k == "SSL_CERT_DIR") && filepath.IsAbs(v) {
			ro = append(ro, v)
		}
	}
	if cfg.AWSRegion != "" {
		env["AWS_REGION"], env["AWS_DEFAULT_REGION"] = cfg.AWSRegion, cfg.AWSRegion
	}
	sb, err := sandbox.New(ctx, sandbox.Config{
		Want: cfg.Sandbox, Dir: dir, Launcher: cfg.SandboxLauncher, ReadOnly: append(ro, cfg.SandboxReadOnly...), ReadWrite: cfg.SandboxReadWrite, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("RUNNER_SANDBOX=%s: %w", cfg.Sandbox, err)
	}
	iso := &isolation{sandbox: sb, baseEnv: env, allow: cfg.UnsafeUnisolatedPlans}
	switch {
	case sb.Isolated():
		log.Info("terraform isolation", "mode", sb.Mode(), "detail", sb.Describe(), "launcher", sb.Launcher())
	case cfg.UnsafeUnisolatedPlans:
		log.Warn("terraform isolation: NONE; pull requests are planned anyway (RUNNER_UNSAFE_UNISOLATED_PLANS=true): their code can read the runner's secrets",
			"reason", sb.Reason())
	default:
		log.Warn("terraform isolation: none; pull requests will not be planned (set RUNNER_UNSAFE_UNISOLATED_PLANS=true to plan them anyway)",
			"reason", sb.Reason())
	}
	return iso, nil
}

// terraform returns the options of the runner's Terraform under this isolation.
func (i *isolation) terraform(ctx context.Context, cfg config.Server, log *slog.Logger, known *tf.Versions) (TerraformOptions, error) {
	o := TerraformOptions{Bin: cfg.TerraformBin, Timeout: cfg.StageTimeout, BaseEnv: i.baseEnv, PluginCache: cfg.PluginCacheDir,
		Version: terraformVersion(ctx, cfg, log, known), LockTimeout: cfg.TerraformLockTimeout, Known: known}
	for _, b := range cfg.TerraformBins {
		v, err := known.Of(ctx, b)
		if err != nil {
			log.Warn("RUNNER_TERRAFORM_BINS: not a Terraform binary; left out", "bin", b, "err", err)
			continue
		}
		if i.sandbox.Isolated() {
			if b, err = i.sandbox.Expose(b); err != nil {
				return o, err
			}
		}
		if o.Versions == nil {
			o.Versions = map[string]string{}
		}
		o.Versions[v] = b
	}
	if !i.sandbox.Isolated() {
		// Unisolated commands still go through the launcher: it leads their process group and records it,
		// so that what a dead runner's Terraform left can be killed (see internal/pipeline's attempts).
		o.Launcher = i.sandbox
		return o, nil
	}
	bin, err := tf.FindBinary(cfg.TerraformBin, execLookPath)
	if err != nil {
		return o, err
	}
	// In user mode the sandbox user must be able to run the binary where it is.
	if o.Bin, err = i.sandbox.Expose(bin); err != nil {
		return o, err
	}
	o.Sandbox = i.sandbox
	return o, nil
}

// pipeline is what the pipeline is told of the isolation.
func (i *isolation) pipeline() pipeline.Isolation {
	return pipeline.Isolation{Isolated: i.sandbox.Isolated(), Describe: i.sandbox.Describe(), AllowUnisolated: i.allow,
		Mode: string(i.sandbox.Mode())}
}

// Status is the isolation in effect, for /readyz and the dashboard.
func (i *isolation) Status() map[string]any {
	st := map[string]any{"mode": string(i.sandbox.Mode()), "isolated": i.sandbox.Isolated(), "detail": i.sandbox.Describe()}
	if !i.sandbox.Isolated() {
		st["pull_request_plans"] = map[bool]string{true: "planned without isolation (RUNNER_UNSAFE_UNISOLATED_PLANS)", false: "refused"}[i.allow]
	}
	return st
}

// protectDataDir closes the runner's files to other users (the sandbox users among them): only the
// work trees' directory can be traversed, and the database is the runner's alone.
func protectDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("create data dir %s: %w", dir, err)
	}
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{dir, 0o711}, {filepath.Join(dir, "runs"), 0o711}, {filepath.Join(dir, "mirrors"), 0o700}} {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return fmt.Errorf("create %s: %w", d.path, err)
		}
		if err := os.Chmod(d.path, d.mode); err != nil {
			return fmt.Errorf("protect %s: %w", d.path, err)
		}
	}
	// SQLite gives its -wal and -shm files the database file's permissions.
	db := filepath.Join(dir, "runner.db")
	f, err := os.OpenFile(db, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return fmt.Errorf("protect the database: %w", err)
	}
	f.Close()
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("protect %s: %w", p, err)
		}
	}
	return nil
}

// SandboxedTerraform is the runner's Terraform exactly as pull requests get it (sandbox, CLI
// configuration, explicit environment), for `runner plan --sandbox`. cfg needs DataDir,
// PluginCacheDir, TerraformBin, Sandbox, TerraformCLIConfig, TerraformEnv and AWSRegion. Without
// isolation it returns the sandbox's reason as an error.
func SandboxedTerraform(ctx context.Context, cfg config.Server, log *slog.Logger) (pipeline.Terraform, string, error) {
	iso, err := setupIsolation(ctx, cfg, log)
	if err != nil {
		return nil, "", err
	}
	if !iso.sandbox.Isolated() {
		return nil, "", fmt.Errorf("Terraform cannot run isolated here: %s", iso.sandbox.Reason())
	}
	o, err := iso.terraform(ctx, cfg, log, tf.NewVersions(filepath.Join(cfg.DataDir, "terraform")))
	if err != nil {
		return nil, "", err
	}
	t, err := NewTerraform(o)
	return t, iso.sandbox.Describe(), err
}

// steps returns the runner of workflows' own steps under this isolation: commands in the sandbox with
// Terraform's explicit environment, the tflint binary made reachable for the sandbox's users.
func (i *isolation) steps(cfg config.Server) (*steps.Runner, error) {
	o := steps.Options{BaseEnv: i.baseEnv, PolicyDir: cfg.PolicyDir, Timeout: cfg.StageTimeout, TFLint: cfg.TFLintBin}
	if o.TFLint == "" {
		if p, err := execLookPath("tflint"); err == nil {
			o.TFLint = p
		}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("the runner's own executable, for policy checks: %w", err)
	}
	o.Self = self
	if i.sandbox.Isolated() {
		o.Sandbox = i.sandbox
		if o.Self, err = i.sandbox.Expose(self); err != nil {
			return nil, fmt.Errorf("the runner's own executable, for policy checks: %w", err)
		}
		if o.TFLint != "" {
			bin, err := i.sandbox.Expose(o.TFLint)
			if err != nil {
				return nil, fmt.Errorf("RUNNER_TFLINT_BIN: %w", err)
			}
			o.TFLint = bin
		}
	}
	return steps.New(o), nil
}
