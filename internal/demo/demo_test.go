//go:build e2e

package demo_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/demo"
	"github.com/gitops-runner/runner/internal/tf"
)

// The demo is the README's first command: it must tell the whole story, PR plan
// to deploy, against the stand-ins.
func TestDemoTellsTheWholeStory(t *testing.T) {
	bin, err := tf.FindBinary(os.Getenv("RUNNER_TERRAFORM_BIN"), exec.LookPath)
	if err != nil {
		t.Skipf("terraform not available (%v): set RUNNER_TERRAFORM_BIN or put terraform on PATH", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out, log bytes.Buffer
	if err := demo.Run(ctx, &out, demo.Options{TerraformBin: bin, Dir: t.TempDir(), Log: &log}); err != nil {
		t.Fatalf("demo: %v\n%s\nrunner log:\n%s", err, out.String(), log.String())
	}
	for _, want := range []string{
		"run 1 succeeded",
		"3 sticky plan comments on the pull request",
		"commit status runner/plan: dev",
		"GitHub deployment to prod: success",
		"| prod | succeeded |",
		"5. Done: run 1 planned the PR, run 2 deployed it.",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
