//go:build e2e

package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/server"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
)

// A signed pull_request and then the signed push of its merge, end to end
// through `runner serve`: the runs record the exact SHAs, the changed files, the
// environments affected (two of them only through a nested module) and stages.
func TestPullRequestThenMerge(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs Terraform")
	}
	h := newHarness(t, fixture.Options{}, server.Collaborators{}, nil)
	base, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.repo.Branch("widen-network"); err != nil {
		t.Fatal(err)
	}
	if err := h.repo.WriteFiles(map[string]string{"terraform/modules/network/main.tf": fixture.NetworkModuleV2}); err != nil {
		t.Fatal(err)
	}
	head, err := h.repo.Commit("Widen the network")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.repo.Push("widen-network"); err != nil {
		t.Fatal(err)
	}

	prRun := h.waitRun(h.accept("pull_request", h.prPayload("opened", 7, head, base, "widen-network")), 3*time.Minute)
	if prRun.Status != store.StatusSucceeded {
		dumpRun(t, prRun)
		t.Fatalf("PR run status %s: %s", prRun.Status, prRun.Error)
	}
	if prRun.Event.SHA != head || prRun.Event.PR != 7 {
		t.Fatalf("PR run event = %+v, want sha %s pr 7", prRun.Event, head)
	}
	if want := []string{"terraform/modules/network/main.tf"}; !reflect.DeepEqual(prRun.Changed, want) {
		t.Fatalf("changed files = %v, want %v", prRun.Changed, want)
	}
	if want := []string{"dev", "staging", "prod"}; !reflect.DeepEqual(prRun.Environments, want) {
		t.Fatalf("environments = %v, want %v (staging and prod reach network only through platform)", prRun.Environments, want)
	}
	st := stageMap(prRun)
	for _, k := range []string{"checkout", "dev/plan", "staging/plan", "prod/plan"} {
		if st[k].Status != store.StageSucceeded {
			dumpRun(t, prRun)
			t.Fatalf("stage %s = %s", k, st[k].Status)
		}
	}
	if len(prRun.Stages) != 4 {
		t.Fatalf("PR run has %d stages, want 4", len(prRun.Stages))
	}

	// Merge and push main.
	if err := h.repo.Checkout("main"); err != nil {
		t.Fatal(err)
	}
	merge, err := h.repo.Merge("widen-network", "Merge pull request #7")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.repo.Push("main"); err != nil {
		t.Fatal(err)
	}
	deploy := h.waitRun(h.accept("push", h.pushPayload(base, merge)), 4*time.Minute)
	if deploy.Status != store.StatusSucceeded {
		dumpRun(t, deploy)
		t.Fatalf("deploy status %s: %s", deploy.Status, deploy.Error)
	}
	if deploy.Event.SHA != merge {
		t.Fatalf("deploy sha = %s, want %s", deploy.Event.SHA, merge)
	}
	if want := []string{"dev", "staging", "prod"}; !reflect.DeepEqual(deploy.Environments, want) {
		t.Fatalf("deployed environments = %v, want %v", deploy.Environments, want)
	}
	st = stageMap(deploy)
	for _, env := range []string{"dev", "staging", "prod"} {
		if st[env+"/apply"].Status != store.StageSucceeded {
			dumpRun(t, deploy)
			t.Fatalf("%s apply = %s", env, st[env+"/apply"].Status)
		}
		// No app changed: the fleets are left alone, and say so.
		if st[env+"/ecs"].Status != store.StageSkipped || st[env+"/refresh"].Status != store.StageSkipped {
			t.Fatalf("%s fleet stages = %s/%s, want skipped", env, st[env+"/ecs"].Status, st[env+"/refresh"].Status)
		}
	}
	for _, id := range []int64{prRun.ID, deploy.ID} {
		if _, err := os.Stat(filepath.Join(h.cfg.DataDir, "runs", fmt.Sprintf("run-%d", id))); !os.IsNotExist(err) {
			t.Fatalf("run %d's work tree is still on disk (%v)", id, err)
		}
	}
	h.assertNoSecretInLogs(prRun, gitToken, testSecret)
	h.assertNoSecretInLogs(deploy, gitToken, testSecret)
	// Applies ran in order.
	if !st["dev/apply"].Finished.Before(st["staging/apply"].Started) || !st["staging/apply"].Finished.Before(st["prod/apply"].Started) {
		t.Fatalf("applies overlapped or ran out of order: %+v", deploy.Stages)
	}
}
