package cli

import (
	"context"
	"flag"
	"io"

	"github.com/gitops-runner/runner/internal/demo"
)

// Demo runs the whole story locally against stand-ins.
func Demo(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	keep := fs.Bool("keep", false, "keep the runner and stand-ins up after the story, until interrupted")
	verbose := fs.Bool("v", false, "show the runner's own log on stderr")
	bin := fs.String("terraform", env.Getenv("RUNNER_TERRAFORM_BIN"), "terraform binary (default: terraform on PATH)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var log io.Writer
	if *verbose {
		log = env.Stderr
	}
	return demo.Run(ctx, env.Stdout, demo.Options{TerraformBin: *bin, Keep: *keep, Log: log})
}
