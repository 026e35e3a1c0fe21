//go:build unix

package frontend

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup puts the command in a new process group and makes cancellation send SIGINT to all of it,
// as terraform-exec does, so npm and the scripts it runs can clean up before the grace period ends.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	}
}

// killProcessGroup kills whatever is left of the command's process group after it was waited for.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
