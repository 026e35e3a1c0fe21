package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/gitops-runner/runner/internal/sandbox"
)

// SandboxCheck probes the isolation Terraform would get here, as `runner serve` does at start, and says
// which: exit 0 when commands run isolated, 1 when not. It answers "will this host, container or task
// isolate pull requests' Terraform?" before anything is deployed.
func SandboxCheck(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("sandbox-check", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	want := fs.String("want", cmpOr(env.Getenv("RUNNER_SANDBOX"), sandbox.WantAuto), "auto, namespaces, user, bwrap (RUNNER_SANDBOX)")
	dir := fs.String("dir", "", "the sandbox's directory (default a temporary one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d := *dir
	if d == "" {
		tmp, err := os.MkdirTemp("", "runner-sandbox-check")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if err := os.Chmod(tmp, 0o755); err != nil {
			return err
		}
		d = filepath.Join(tmp, "sandbox")
	}
	sb, err := sandbox.New(ctx, sandbox.Config{Want: *want, Dir: d, Launcher: env.Getenv("RUNNER_SANDBOX_LAUNCHER"),
		Logger: slog.New(slog.NewTextHandler(env.Stderr, nil))})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "runner uid %d\nisolation: %s\n%s\n", os.Geteuid(), sb.Mode(), sb.Describe())
	if !sb.Isolated() {
		return ExitError{Code: 1}
	}
	return nil
}
