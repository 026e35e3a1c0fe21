//go:build e2e

package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/cli"
	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
)

// syncBuffer is a bytes.Buffer safe to read while the command writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// `runner logs -f` follows a real run, started before the run ends, through the API with the token: it prints
// every stage's log once and in order, and exits 0 when the run succeeded and 1 when it failed.
func TestLogsFollowsARunToItsEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	h := newHarness(t, fixture.Options{Environments: []string{"dev", "prod"}, NoApps: true}, serverCollaborators(),
		func(c *config.Server) { c.APIToken = apiToken })
	env := func(out, errOut *syncBuffer) cli.Env {
		return cli.Env{Stdout: out, Stderr: errOut, Getenv: func(k string) string {
			switch k {
			case "RUNNER_SERVER_URL":
				return h.base
			case "RUNNER_API_TOKEN":
				return apiToken
			}
			return ""
		}}
	}
	follow := func(id int64) (string, error) {
		t.Helper()
		var out, errOut syncBuffer
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		err := cli.Logs(ctx, env(&out, &errOut), []string{"-f", "--poll", "200ms", fmt.Sprint(id)})
		if errOut.String() != "" {
			t.Logf("stderr: %s", errOut.String())
		}
		return out.String(), err
	}

	first, _ := h.repo.Head()
	id := h.accept("push", h.pushPayload(fixture.ZeroSHA, first))
	out, err := follow(id)
	if err != nil {
		t.Fatalf("logs -f of a succeeding run: %v\n%s", err, out)
	}
	run := h.getRun(id)
	if run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("run %d %s", id, run.Status)
	}
	assertFollowed(t, h, run, out)

	second := commitPush(t, h, "main", map[string]string{"environments/dev/broken.tf": failingResource})
	id = h.accept("push", h.pushPayload(first, second))
	out, err = follow(id)
	var exit cli.ExitError
	if !errors.As(err, &exit) || exit.Code != 1 {
		t.Fatalf("logs -f of a failing run: err %v, want exit 1\n%s", err, out)
	}
	run = h.getRun(id)
	if run.Status != store.StatusFailed {
		t.Fatalf("run %d %s, want failed", id, run.Status)
	}
	assertFollowed(t, h, run, out)
	if !strings.Contains(out, "simulated provider error") {
		t.Fatalf("the failing apply's error is not in the followed log:\n%s", out)
	}
}

// assertFollowed checks that out holds every stored line of every stage of run exactly once, in order, under
// its stage's header, and ends with the run's outcome.
func assertFollowed(t *testing.T, h *harness, run store.Run, out string) {
	t.Helper()
	want := []string{}
	for _, st := range run.Stages {
		lines, err := h.srv.Store().Log(context.Background(), st.ID, 0, 100000)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) == 0 {
			continue
		}
		name := st.Name
		if st.Env != "" {
			name = st.Env + "/" + st.Name
		}
		want = append(want, "== "+name)
		for _, l := range lines {
			want = append(want, l.Line)
		}
	}
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(got) == 0 || !strings.HasPrefix(got[len(got)-1], fmt.Sprintf("== run %d %s", run.ID, run.Status)) {
		t.Fatalf("the output does not end with the run's outcome:\n%s", out)
	}
	got = got[:len(got)-1]
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("followed output differs from the stored logs (%d lines, want %d):\n--- got\n%s\n--- want\n%s",
			len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
