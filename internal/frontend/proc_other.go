//go:build !unix

package frontend

import "os/exec"

// ownProcessGroup keeps exec's default cancellation (kill the process) where process groups do not exist.
func ownProcessGroup(*exec.Cmd) {}

func killProcessGroup(*exec.Cmd) {}
