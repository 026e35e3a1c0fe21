package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
)

// recordingObserver keeps what the engine told it.
type recordingObserver struct {
	mu     sync.Mutex
	stages []string // kind stage env outcome
	runs   []string // kind outcome
	locks  []string // env
	drift  []string // env drifted
}

func (o *recordingObserver) StageFinished(kind, stage, env, outcome string, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stages = append(o.stages, strings.Join([]string{kind, stage, env, outcome}, " "))
}

func (o *recordingObserver) RunFinished(kind, outcome string, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.runs = append(o.runs, kind+" "+outcome)
}

func (o *recordingObserver) LockReleased(env string, waited, held time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if waited < 0 || held < 0 {
		panic(fmt.Sprintf("negative lock durations %s %s", waited, held))
	}
	o.locks = append(o.locks, env)
}

func (o *recordingObserver) Drift(repo, env string, drifted bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.drift = append(o.drift, fmt.Sprint(env, " ", drifted))
}

// A deploy tells its observer each stage that ran, the run's end and each environment lock it released.
func TestObserverSeesStagesRunsAndLocks(t *testing.T) {
	ctx := context.Background()
	obs := &recordingObserver{}
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, nil, nil)
	h.deps.Observer = obs
	e, err := New(h.deps, h.opts)
	if err != nil {
		t.Fatal(err)
	}
	initial, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	sha := h.commit("main", map[string]string{"environments/dev/a.tf": tfFile("a")})
	id := h.push(sha, initial)
	if err := e.Execute(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r := h.run(id); r.Status != store.StatusSucceeded {
		t.Fatalf("run %s: %s", r.Status, r.Error)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	for _, want := range []string{"deploy checkout  succeeded", "deploy plan dev succeeded", "deploy apply dev succeeded"} {
		if !slices.Contains(obs.stages, want) {
			t.Errorf("stages observed %q, want among them %q", obs.stages, want)
		}
	}
	if fmt.Sprint(obs.runs) != "[deploy succeeded]" {
		t.Errorf("runs observed %q, want [deploy succeeded]", obs.runs)
	}
	if len(obs.locks) == 0 || slices.ContainsFunc(obs.locks, func(env string) bool { return env != "dev" }) {
		t.Errorf("locks released %q, want dev's", obs.locks)
	}
}
