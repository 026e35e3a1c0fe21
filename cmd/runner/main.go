// Command runner is a GitOps pipeline runner for AWS: it receives GitHub
// webhooks, plans Terraform on pull requests and deploys on merge.
//
//	runner serve                    run the webhook service
//	runner validate [DIR]           check a repository's .runner.yaml and environments
//	runner plan --repo DIR --env E  plan one environment of a local checkout
//	runner locks | unlock           list or release environment locks
//	runner demo                     the whole story on this machine, no accounts needed
package main

import (
	"github.com/gitops-runner/runner/internal/sandbox"

	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gitops-runner/runner/internal/cli"
)

func main() {
	// Started as the sandbox launcher of a Terraform command: that, and nothing else.
	sandbox.Main()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	env := cli.Env{Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}
	var err error
	switch args[0] {
	case "serve":
		err = cli.Serve(ctx, env, args[1:])
	case "validate":
		err = cli.Validate(ctx, env, args[1:])
	case "plan":
		err = cli.Plan(ctx, env, args[1:])
	case "locks":
		err = cli.Locks(ctx, env, args[1:])
	case "unlock":
		err = cli.Unlock(ctx, env, args[1:])
	case "demo":
		err = cli.Demo(ctx, env, args[1:])
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "runner: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var exit cli.ExitError
	if errors.As(err, &exit) {
		return exit.Code
	}
	slog.New(slog.NewTextHandler(stderr, nil)).Debug("failed", "err", err)
	fmt.Fprintf(stderr, "runner %s: %s\n", args[0], strings.TrimSpace(err.Error()))
	return 1
}

func usage(w io.Writer) {
	fmt.Fprint(w, `runner: a GitOps pipeline runner for AWS

usage:
  runner serve [flags]                   receive GitHub webhooks, plan pull requests, deploy merges
  runner validate [DIR]                  check .runner.yaml and the environments of a checkout (default .)
  runner plan --repo DIR --env NAME [--json] [--detailed-exitcode]
                                         plan one environment of a local checkout and print the summary
  runner locks [--data-dir DIR]          list environment locks
  runner unlock --repo OWNER/NAME --env NAME --reason TEXT [--data-dir DIR]
                                         release an environment lock
  runner demo                            run the whole story locally against stand-ins

Run "runner serve -h" for the server's flags and environment variables.
`)
}
