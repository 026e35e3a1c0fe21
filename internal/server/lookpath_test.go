//go:build e2e

package server_test

import "os/exec"

func execLookPath(name string) (string, error) { return exec.LookPath(name) }
