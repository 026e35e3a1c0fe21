package server

import (
	"github.com/robfig/cron/v3"

	"github.com/gitops-runner/runner/internal/policy"
)

// driftSchedules reads the drift_check schedules of the server policy.
type driftSchedules struct{ p *policy.Policy }

func (d driftSchedules) DriftSchedule(repo, env string) cron.Schedule {
	return d.p.For(repo).DriftSchedule(env)
}
