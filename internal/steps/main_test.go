package steps

import (
	"os"
	"testing"

	"github.com/gitops-runner/runner/internal/plancheck"
)

// TestMain lets this test binary act as a policy check's child process (Options.Self).
func TestMain(m *testing.M) {
	plancheck.Main()
	os.Exit(m.Run())
}
