package tf

import (
	"os"
	"testing"

	"github.com/gitops-runner/runner/internal/sandbox"
)

// TestMain lets this test binary act as the sandbox launcher for the sandboxed workspace tests.
func TestMain(m *testing.M) {
	sandbox.Main()
	os.Exit(m.Run())
}
