package drift

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
)

type fakeStore struct {
	deps   []store.Deployment
	checks map[string]store.DriftCheck
}

func (f *fakeStore) Deployed(context.Context) ([]store.Deployment, error) { return f.deps, nil }
func (f *fakeStore) LastDriftCheck(_ context.Context, repo, env string) (store.DriftCheck, error) {
	c, ok := f.checks[repo+"/"+env]
	if !ok {
		return store.DriftCheck{}, fmt.Errorf("last drift check: %w", store.ErrNotFound)
	}
	return c, nil
}
func (f *fakeStore) Run(_ context.Context, id int64, _ int) (store.Run, error) {
	return store.Run{ID: id, Event: event.Event{CloneURL: "https://github.com/acme/infra.git", Ref: "refs/heads/main", DefaultBranch: "main"}}, nil
}

type fakeRuns struct {
	seen   map[string]bool
	events []event.Event
}

func (f *fakeRuns) Accept(_ context.Context, ev event.Event) (event.Receipt, error) {
	if f.seen[ev.DeliveryID] {
		return event.Receipt{Run: 1, Duplicate: true}, nil
	}
	f.seen[ev.DeliveryID] = true
	f.events = append(f.events, ev)
	return event.Receipt{Run: int64(len(f.events))}, nil
}

type schedules map[string]string

func (s schedules) DriftSchedule(repo, env string) cron.Schedule {
	spec, ok := s[repo+"/"+env]
	if !ok {
		return nil
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		panic(err)
	}
	return sched
}

func TestSchedulerStartsDueChecksOncePerSlot(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 15, 0, 0, time.UTC)
	st := &fakeStore{checks: map[string]store.DriftCheck{}, deps: []store.Deployment{
		{Repo: "acme/infra", Env: "dev", SHA: "d1", RunID: 7, At: t0},
		{Repo: "acme/infra", Env: "prod", SHA: "p1", RunID: 8, At: t0}, // no schedule
	}}
	runs := &fakeRuns{seen: map[string]bool{}}
	now := t0
	s := &Scheduler{Store: st, Runs: runs, Schedules: schedules{"acme/infra/dev": "@hourly"}, Now: func() time.Time { return now }}
	tick := func(at time.Time) {
		t.Helper()
		now = at
		if err := s.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	tick(t0.Add(30 * time.Minute)) // 10:45: the first slot (11:00) has not come
	if len(runs.events) != 0 {
		t.Fatalf("started %v before the slot", runs.events)
	}
	tick(t0.Add(46 * time.Minute)) // 11:01
	tick(t0.Add(47 * time.Minute)) // 11:02: the check has not recorded yet; the same slot is not started again
	if len(runs.events) != 1 {
		t.Fatalf("started %d checks, want 1", len(runs.events))
	}
	ev := runs.events[0]
	if ev.Kind != event.KindDrift || ev.SHA != "d1" || !slices.Equal(ev.Envs, []string{"dev"}) || ev.CloneURL == "" ||
		ev.DeliveryID != fmt.Sprintf("drift:acme/infra:dev:%d", time.Date(2026, 12, 6, 11, 0, 0, 0, time.UTC).Unix()) {
		t.Errorf("event %+v", ev)
	}
	st.checks["acme/infra/dev"] = store.DriftCheck{Repo: "acme/infra", Env: "dev", At: t0.Add(50 * time.Minute)} // 11:05
	tick(t0.Add(55 * time.Minute))                                                                               // 11:10: next slot 12:00
	if len(runs.events) != 1 {
		t.Fatalf("started again before the next slot")
	}
	tick(t0.Add(106 * time.Minute)) // 12:01
	if len(runs.events) != 2 {
		t.Fatalf("did not start at the next slot")
	}
}
