package rollout

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// ECS rollout states as DescribeServices reports them.
const (
	RolloutInProgress = string(ecstypes.DeploymentRolloutStateInProgress)
	RolloutCompleted  = string(ecstypes.DeploymentRolloutStateCompleted)
	RolloutFailed     = string(ecstypes.DeploymentRolloutStateFailed)
)

// Default delays between DescribeServices calls: the SDK's ServicesStable waiter defaults.
const (
	DefaultServiceMinDelay = 15 * time.Second
	DefaultServiceMaxDelay = 120 * time.Second
)

// ServiceResult is the state an ECS service's rollout ended in.
type ServiceResult struct {
	Cluster, Service string
	// DeploymentID, TaskDefinition, RolloutState and Reason describe the deployment that decided the outcome:
	// the PRIMARY one, or the one that failed.
	DeploymentID   string
	TaskDefinition string
	RolloutState   string
	Reason         string
	FailedTasks    int
	// Running and Desired are the service's task counts.
	Running, Desired int
}

// DeploymentError is an ECS deployment that failed (its circuit breaker tripped) or was replaced before it
// completed (ECS rolled it back).
type DeploymentError struct {
	Cluster, Service string
	DeploymentID     string
	RolloutState     string
	Reason           string
}

func (e *DeploymentError) Error() string {
	return fmt.Sprintf("ecs deployment %s of %s/%s %s: %s", e.DeploymentID, e.Cluster, e.Service, e.RolloutState, e.Reason)
}

// WaitOption adjusts WaitServiceStable.
type WaitOption func(*waitConfig)

type waitConfig struct{ minDelay, maxDelay time.Duration }

// PollDelays sets the delay between DescribeServices calls: it grows from min to max, with the SDK waiter's jitter.
func PollDelays(min, max time.Duration) WaitOption {
	return func(c *waitConfig) { c.minDelay, c.maxDelay = min, max }
}

// WaitServiceStable waits, at most timeout, until the service is stable in the SDK's ServicesStable sense (one
// deployment, running == desired) and its PRIMARY deployment's rolloutState is no longer IN_PROGRESS, logging
// each deployment's running/desired counts on every poll. A deployment that ends FAILED (the circuit breaker)
// or is replaced by a rollback is a *DeploymentError with ECS's reason, even when the service settled on the old
// deployment. Giving up matches ErrTimeout.
func WaitServiceStable(ctx context.Context, client ecs.DescribeServicesAPIClient, cluster, service string,
	timeout time.Duration, log io.Writer, opts ...WaitOption) (ServiceResult, error) {
	if log == nil {
		log = io.Discard
	}
	cfg := waitConfig{minDelay: DefaultServiceMinDelay, maxDelay: DefaultServiceMaxDelay}
	for _, o := range opts {
		o(&cfg)
	}
	if timeout <= 0 {
		return ServiceResult{}, fmt.Errorf("wait for ecs service %s/%s: timeout %s must be positive", cluster, service, timeout)
	}
	w := &serviceWatch{res: ServiceResult{Cluster: cluster, Service: service}, log: log}
	waiter := ecs.NewServicesStableWaiter(client, func(o *ecs.ServicesStableWaiterOptions) {
		o.MinDelay, o.MaxDelay = cfg.minDelay, cfg.maxDelay
		w.stable = o.Retryable
		o.Retryable = w.retryable
	})
	runCtx, stop := context.WithTimeout(ctx, timeout)
	defer stop()
	_, err := waiter.WaitForOutput(runCtx, &ecs.DescribeServicesInput{
		Cluster: aws.String(cluster), Services: []string{service}}, timeout)
	switch {
	case err == nil:
		fmt.Fprintf(log, "ecs %s/%s: deployment %s %s, %d/%d running\n", cluster, service,
			w.res.DeploymentID, w.res.RolloutState, w.res.Running, w.res.Desired)
		return w.res, nil
	case ctx.Err() != nil:
		return w.res, fmt.Errorf("wait for ecs service %s/%s: %w", cluster, service, ctx.Err())
	case err == w.lastErr && runCtx.Err() == nil:
		// Our own verdict (a failed deployment, a missing service, an API error).
		return w.res, err
	}
	// The waiter ran out of time, or a call was cut off by the deadline.
	return w.res, fmt.Errorf("ecs service %s/%s not stable after %s (deployment %s %s, %d/%d running): %w",
		cluster, service, timeout, w.res.DeploymentID, w.res.RolloutState, w.res.Running, w.res.Desired, ErrTimeout)
}

type retryableFunc = func(context.Context, *ecs.DescribeServicesInput, *ecs.DescribeServicesOutput, error) (bool, error)

// serviceWatch follows one service across the waiter's polls. The waiter calls it sequentially.
type serviceWatch struct {
	stable  retryableFunc // the SDK's ServicesStable acceptors
	log     io.Writer
	watched string // the PRIMARY deployment on the first poll: the one we are waiting for
	res     ServiceResult
	lastErr error
}

func (w *serviceWatch) retryable(ctx context.Context, in *ecs.DescribeServicesInput, out *ecs.DescribeServicesOutput, err error) (bool, error) {
	retry, err := w.check(ctx, in, out, err)
	w.lastErr = err
	return retry, err
}

func (w *serviceWatch) check(ctx context.Context, in *ecs.DescribeServicesInput, out *ecs.DescribeServicesOutput, err error) (bool, error) {
	name := fmt.Sprintf("%s/%s", w.res.Cluster, w.res.Service)
	if err != nil {
		return false, fmt.Errorf("describe ecs service %s: %w", name, err)
	}
	if len(out.Failures) > 0 {
		return false, fmt.Errorf("describe ecs service %s: %s", name, aws.ToString(out.Failures[0].Reason))
	}
	if len(out.Services) == 0 {
		return false, fmt.Errorf("describe ecs service %s: not in the response", name)
	}
	svc := out.Services[0]
	if st := aws.ToString(svc.Status); st != "ACTIVE" {
		return false, fmt.Errorf("ecs service %s is %s", name, st)
	}
	fmt.Fprintf(w.log, "ecs %s: %s\n", name, deploymentsLine(svc.Deployments))
	w.res.Running, w.res.Desired = int(svc.RunningCount), int(svc.DesiredCount)

	var primary *ecstypes.Deployment
	for i, d := range svc.Deployments {
		if aws.ToString(d.Status) == "PRIMARY" && primary == nil {
			primary = &svc.Deployments[i]
		}
	}
	if primary != nil && w.watched == "" {
		w.watched = aws.ToString(primary.Id)
	}
	for _, d := range svc.Deployments {
		reason := aws.ToString(d.RolloutStateReason)
		if d.RolloutState == ecstypes.DeploymentRolloutStateFailed &&
			(aws.ToString(d.Id) == w.watched || strings.Contains(strings.ToLower(reason), "circuit breaker")) {
			w.record(d)
			return false, &DeploymentError{Cluster: w.res.Cluster, Service: w.res.Service,
				DeploymentID: aws.ToString(d.Id), RolloutState: RolloutFailed, Reason: reason}
		}
	}
	if primary != nil {
		w.record(*primary)
	}

	retry, err := w.stable(ctx, in, out, nil)
	if err != nil || retry || primary == nil {
		return retry || primary == nil, err
	}
	if id := aws.ToString(primary.Id); id != w.watched {
		return false, &DeploymentError{Cluster: w.res.Cluster, Service: w.res.Service, DeploymentID: w.watched,
			RolloutState: "REPLACED", Reason: fmt.Sprintf("deployment %s (task definition %s) took its place; it was rolled back",
				id, shortTaskDef(aws.ToString(primary.TaskDefinition)))}
	}
	// Stable by count, but ECS has not yet called the rollout done: its circuit breaker may still trip.
	return primary.RolloutState == ecstypes.DeploymentRolloutStateInProgress, nil
}

func (w *serviceWatch) record(d ecstypes.Deployment) {
	w.res.DeploymentID = aws.ToString(d.Id)
	w.res.TaskDefinition = aws.ToString(d.TaskDefinition)
	w.res.RolloutState = string(d.RolloutState)
	w.res.Reason = aws.ToString(d.RolloutStateReason)
	w.res.FailedTasks = int(d.FailedTasks)
}

// deploymentsLine reads like "PRIMARY ecs-svc/1 api:2 IN_PROGRESS 2/4 running, 1 failed; ACTIVE ecs-svc/0 api:1 COMPLETED 2/2 running".
func deploymentsLine(ds []ecstypes.Deployment) string {
	parts := make([]string, 0, len(ds))
	for _, d := range ds {
		p := fmt.Sprintf("%s %s %s %s %d/%d running", aws.ToString(d.Status), aws.ToString(d.Id),
			shortTaskDef(aws.ToString(d.TaskDefinition)), d.RolloutState, d.RunningCount, d.DesiredCount)
		if d.FailedTasks > 0 {
			p += fmt.Sprintf(", %d failed", d.FailedTasks)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// shortTaskDef turns a task definition ARN into family:revision.
func shortTaskDef(arn string) string {
	if i := strings.LastIndexByte(arn, '/'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}
