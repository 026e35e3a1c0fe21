// Command runner-sandbox is the runner's sandbox launcher on its own: the runner starts it in place
// of each Terraform command it isolates (see internal/sandbox). It does what the runner's own
// executable does as a launcher, and starts in a few milliseconds instead of the 50 ms or more the
// runner's binary spends initialising its packages. Install it beside the runner's executable (or
// name it with RUNNER_SANDBOX_LAUNCHER); without it the runner launches with its own executable.
package main

import (
	"fmt"
	"os"

	"github.com/gitops-runner/runner/internal/sandbox"
)

func main() {
	sandbox.Main()
	fmt.Fprintln(os.Stderr, "runner-sandbox: the runner's sandbox launcher; the runner starts it, people do not")
	os.Exit(2)
}
