// Command runner is a GitOps pipeline runner for AWS: it receives GitHub
// webhooks, plans Terraform on pull requests and deploys on merge.
//
//	runner serve                    run the webhook service
//	runner validate [DIR]           check a repository's .runner.yaml and environments
//	runner plan --repo DIR --env E  plan one environment of a local checkout
//	runner locks | unlock           list or release environment locks
//	runner approve | reject         decide a deploy waiting for approval, through a runner server
//	runner rollback                 deploy an environment again at an earlier commit, through a runner server
//	runner drift                    check an environment for drift now, through a runner server
//	runner fix                      apply an environment's deployed commit again to undo drift, with approvals
//	runner build-self               build the runner's own image, without a Docker daemon
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
	"github.com/gitops-runner/runner/internal/plancheck"
)

func main() {
	// Started as the sandbox launcher of a Terraform command: that, and nothing else.
	sandbox.Main()
	// Started to run one policy check away from the server's process: that, and nothing else.
	plancheck.Main()
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
	case "affected":
		err = cli.Affected(ctx, env, args[1:])
	case "locks":
		err = cli.Locks(ctx, env, args[1:])
	case "unlock":
		err = cli.Unlock(ctx, env, args[1:])
	case "approve":
		err = cli.Approve(ctx, env, args[1:])
	case "reject":
		err = cli.Reject(ctx, env, args[1:])
	case "rollback":
		err = cli.Rollback(ctx, env, args[1:])
	case "drift":
		err = cli.Drift(ctx, env, args[1:])
	case "fix":
		err = cli.Fix(ctx, env, args[1:])
	case "migrate":
		err = cli.Migrate(ctx, env, args[1:])
	case "runs":
		err = cli.Runs(ctx, env, args[1:])
	case "logs":
		err = cli.Logs(ctx, env, args[1:])
	case "demo":
		err = cli.Demo(ctx, env, args[1:])
	case "sandbox-check":
		err = cli.SandboxCheck(ctx, env, args[1:])
	case "build-self":
		err = cli.BuildSelf(ctx, env, args[1:])
	case "import":
		err = cli.Import(ctx, env, args[1:])
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
  runner plan --repo DIR (--env NAME | --project NAME) [--json] [--detailed-exitcode]
                                         plan an environment (each of its projects) or one project of a
                                         local checkout and print the summary
  runner affected --repo DIR --base REV [--head REV] [--merge-base] [--json]
                                         print the projects a change affects, each with why
  runner locks [--data-dir DIR]          list environment locks
  runner unlock --repo OWNER/NAME --env NAME --reason TEXT [--data-dir DIR]
                                         release an environment lock (in the local database)
  runner approve --run N --env NAME [--reason TEXT] [--as LOGIN]
                                         let a deploy waiting for approval go on
  runner reject --run N --env NAME --reason TEXT [--as LOGIN]
                                         stop a deploy waiting for approval
  runner rollback --repo OWNER/NAME --env NAME [--to SHA|previous] --reason TEXT [--as LOGIN]
                                         deploy an environment again at an earlier deployed commit
  runner drift --repo OWNER/NAME --env NAME [--as LOGIN]
                                         check an environment for drift now (its deployed commit, planned
                                         read-only with the plan role); follow it with runner logs -f
  runner fix --repo OWNER/NAME --env NAME --reason TEXT [--as LOGIN]
                                         apply to fix: apply the deployed commit again, undoing drift,
                                         through the environment's approvals
  runner runs [--repo OWNER/NAME] [--env NAME] [--status S] [--kind K] [--limit N]
                                         list a running server's runs, newest first
  runner logs [-f] [--stage NAME] RUN    print a run's stage logs; -f follows them until the run ends
                                         (exit 1 when it failed)
  runner migrate [--database-url URL] [--from sqlite:PATH]
                                         bring the store's schema up to date (PostgreSQL, or the SQLite data
                                         directory); --from copies a SQLite store's history into PostgreSQL
  runner demo [-keep] [-terraform PATH] [-dir DIR] [-v]
                                         run the whole story locally against stand-ins; -keep leaves the
                                         dashboard up until Ctrl-C
  runner sandbox-check [--want MODE]    probe the isolation Terraform gets here, as serve does at start
                                         (exit 1 when pull requests would not be isolated)
  runner build-self (--out DIR | --tar FILE | --push REF) [--src DIR] [--arch amd64|arm64]
                   [--terraform PATH --terraform-sha256 HEX] [--go-root DIR|none] [--package NAME]...
                                         build the runner's own image without a Docker daemon: Debian
                                         packages from the signed archive, Terraform checksum-verified
                                         (default: the pinned version built from source), non-root
  runner import [--file atlantis.yaml] [--repo DIR]
                                         print the .runner.yaml equivalent of an Atlantis repo config;
                                         what it cannot map is listed on stderr with its line

approve, reject and rollback ask a runner server: --server URL (RUNNER_SERVER_URL, default
http://127.0.0.1:8080) with its API token (RUNNER_API_TOKEN, or --token), as the GitHub login
--as (RUNNER_AS, else USER). The server checks that login's permissions and records the request.

Run "runner serve -h" for the server's flags and environment variables.
`)
}
