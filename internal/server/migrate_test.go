//go:build e2e

package server_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fakeaws"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
)

// The backend's migrations run as a one-off ECS task with the image being deployed: on a first deploy
// right after the apply that creates the database, then before the apply that rolls the service; a failed
// migration stops the deploy with the service untouched.
func TestMigrationRunsBeforeTheRollout(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds images and runs Terraform")
	}
	h, st := newStackHarness(t, fixture.Options{Environments: []string{"dev"}, Migrate: true})
	backendV := func(v string) map[string]string {
		return map[string]string{"apps/backend/main.go": "package main\n\nfunc main() { println(\"" + v + "\") }\n"}
	}
	deploy := func(files map[string]string) store.Run {
		t.Helper()
		before, _ := h.repo.Head()
		if err := h.repo.WriteFiles(files); err != nil {
			t.Fatal(err)
		}
		sha, err := h.repo.Commit("backend change")
		if err != nil {
			t.Fatal(err)
		}
		if err := h.repo.Push("main"); err != nil {
			t.Fatal(err)
		}
		return h.waitRun(h.accept("push", h.pushPayload(before, sha)), 5*time.Minute)
	}

	// First deploy: no migration output before the apply; the migration runs after it.
	run := deploy(backendV("v2"))
	if run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("first deploy %s: %s", run.Status, run.Error)
	}
	stages := stageMap(run)
	ref := stages["image:backend"].Output["ref"]
	mig, apply := stages["dev/migrate"], stages["dev/apply"]
	if mig.Status != store.StageSucceeded || !mig.Started.After(apply.Finished) {
		t.Fatalf("first deploy: migrate %s %q started %v, apply finished %v: want it after the apply", mig.Status, mig.Detail, mig.Started, apply.Finished)
	}
	tasks := st.ECS.TasksStarted()
	if len(tasks) != 1 || tasks[0].Images["api"] != ref || !slices.Equal(tasks[0].Command["api"], []string{"migrate"}) ||
		tasks[0].Cluster != "dev-cluster" || !slices.Equal(tasks[0].SecurityGroups, []string{"sg-dev-api"}) || tasks[0].PublicIP != "DISABLED" {
		t.Fatalf("migration tasks %+v, want one of %s running [migrate] in the service's network", tasks, ref)
	}
	log := h.stageLogText(mig.ID)
	for _, want := range []string{"migrating after the apply", "registered dev-api-migrate:", "CloudWatch Logs /ecs/dev/api/api/", "exited 0"} {
		if !strings.Contains(log, want) {
			t.Errorf("migrate log lacks %q:\n%s", want, log)
		}
	}

	// Second deploy: the state names the target, so the migration runs before the apply; it fails.
	st.ECS.ScriptTasks(fakeaws.TaskOutcome{ExitCode: 1, Steps: 2, Reason: "Essential container in task exited"})
	run = deploy(backendV("v3"))
	if run.Status != store.StatusFailed {
		dumpRun(t, run)
		t.Fatalf("deploy with a failing migration %s, want failed", run.Status)
	}
	stages = stageMap(run)
	if s := stages["dev/migrate"]; s.Status != store.StageFailed || !strings.Contains(s.Detail, "exited with code 1") {
		t.Fatalf("migrate stage %s %q, want failed with the exit code", s.Status, s.Detail)
	}
	for _, name := range []string{"dev/apply", "dev/ecs", "dev/refresh"} {
		if s := stages[name]; s.Status == store.StageSucceeded || s.Status == store.StageRunning {
			t.Errorf("%s %s after a failed migration: the deploy must stop before the apply", name, s.Status)
		}
	}
	if n := len(st.ECS.TasksStarted()); n != 2 {
		t.Errorf("%d migration tasks, want 2", n)
	}
	if active := st.ECS.ActiveTaskDefinitions(); len(active) != 3 { // dev, staging, prod services' revision 1
		t.Errorf("active task definitions %v: the migrations' revisions must be deregistered", active)
	}
	state := mustRead(t, filepath.Join(h.cfg.DataDir, "..", "state"), "dev.tfstate")
	if !strings.Contains(state, ref) {
		t.Errorf("the state no longer holds the first deploy's image %s: the failed deploy applied", ref)
	}
}
