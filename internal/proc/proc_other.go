//go:build !unix

package proc

import "os/exec"

// Where process groups do not exist, exec's default cancellation (kill) stays.
func ownGroup(*exec.Cmd) {}

func killGroup(*exec.Cmd) {}
