//go:build e2e

package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/cli"
	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/server"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/testenv/ghwebhook"
	"github.com/gitops-runner/runner/internal/testenv/postgres"
)

// Two runner replicas on one PostgreSQL database: either takes any delivery, a delivery sent to both
// makes one run, and runs accepted by one are worked by whichever is free; both APIs show every run.
func TestPostgresReplicasShareOneDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	ctx := context.Background()
	pg, err := postgres.Start(ctx)
	if errors.Is(err, postgres.ErrUnavailable) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Stop)
	url, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := newRepoHarness(t, fixture.Options{Environments: []string{"dev", "prod"}, NoApps: true}, func(c *config.Server) {
		c.DatabaseURL, c.DatabaseMaxConns, c.Workers = url, 6, 2
	})
	b := *a // the same repository and database; its own data directory and address
	b.cfg.DataDir = filepath.Join(t.TempDir(), "replica-b")
	a.start(serverCollaborators())
	b.start(serverCollaborators())

	first, _ := a.repo.Head()
	deploy := a.waitRun(a.accept("push", a.pushPayload(fixture.ZeroSHA, first)), 4*time.Minute)
	if deploy.Status != store.StatusSucceeded {
		dumpRun(t, deploy)
		t.Fatalf("deploy %s: %s", deploy.Status, deploy.Error)
	}

	// Pull requests, each delivered to both replicas at once under one delivery id.
	const prs = 6
	runs := map[int64]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range prs {
		base, head := openPR(t, a, fmt.Sprintf("r-%d", i), map[string]string{"environments/dev/r.tf": tfData(fmt.Sprintf("r%d", i), "1")})
		body, err := json.Marshal(a.prPayload("opened", 100+i, head, base, fmt.Sprintf("r-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		delivery := fmt.Sprintf("replicated-%d", i)
		for _, h := range []*harness{a, &b} {
			wg.Go(func() {
				r, err := (&ghwebhook.Sender{URL: h.base, Secret: testSecret}).SendRaw(ctx, "pull_request", delivery, body)
				if err != nil || (r.Status != http.StatusAccepted && r.Status != http.StatusOK) {
					t.Errorf("delivery %s: %+v, %v", delivery, r, err)
					return
				}
				mu.Lock()
				runs[r.Run] = true
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	if len(runs) != prs {
		t.Fatalf("%d runs for %d deliveries sent twice each, want one each: %v", len(runs), prs, runs)
	}
	for id := range runs {
		run := b.waitRun(id, 4*time.Minute) // read through the other replica's API
		if run.Status != store.StatusSucceeded {
			dumpRun(t, run)
			t.Errorf("run %d: %s", id, run.Status)
		}
		// A run may come back (it waits while another plan holds dev's lock), but no plan runs twice (the
		// checkout is made again on each execution, by design).
		for _, st := range run.Stages {
			if st.Name != "checkout" && st.Attempts > 1 {
				t.Errorf("run %d: stage %s/%s ran %d times", id, st.Env, st.Name, st.Attempts)
			}
		}
	}
	locks, err := a.srv.Store().Locks(ctx)
	if err != nil || len(locks) != 0 {
		t.Errorf("locks left: %+v, %v", locks, err)
	}
}

// Kill -9 the replica that runs an apply: another replica on the same PostgreSQL database takes the run
// over once the dead one's heartbeat is a lease old (and its environment lock has expired), resumes it
// and carries it to success; each environment is recorded deployed exactly once.
func TestPostgresKilledReplicaIsTakenOver(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds the runner and runs Terraform")
	}
	ctx := context.Background()
	pg, err := postgres.Start(ctx)
	if errors.Is(err, postgres.ErrUnavailable) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Stop)
	url, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bin := runnerBinary(t)
	a := newRepoHarness(t, fixture.Options{Environments: []string{"dev", "prod"}, ApplyDelay: 4 * time.Second, NoApps: true}, nil)
	logf, err := os.Create(filepath.Join(t.TempDir(), "runner.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("runner logs:\n%s", b)
		}
	}()
	first := a.startProcess(bin, freeAddr(t), logf, "RUNNER_DATABASE_URL="+url)
	sha, _ := a.repo.Head()
	id := a.accept("push", a.pushPayload(fixture.ZeroSHA, sha))
	deadline := time.Now().Add(2 * time.Minute)
	for {
		run := a.getRun(id)
		if st := stageMap(run)["dev/apply"]; st.Status == store.StageRunning {
			break
		}
		if store.Finished(run.Status) || time.Now().After(deadline) {
			dumpRun(t, run)
			t.Fatalf("never saw dev/apply running (run %s)", run.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b := *a
	b.cfg.DataDir = filepath.Join(t.TempDir(), "replica-b")
	second := b.startProcess(bin, freeAddr(t), logf, "RUNNER_DATABASE_URL="+url)
	defer func() {
		_ = second.Process.Signal(syscall.SIGTERM)
		_ = second.Wait()
	}()
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()

	run := b.waitRun(id, 3*time.Minute)
	if run.Status != store.StatusSucceeded || run.Attempts != 2 {
		dumpRun(t, run)
		t.Fatalf("taken-over run finished %s after %d attempts: %s", run.Status, run.Attempts, run.Error)
	}
	st, err := store.OpenPostgres(ctx, url, store.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	deps, err := st.Deployments(ctx, repoName, 10)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, d := range deps {
		if d.Outcome == "succeeded" {
			count[d.Env]++
		}
	}
	if count["dev"] != 1 || count["prod"] != 1 {
		t.Fatalf("successful deployments per env = %v, want one each", count)
	}
	log, _ := os.ReadFile(logf.Name())
	if !strings.Contains(string(log), "replicas stopped answering: their runs go back to the queue") {
		t.Fatalf("the surviving replica did not report the take-over")
	}
}

// A deploy waits for approval on one replica, which then stops; the approval reaches another replica (with a
// data directory of its own), which applies exactly the plan that was approved: restored from the database,
// checked against the approved checksum, not planned again.
func TestPostgresApprovedPlanIsAppliedByAnotherReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	ctx := context.Background()
	pg, err := postgres.Start(ctx)
	if errors.Is(err, postgres.ErrUnavailable) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Stop)
	url, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, st := approvalHarness(t, "require_approval", func(c *config.Server) { c.DatabaseURL, c.DatabaseMaxConns = url, 6 })
	runID, _ := mergeToMain(t, a, st, 21, prodChange(21))
	a.waitStage(runID, "prod/awaiting_approval", store.StageWaiting, 3*time.Minute)
	a.stop()

	b := *a
	b.cfg.DataDir = filepath.Join(a.cfg.DataDir, "..", "replica-b") // beside the first: the test's state folder is shared
	b.start(server.Collaborators{})
	var out, errOut bytes.Buffer
	env := cli.Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	if err := cli.Approve(ctx, env, []string{"--server", b.base, "--token", apiToken, "--run", fmt.Sprint(runID),
		"--env", "prod", "--as", "ops", "--reason", "approved on the other replica"}); err != nil {
		t.Fatalf("runner approve: %v\n%s", err, errOut.String())
	}
	run := b.waitRun(runID, 3*time.Minute)
	approved := approvalOf(t, &b, runID, "prod")
	assertAppliedTheShownPlan(t, &b, run, approved, 21)
	if plan := stageMap(run)["prod/plan"]; plan.Attempts != 1 {
		t.Fatalf("prod was planned %d times: the approved plan must be applied, not made again", plan.Attempts)
	}
	log := stageLogText(t, &b, stageMap(run)["prod/awaiting_approval"].ID)
	if !strings.Contains(log, "restored 1 saved plan(s) of prod made by another replica") {
		t.Fatalf("the approval stage does not say the plan came from the other replica:\n%s", log)
	}
}

// stageLogText is a stage's whole log, read through the API.
func stageLogText(t *testing.T, h *harness, stageID int64) string {
	t.Helper()
	resp, err := h.apiGet(fmt.Sprintf("/api/stages/%d/log", stageID))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var log struct{ Lines []store.LogLine }
	if err := json.NewDecoder(resp.Body).Decode(&log); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range log.Lines {
		b.WriteString(l.Line + "\n")
	}
	return b.String()
}

// RDS rotates the store's password while the runner runs (ECS gave the task the old one): the runner
// notices within its check interval, drains like on SIGTERM and stops with ErrCredentialsRejected (the
// process exits 1), so that ECS starts a task that reads the current secret.
func TestPostgresRotatedPasswordStopsTheRunner(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts PostgreSQL")
	}
	ctx := context.Background()
	pg, err := postgres.Start(ctx)
	if errors.Is(err, postgres.ErrUnavailable) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Stop)
	const password = "before-rotation"
	role, url, err := pg.NewPasswordRole(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	h := newRepoHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, func(c *config.Server) {
		c.DatabaseURL, c.DatabaseCredentialCheck = url, 50*time.Millisecond
	})
	h.start(serverCollaborators())
	if ready := h.get("/readyz"); !strings.Contains(ready, `"status": "ready"`) {
		t.Fatalf("/readyz: %s", ready)
	}
	select {
	case err := <-h.done:
		t.Fatalf("the runner stopped while its credentials were valid: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := pg.Exec(ctx, "ALTER ROLE "+role+" PASSWORD 'after-rotation'"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-h.done:
		h.cancel() // stopped on its own: nothing left for the cleanup to stop
		h.cancel = nil
		if !errors.Is(err, store.ErrCredentialsRejected) {
			t.Fatalf("Run: %v, want store.ErrCredentialsRejected", err)
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("the error shows the password: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the runner went on with a rotated password")
	}
}
