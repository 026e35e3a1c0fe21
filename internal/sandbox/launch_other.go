//go:build !linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// Main runs the launcher when this process was started as one. Off Linux only ModeNone exists: the
// program is run as it is.
func Main() {
	if _, ok := os.LookupEnv(helloEnv); ok {
		fmt.Printf("%s spec %d\n", LauncherName, specVersion)
		os.Exit(0)
	}
	v, ok := os.LookupEnv(specEnv)
	if !ok {
		if _, ok := os.LookupEnv(probeEnv); ok {
			fmt.Fprintln(os.Stderr, "runner sandbox: isolation needs Linux")
			os.Exit(1)
		}
		return
	}
	sp, err := decodeSpec(v)
	if err == nil && sp.Mode != ModeNone {
		err = errors.New("isolation needs Linux")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "runner sandbox: %v\n", err)
		os.Exit(125)
	}
	cmd := exec.Command(sp.Program, os.Args[1:]...)
	cmd.Env = environWithout(os.Environ())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		fmt.Fprintf(os.Stderr, "runner sandbox: %v\n", err)
		os.Exit(125)
	}
	os.Exit(0)
}
