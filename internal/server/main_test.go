package server

import (
	"os"
	"testing"

	"github.com/gitops-runner/runner/internal/plancheck"
	"github.com/gitops-runner/runner/internal/sandbox"
)

// TestMain lets this test binary act as the sandbox launcher of the Terraform commands it starts.
func TestMain(m *testing.M) {
	sandbox.Main()
	plancheck.Main()
	os.Exit(m.Run())
}
