//go:build e2e

package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/server"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/testenv/ghwebhook"
)

const metricsToken = "metrics-test-api-token-0123456789"

// One push deploys; /metrics then shows the delivery, the run, its stages, the locks and Terraform's
// commands, passes promtool, and needs the API token on the main address.
func TestMetricsAfterADeploy(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	h := newHarness(t, fixture.Options{}, server.Collaborators{}, func(c *config.Server) { c.APIToken = metricsToken })
	base, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.repo.WriteFiles(map[string]string{"terraform/modules/network/main.tf": fixture.NetworkModuleV2}); err != nil {
		t.Fatal(err)
	}
	head, err := h.repo.Commit("Widen the network")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.repo.Push("main"); err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(h.pushPayload(base, head))
	if err != nil {
		t.Fatal(err)
	}
	// One delivery, the same delivery again, and one signed with another secret.
	ctx := context.Background()
	s := &ghwebhook.Sender{URL: h.base, Secret: testSecret}
	first, err := s.SendRaw(ctx, "push", "metrics-delivery-1", body)
	if err != nil || first.Status != http.StatusAccepted {
		t.Fatalf("delivery: %+v, %v; want 202", first, err)
	}
	id := first.Run
	if r, err := s.SendRaw(ctx, "push", "metrics-delivery-1", body); err != nil || r.Status != http.StatusOK {
		t.Fatalf("repeated delivery: %+v, %v; want 200 duplicate", r, err)
	}
	bad := &ghwebhook.Sender{URL: h.base, Secret: "not-the-webhook-secret"}
	if r, err := bad.SendRaw(ctx, "push", "metrics-delivery-2", body); err != nil || r.Status != http.StatusUnauthorized {
		t.Fatalf("badly signed delivery: %+v, %v; want 401", r, err)
	}
	run := h.waitRun(id, 4*time.Minute)
	if run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("deploy status %s: %s", run.Status, run.Error)
	}

	if code, _ := scrape(t, h.base, ""); code != http.StatusUnauthorized {
		t.Fatalf("/metrics without the API token = %d, want 401", code)
	}
	// The run's end is recorded just after its status: poll until it shows.
	var text string
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := scrape(t, h.base, metricsToken)
		if code != http.StatusOK {
			t.Fatalf("/metrics with the token = %d:\n%s", code, body)
		}
		text = body
		if value(text, "runner_runs_total", `kind="deploy"`, `outcome="succeeded"`) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	checks := []struct {
		name   string
		labels []string
		want   func(float64) bool
		says   string
	}{
		{"runner_webhook_deliveries_total", []string{`event="push"`, `outcome="accepted"`}, eq(1), "1"},
		{"runner_webhook_deliveries_total", []string{`event="push"`, `outcome="duplicate"`, `reason="delivery_id"`}, eq(1), "1"},
		{"runner_webhook_deliveries_total", []string{`event="push"`, `outcome="refused"`, `reason="bad_signature"`}, eq(1), "1"},
		{"runner_runs_total", []string{`kind="deploy"`, `outcome="succeeded"`}, eq(1), "1"},
		{"runner_stages_total", []string{`kind="deploy"`, `stage="apply"`, `env="prod"`, `outcome="succeeded"`}, eq(1), "1"},
		{"runner_stage_duration_seconds_count", []string{`stage="plan"`, `env="dev"`, `outcome="succeeded"`}, eq(1), "1"},
		{"runner_env_lock_held_seconds_count", []string{`env="staging"`}, atLeast(1), ">= 1"},
		{"runner_terraform_command_duration_seconds_count", []string{`verb="apply"`, `result="ok"`}, atLeast(3), ">= 3"},
		{"runner_terraform_command_duration_seconds_count", []string{`verb="init"`, `result="ok"`}, atLeast(3), ">= 3"},
		{"runner_http_requests_total", []string{`route="POST /webhooks/github"`, `code="202"`}, eq(1), "1"},
		{"runner_http_requests_total", []string{`route="GET /api/runs/{id}"`, `code="200"`}, atLeast(1), ">= 1"},
		{"runner_queue_depth", nil, eq(0), "0"},
		{"runner_external_calls_total", []string{`service="github"`, `result="ok"`}, atLeast(1), ">= 1"},
		{"runner_build_info", nil, eq(1), "1"},
		{"go_goroutines", nil, atLeast(1), ">= 1"},
	}
	for _, c := range checks {
		if got := value(text, c.name, c.labels...); !c.want(got) {
			t.Errorf("%s{%s} = %v, want %s", c.name, strings.Join(c.labels, ","), got, c.says)
		}
	}
	for _, series := range []string{"runner_queue_depth ", "runner_queue_oldest_age_seconds ", "runner_runs_in_progress "} {
		if !strings.Contains(text, "\n"+series) {
			t.Errorf("the scrape has no %s", series)
		}
	}
	if strings.Contains(text, head) || strings.Contains(text, repoName) {
		t.Error("the scrape names a commit or the repository: labels must stay bounded")
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not on PATH (scripts/check-metrics.sh installs it): the scrape's format is not checked")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// With RUNNER_METRICS_LISTEN /metrics is served there, without the token, and not on the main address.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	h := newHarness(t, fixture.Options{}, server.Collaborators{}, func(c *config.Server) {
		c.APIToken, c.MetricsListen = metricsToken, "127.0.0.1:0"
	})
	if code, _ := scrape(t, h.base, metricsToken); code != http.StatusNotFound {
		t.Errorf("/metrics on the main address = %d, want 404", code)
	}
	code, body := scrape(t, "http://"+h.srv.MetricsAddr(), "")
	if code != http.StatusOK || !strings.Contains(body, "runner_build_info") {
		t.Errorf("/metrics on RUNNER_METRICS_LISTEN = %d:\n%.300s", code, body)
	}
	if h.srv.Metrics() == nil {
		t.Error("Server.Metrics() is nil")
	}
}

func scrape(t *testing.T, base, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	io.Copy(&b, resp.Body)
	return resp.StatusCode, b.String()
}

// value is the sample of name whose labels include all of labels (0 when there is none).
func value(text, name string, labels ...string) float64 {
	for _, l := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(l, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		i := strings.LastIndexByte(rest, ' ')
		if i < 0 {
			continue
		}
		match := true
		for _, want := range labels {
			if !strings.Contains(rest[:i], want) {
				match = false
			}
		}
		if match {
			v, _ := strconv.ParseFloat(rest[i+1:], 64)
			return v
		}
	}
	return 0
}

func eq(n float64) func(float64) bool      { return func(v float64) bool { return v == n } }
func atLeast(n float64) func(float64) bool { return func(v float64) bool { return v >= n } }
