package proc

import "syscall"

// The child dies with the runner even if the runner is killed outright.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
