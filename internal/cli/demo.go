package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gitops-runner/runner/internal/demo"
	"github.com/gitops-runner/runner/internal/tf"
)

// demoTerraformVersion is the Terraform `make demo` installs (scripts/install-tools.sh), and
// demoTerraformCache where, under $HOME: `runner demo` run by hand finds it there.
const (
	demoTerraformVersion = "1.5.7"
	demoTerraformCache   = ".cache/gitops-runner/tf/" + demoTerraformVersion + "/terraform"
)

// Demo runs the whole story locally against stand-ins.
func Demo(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	keep := fs.Bool("keep", false, "keep the runner and its dashboard up after the story, until interrupted")
	dir := fs.String("dir", "", "working directory for the sample repository, state and data (default: a new temporary one, removed after)")
	verbose := fs.Bool("v", false, "show the runner's own log on stderr")
	bin := fs.String("terraform", env.Getenv("RUNNER_TERRAFORM_BIN"),
		"terraform binary (default: $RUNNER_TERRAFORM_BIN, terraform or tofu on PATH, then ~/"+demoTerraformCache+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path, version, err := demoTerraform(ctx, *bin, env.Getenv("HOME"), execLookPath, tf.BinaryVersion)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "terraform: %s (version %s)\n", path, version)
	var log io.Writer
	if *verbose {
		log = env.Stderr
	}
	return demo.Run(ctx, env.Stdout, demo.Options{TerraformBin: path, Keep: *keep, Dir: *dir, Log: log})
}

// demoTerraform finds the Terraform the demo uses and asks its version: the explicit one (-terraform or
// RUNNER_TERRAFORM_BIN) when given, else terraform or tofu on PATH, else the one `make demo` installed
// under home. When none is found, the error says how to get or name one.
func demoTerraform(ctx context.Context, explicit, home string, lookPath func(string) (string, error),
	version func(context.Context, string) (string, error)) (path, ver string, err error) {
	path, err = tf.FindBinary(explicit, lookPath)
	if err != nil && explicit == "" && errors.Is(err, tf.ErrNoBinary) && home != "" {
		cached := filepath.Join(home, demoTerraformCache)
		if fi, statErr := os.Stat(cached); statErr == nil && !fi.IsDir() && fi.Mode().Perm()&0o111 != 0 {
			path, err = cached, nil
		}
	}
	if err != nil {
		return "", "", fmt.Errorf("%w\nthe demo needs Terraform: `make demo` installs %s into ~/%s (go install, minutes the first time),\n"+
			"or point at one with `runner demo -terraform /path/to/terraform` or RUNNER_TERRAFORM_BIN=/path/to/terraform",
			err, demoTerraformVersion, demoTerraformCache)
	}
	ver, err = version(ctx, path)
	if err != nil {
		return "", "", fmt.Errorf("terraform %s does not answer `version` (use -terraform or RUNNER_TERRAFORM_BIN to name another): %w", path, err)
	}
	return path, ver, nil
}
