// Command backend serves the items REST API (internal/api) and migrates its
// database:
//
//	backend                  serve the API on :$PORT (the image's default)
//	backend serve            the same
//	backend migrate [up]     apply the pending migrations, then exit
//	backend migrate status   list the migrations and whether each is applied
//
// It reads its configuration from the environment once, here, and stops
// gracefully on SIGTERM or SIGINT. Exit status: 0 done, 1 failed, 2 usage.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage:
  backend [serve]            serve the items API
  backend migrate [up]       apply the pending database migrations, then exit
  backend migrate status     list the migrations and whether each is applied
`

// usageError is a command line the backend does not understand (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs one command and returns the process's exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		if len(args) > 0 {
			err = &usageError{"serve takes no arguments"}
			break
		}
		err = serve(ctx, getenv, stdout)
	case "migrate":
		err = migrate(ctx, args, getenv, stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = &usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	var uerr *usageError
	switch {
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "backend: %v\n%s", err, usage)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "backend: %s: %v\n", cmd, err)
		return 1
	}
	return 0
}
