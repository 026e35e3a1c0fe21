//go:build e2e

package demo_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
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
		"dev/migrate",
		"migration task in prod-cluster: ",
		"| prod | succeeded |",
		"5. Done: run 1 planned the PR, run 2 deployed it.",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "runner demo -keep") || strings.Contains(last, "http://") {
		t.Errorf("the last line %q should say how to keep the dashboard up, not point at a stopped one", last)
	}
}

// With -keep the dashboard stays up after the story, the last line points at it, and an interrupt
// after success ends the demo without an error.
func TestDemoKeepServesTheDashboardUntilInterrupted(t *testing.T) {
	bin, err := tf.FindBinary(os.Getenv("RUNNER_TERRAFORM_BIN"), exec.LookPath)
	if err != nil {
		t.Skipf("terraform not available (%v): set RUNNER_TERRAFORM_BIN or put terraform on PATH", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	interrupt, stop := context.WithCancel(ctx)
	defer stop()
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- demo.Run(interrupt, out, demo.Options{TerraformBin: bin, Dir: t.TempDir(), Keep: true, Heartbeat: 5 * time.Second})
	}()
	re := regexp.MustCompile(`Dashboard: (http://127\.0\.0\.1:\d+/) \(serving until interrupted: Ctrl-C\)\n$`)
	var url string
	for url == "" {
		select {
		case err := <-done:
			t.Fatalf("the demo ended (%v) instead of serving:\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if m := re.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
	}
	resp, err := http.Get(url + "api/runs")
	if err != nil {
		t.Fatalf("the dashboard is not up after the story: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %sapi/runs = %d", url, resp.StatusCode)
	}
	checkScrape(t, url+"metrics")
	stop() // Ctrl-C
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("interrupt after a successful story: %v, want nil (exit 0)", err)
		}
	case <-ctx.Done():
		t.Fatal("the demo did not stop when interrupted")
	}
}

// checkScrape reads /metrics after the demo's story: it counts the PR plan and the deploy, and
// promtool (Debian's prometheus package; scripts/check-metrics.sh installs it) finds it well formed.
func checkScrape(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape after the demo: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, %v", url, resp.StatusCode, err)
	}
	for _, want := range []string{
		`runner_runs_total{kind="deploy",outcome="succeeded"} 1`,
		`runner_runs_total{kind="plan",outcome="succeeded"} 1`,
		`runner_webhook_deliveries_total{event="push",outcome="accepted",reason=""} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the scrape after the demo lacks %s", want)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not on PATH (scripts/check-metrics.sh installs it): the scrape's format is not checked")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics on the demo's scrape: %v\n%s", err, out)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
