//go:build e2e

package server_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/cli"
	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fakeslack"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
)

// A drift check plans the deployed commit read-only: after the state changes behind the runner's back
// (a resource forgotten, as if deleted outside Terraform), `runner drift` reports exactly that resource,
// Slack gets one message, the gauge says so, and a second check of the same drift posts nothing more.
// Then `runner fix` applies the deployed commit again, and the next check finds no drift.
func TestDriftCheckReportsNewDriftOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	h, st := newStackHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true},
		func(c *config.Server) { c.APIToken, c.SlackChannel = apiToken, "#infra" })
	first, _ := h.repo.Head()
	if run := h.waitRun(h.accept("push", h.pushPayload(fixture.ZeroSHA, first)), 3*time.Minute); run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("deploy %s: %s", run.Status, run.Error)
	}
	slackBefore := len(st.Slack.Messages())

	act := func(cmd func(context.Context, cli.Env, []string) error, args ...string) store.Run {
		t.Helper()
		var out, errOut syncBuffer
		env := cli.Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string {
			switch k {
			case "RUNNER_SERVER_URL":
				return h.base
			case "RUNNER_API_TOKEN":
				return apiToken
			case "RUNNER_AS":
				return "dana"
			}
			return ""
		}}
		if err := cmd(context.Background(), env, append([]string{"--repo", repoName, "--env", "dev"}, args...)); err != nil {
			t.Fatalf("runner %v: %v\n%s%s", args, err, out.String(), errOut.String())
		}
		m := regexp.MustCompile(`(?m)^run (\d+)$`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("runner answered %q", out.String())
		}
		id, _ := strconv.ParseInt(m[1], 10, 64)
		return h.waitRun(id, 3*time.Minute)
	}
	check := func() store.Run { t.Helper(); return act(cli.Drift) }

	// No drift yet.
	run := check()
	if run.Status != store.StatusSucceeded || !strings.Contains(stageMap(run)["dev/drift"].Detail, "no drift") {
		dumpRun(t, run)
		t.Fatalf("first check %s: %+v", run.Status, stageMap(run)["dev/drift"])
	}
	if _, metrics := scrape(t, h.base, apiToken); !strings.Contains(metrics, `runner_environment_drifted{env="dev"} 0`) {
		t.Errorf("gauge after a clean check:\n%s", grepLines(metrics, "drifted"))
	}

	// The state loses terraform_data.release behind the runner's back.
	statePath := filepath.Join(h.cfg.DataDir, "..", "state", "dev.tfstate")
	forget(t, statePath, "terraform_data", "release")

	for i := range 2 {
		run = check()
		s := stageMap(run)["dev/drift"]
		if run.Status != store.StatusSucceeded || !strings.Contains(s.Detail, "1 resource(s) the deployed code would change") {
			dumpRun(t, run)
			t.Fatalf("check %d: %s %q", i+2, run.Status, s.Detail)
		}
		if log := h.stageLogText(s.ID); !strings.Contains(log, "terraform_data.release: the deployed code would create it") {
			t.Errorf("check %d log:\n%s", i+2, log)
		}
	}
	msgs := st.Slack.Messages()
	var drift []string
	named := false
	for _, m := range msgs[slackBefore:] {
		if strings.Contains(m.BlockText(), "Drift in") {
			drift = append(drift, m.BlockText())
		}
		for _, r := range append([]fakeslack.Message{m}, st.Slack.Thread(m.TS)...) {
			named = named || strings.Contains(r.BlockText()+r.Text, "terraform_data.release")
		}
	}
	if len(drift) != 1 || !named {
		for _, m := range msgs[slackBefore:] {
			t.Logf("slack: %q %q", m.BlockText(), m.Text)
		}
		t.Fatalf("Slack drift messages %d, want 1, and the resource named (in it or its thread)", len(drift))
	}
	if _, metrics := scrape(t, h.base, apiToken); !strings.Contains(metrics, `runner_environment_drifted{env="dev"} 1`) {
		t.Errorf("gauge after drift:\n%s", grepLines(metrics, "drifted"))
	}
	// Nothing was applied: the state still lacks the resource.
	if state := mustRead(t, filepath.Dir(statePath), "dev.tfstate"); strings.Contains(state, `"name": "release"`) {
		t.Errorf("a drift check changed the state")
	}

	// Apply to fix: the deployed commit is applied again, the resource comes back, and the next check is clean.
	slackBefore = len(st.Slack.Messages())
	run = act(cli.Fix, "--reason", "state surgery gone wrong")
	if run.Status != store.StatusSucceeded || run.Event.Kind != "fix" || run.Event.SHA != first {
		dumpRun(t, run)
		t.Fatalf("fix %s (%s at %s)", run.Status, run.Event.Kind, run.Event.SHA)
	}
	if p := stageMap(run)["dev/plan"]; !strings.Contains(p.Detail, "1 to add") {
		t.Errorf("the fix's plan: %q, want the forgotten resource added back", p.Detail)
	}
	if state := mustRead(t, filepath.Dir(statePath), "dev.tfstate"); !strings.Contains(state, `"name": "release"`) {
		t.Errorf("the fix did not bring terraform_data.release back")
	}
	fixing := false
	for _, m := range st.Slack.Messages()[slackBefore:] {
		fixing = fixing || strings.Contains(m.BlockText(), "Fixing drift in")
	}
	if !fixing {
		t.Errorf("Slack was not told of the fix")
	}
	run = check()
	if run.Status != store.StatusSucceeded || !strings.Contains(stageMap(run)["dev/drift"].Detail, "no drift") {
		dumpRun(t, run)
		t.Fatalf("check after the fix %s: %+v", run.Status, stageMap(run)["dev/drift"])
	}
	if _, metrics := scrape(t, h.base, apiToken); !strings.Contains(metrics, `runner_environment_drifted{env="dev"} 0`) {
		t.Errorf("gauge after the fix:\n%s", grepLines(metrics, "drifted"))
	}
}

// forget removes a resource from a local state file and bumps its serial, as a state surgery would.
func forget(t *testing.T, path, typ, name string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var state map[string]any
	if err := json.Unmarshal(raw, &state); err != nil {
		t.Fatal(err)
	}
	var kept []any
	for _, r := range state["resources"].([]any) {
		m := r.(map[string]any)
		if m["type"] == typ && m["name"] == name {
			continue
		}
		kept = append(kept, r)
	}
	state["resources"] = kept
	state["serial"] = state["serial"].(float64) + 1
	out, _ := json.MarshalIndent(state, "", "  ")
	if err := os.WriteFile(path, out, 0o666); err != nil {
		t.Fatal(err)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
