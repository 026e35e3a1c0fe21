package pipeline

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
)

// fakeMigrations records each migration and how many applies had run when it started.
type fakeMigrations struct {
	mu    sync.Mutex
	tf    *fakeTerraform
	calls []migrationCall
	err   error
}

type migrationCall struct {
	target, image string
	command       []string
	appliesBefore int
}

func (f *fakeMigrations) Migrate(ctx context.Context, target, image string, command []string, log io.Writer) (string, error) {
	_, applies := f.tf.calls()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, migrationCall{target: target, image: image, command: command, appliesBefore: len(applies)})
	if f.err != nil {
		return "", f.err
	}
	return "migrated (task t1, exit 0, 1s)", nil
}

const migrationTarget = `{"cluster_arn":"arn:aws:ecs:us-east-1:123456789012:cluster/app-dev","task_definition_arn":"td","container_name":"api","subnet_ids":["s"],"security_group_ids":["g"]}`

func TestDeployMigrates(t *testing.T) {
	image := "registry.example.com/backend@sha256:" + strings.Repeat("1", 64)
	tests := []struct {
		name          string
		current       map[string]string // the state's outputs before the apply
		applied       map[string]string // the apply's outputs
		fail          error
		change        string // the file the push changes
		wantCalls     int
		appliesBefore int
		wantRun       string
		wantStage     string // the migrate stage's status; "" = no such stage
		wantApplies   int
	}{
		{name: "before the apply", current: map[string]string{"migration": migrationTarget}, applied: map[string]string{"migration": migrationTarget},
			change: "apps/backend/main.go", wantCalls: 1, appliesBefore: 0, wantRun: store.StatusSucceeded, wantStage: store.StageSucceeded, wantApplies: 1},
		{name: "a failed migration stops the deploy before the apply", current: map[string]string{"migration": migrationTarget},
			fail: errors.New("migration task t1 exited with code 1"), change: "apps/backend/main.go",
			wantCalls: 1, appliesBefore: 0, wantRun: store.StatusFailed, wantStage: store.StageFailed, wantApplies: 0},
		{name: "a first deploy migrates after the apply", applied: map[string]string{"migration": migrationTarget},
			change: "apps/backend/main.go", wantCalls: 1, appliesBefore: 1, wantRun: store.StatusSucceeded, wantStage: store.StageSucceeded, wantApplies: 1},
		{name: "no target even after the apply", change: "apps/backend/main.go",
			wantCalls: 0, wantRun: store.StatusFailed, wantStage: store.StageFailed, wantApplies: 1},
		{name: "backend unchanged: no stage", current: map[string]string{"migration": migrationTarget},
			change: "environments/dev/a.tf", wantCalls: 0, wantRun: store.StatusSucceeded, wantApplies: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, fixture.Options{Environments: []string{"dev"}, Migrate: true}, nil, nil)
			h.tf.current, h.tf.outputs = tt.current, tt.applied
			mig := &fakeMigrations{tf: h.tf, err: tt.fail}
			h.with(func(d *Deps) { d.Migrations = mig })
			initial, err := h.repo.Head()
			if err != nil {
				t.Fatal(err)
			}
			content := "package main // v2\n"
			if strings.HasSuffix(tt.change, ".tf") {
				content = tfFile("a")
			}
			sha := h.commit("main", map[string]string{tt.change: content})
			id := h.push(sha, initial)
			if err := h.e.Execute(ctx, id); err != nil && tt.wantRun == store.StatusSucceeded {
				t.Fatal(err)
			}
			r := h.run(id)
			if r.Status != tt.wantRun {
				t.Errorf("run %s (%s), want %s", r.Status, r.Error, tt.wantRun)
			}
			if len(mig.calls) != tt.wantCalls {
				t.Fatalf("%d migrations, want %d", len(mig.calls), tt.wantCalls)
			}
			if tt.wantCalls > 0 {
				c := mig.calls[0]
				if c.target != migrationTarget || c.image != image || !slices.Equal(c.command, []string{"migrate"}) || c.appliesBefore != tt.appliesBefore {
					t.Errorf("migration %+v, want the target, image %s, [migrate], after %d applies", c, image, tt.appliesBefore)
				}
			}
			if _, applies := h.tf.calls(); len(applies) != tt.wantApplies {
				t.Errorf("applies %v, want %d", applies, tt.wantApplies)
			}
			var got *store.Stage
			for _, s := range r.Stages {
				if s.Env == "dev" && s.Name == StageMigrate {
					got = &s
				}
			}
			switch {
			case tt.wantStage == "" && got != nil:
				t.Errorf("a migrate stage (%s %q) where none was wanted", got.Status, got.Detail)
			case tt.wantStage != "" && got == nil:
				t.Errorf("no migrate stage")
			case got != nil && got.Status != tt.wantStage:
				t.Errorf("migrate stage %s %q, want %s", got.Status, got.Detail, tt.wantStage)
			}
			if tt.wantRun == store.StatusFailed && h.rollout.waits != 0 {
				t.Errorf("the ECS service was waited for after a failed migration")
			}
		})
	}
}
