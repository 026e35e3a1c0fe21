// Package drift starts the drift checks that are due: for each environment's newest successful deployment,
// when the server policy gives the environment a drift_check schedule, a check of that commit (a run of
// kind drift, which the pipeline plans read-only with the plan role) once per slot of the schedule.
package drift

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/gitops-runner/runner/internal/action"
	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
)

// Store is what the scheduler reads.
type Store interface {
	Deployed(ctx context.Context) ([]store.Deployment, error)
	LastDriftCheck(ctx context.Context, repo, env string) (store.DriftCheck, error)
	Run(ctx context.Context, id int64, tailLines int) (store.Run, error)
}

// Runs starts runs (the queue).
type Runs interface {
	Accept(ctx context.Context, ev event.Event) (event.Receipt, error)
}

// Schedules says when an environment is checked: nil for never.
type Schedules interface {
	DriftSchedule(repo, env string) cron.Schedule
}

// Scheduler starts due drift checks; its Tick is called every minute by one replica.
type Scheduler struct {
	Store     Store
	Runs      Runs
	Schedules Schedules
	Log       *slog.Logger
	Now       func() time.Time
}

// Tick starts every check that is due. A check is due when the schedule's next time after the last check
// (or after the deployment, before any check) has come. Its delivery id names the slot, so a check still
// queued or running when the next tick comes is not started twice.
func (s *Scheduler) Tick(ctx context.Context) error {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	deps, err := s.Store.Deployed(ctx)
	if err != nil {
		return fmt.Errorf("drift schedule: %w", err)
	}
	var errs []error
	for _, d := range deps {
		sched := s.Schedules.DriftSchedule(d.Repo, d.Env)
		if sched == nil {
			continue
		}
		since := d.At
		if c, err := s.Store.LastDriftCheck(ctx, d.Repo, d.Env); err == nil && c.At.After(since) {
			since = c.At
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		slot := sched.Next(since)
		if now().Before(slot) {
			continue
		}
		from, err := s.Store.Run(ctx, d.RunID, 0)
		if err != nil {
			errs = append(errs, fmt.Errorf("drift check of %s %s: read run %d: %w", d.Repo, d.Env, d.RunID, err))
			continue
		}
		id := fmt.Sprintf("drift:%s:%s:%d", strings.ToLower(d.Repo), d.Env, slot.Unix())
		rec, err := s.Runs.Accept(ctx, action.DriftEvent(id, from, d, "", "the drift schedule"))
		if err != nil {
			errs = append(errs, fmt.Errorf("start the drift check of %s %s: %w", d.Repo, d.Env, err))
			continue
		}
		if !rec.Duplicate && s.Log != nil {
			s.Log.Info("drift check started", "repo", d.Repo, "env", d.Env, "sha", d.SHA, "run", rec.Run, "slot", slot)
		}
	}
	return errors.Join(errs...)
}
