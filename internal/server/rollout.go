package server

import (
	"context"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/rollout"
)

func newRefresher(c *autoscaling.Client, p config.Refresh, t RolloutTiming) (*rollout.Refresher, error) {
	return rollout.NewRefresher(c, rollout.Preferences{
		MinHealthyPercentage: &p.MinHealthyPercentage, InstanceWarmup: p.InstanceWarmup, SkipMatching: p.SkipMatching,
		AutoRollback: p.AutoRollback, InProgress: rollout.InProgressPolicy(p.InProgress), Timeout: p.Timeout,
		PollMin: t.RefreshPollMin, PollMax: t.RefreshPollMax,
	})
}

func waitService(ctx context.Context, c *ecs.Client, cluster, service string, t RolloutTiming, log io.Writer) (rollout.ServiceResult, error) {
	var opts []rollout.WaitOption
	if t.ServicePollMin > 0 {
		opts = append(opts, rollout.PollDelays(t.ServicePollMin, t.ServicePollMax))
	}
	return rollout.WaitServiceStable(ctx, c, cluster, service, t.ServiceTimeout, log, opts...)
}
