// Package proc starts the runner's subprocesses (npm, go build) the way
// terraform-exec starts Terraform: in a process group of their own, interrupted
// (SIGINT to the whole group) when their context ends, killed after a grace
// period, and with nothing of the group left behind once they are waited for.
package proc

import (
	"context"
	"os/exec"
	"time"
)

// DefaultGrace is how long a cancelled command gets to stop before it is killed.
const DefaultGrace = 10 * time.Second

// Command is exec.CommandContext with the runner's cancellation rules.
// Call Reap after Wait (or Run) returns.
func Command(ctx context.Context, grace time.Duration, name string, args ...string) *exec.Cmd {
	if grace <= 0 {
		grace = DefaultGrace
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = grace
	ownGroup(cmd)
	return cmd
}

// Reap kills whatever is left of the command's process group: a script that
// ignored the interrupt, or a child that outlived its parent.
func Reap(cmd *exec.Cmd) { killGroup(cmd) }
