package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/metrics"
)

// A scrape with every metric set passes `promtool check metrics` (names, units, help, types).
// scripts/check-metrics.sh installs promtool; without it the test skips.
func TestScrapePassesPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not on PATH (scripts/check-metrics.sh installs it): scrape not checked")
	}
	m := metrics.New(metrics.Options{Queue: fakeQueue{q: metrics.Queued{Waiting: 1, Oldest: time.Now().Add(-time.Minute)}}})
	m.ObserveDelivery("push", "accepted", "")
	m.StageFinished("deploy", "image:backend", "", "succeeded", time.Minute)
	m.StageFinished("deploy", "apply", "prod", "failed", time.Minute)
	m.RunFinished("deploy", "failed", 2*time.Minute)
	m.LockReleased("prod", time.Second, time.Minute)
	m.ObserveTerraform("plan", "ok", 20*time.Second)
	m.ObserveImageBuild("ok", 30*time.Second)
	m.ObserveImagePush(1<<20, 2)
	m.ObserveCall("github", "GET /repos/{owner}/{repo}", "ok", 100*time.Millisecond)
	m.SetRateLimit("github", 4999, 5000)
	srv := httptest.NewServer(m.HTTP(m.Handler()))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := checkMetrics(t.Context(), promtool, body); err != nil {
		t.Fatal(err)
	}
}

func checkMetrics(ctx context.Context, promtool string, scrape []byte) error {
	cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return errors.New("promtool check metrics: " + err.Error() + "\n" + string(out))
	}
	return nil
}
