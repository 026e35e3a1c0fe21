// Package rollout waits for deployments to land on AWS: an Auto Scaling instance refresh for the frontend
// instances, and ECS service stability for the backend, reporting progress and AWS's own failure reasons.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

// ErrTimeout is matched (errors.Is) by every rollout error that means "gave up waiting".
var ErrTimeout = errors.New("timed out")

// AutoScalingAPI is the part of the Auto Scaling API a Refresher uses.
type AutoScalingAPI interface {
	DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	StartInstanceRefresh(context.Context, *autoscaling.StartInstanceRefreshInput, ...func(*autoscaling.Options)) (*autoscaling.StartInstanceRefreshOutput, error)
	DescribeInstanceRefreshes(context.Context, *autoscaling.DescribeInstanceRefreshesInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeInstanceRefreshesOutput, error)
	CancelInstanceRefresh(context.Context, *autoscaling.CancelInstanceRefreshInput, ...func(*autoscaling.Options)) (*autoscaling.CancelInstanceRefreshOutput, error)
}

var _ AutoScalingAPI = (*autoscaling.Client)(nil)

// InProgressPolicy says what to do when the group already has an instance refresh running.
type InProgressPolicy string

const (
	// WaitInProgress waits for the running refresh to end, then starts ours.
	WaitInProgress InProgressPolicy = "wait"
	// CancelInProgress cancels the running refresh, waits for it to stop, then starts ours.
	CancelInProgress InProgressPolicy = "cancel"
)

// Refresh statuses as AWS reports them, plus StatusTimedOut for a refresh we stopped waiting for.
const (
	StatusSuccessful         = string(types.InstanceRefreshStatusSuccessful)
	StatusFailed             = string(types.InstanceRefreshStatusFailed)
	StatusCancelled          = string(types.InstanceRefreshStatusCancelled)
	StatusRollbackSuccessful = string(types.InstanceRefreshStatusRollbackSuccessful)
	StatusRollbackFailed     = string(types.InstanceRefreshStatusRollbackFailed)
	StatusTimedOut           = "TimedOut"
)

// Defaults applied to zero Preferences fields.
const (
	DefaultMinHealthyPercentage = 90
	DefaultPollMin              = 5 * time.Second
	DefaultPollMax              = 30 * time.Second
	DefaultTimeout              = time.Hour
	DefaultCancelTimeout        = 30 * time.Second
)

// Preferences configure an instance refresh and how it is waited for. Zero values take the defaults above.
type Preferences struct {
	// MinHealthyPercentage is the share of capacity kept in service (AWS default 90; 100 = one at a time;
	// 0 = all at once). Nil means the default.
	MinHealthyPercentage *int
	// InstanceWarmup overrides the group's default warmup; zero leaves it to the group. Sent in whole seconds.
	InstanceWarmup time.Duration
	// SkipMatching skips instances that already run the desired configuration.
	SkipMatching bool
	// AutoRollback asks AWS to roll back a failed refresh. It is turned off (with a log line) when the group's
	// launch template version is not explicit, since AWS refuses it then.
	AutoRollback bool
	// InProgress says what to do about a refresh that is already running; empty means WaitInProgress.
	InProgress InProgressPolicy
	// PollMin and PollMax bound the delay between DescribeInstanceRefreshes calls; it doubles from min to max.
	PollMin, PollMax time.Duration
	// Timeout bounds the whole Refresh, including waiting for a refresh already in progress.
	Timeout time.Duration
}

// withDefaults fills zero fields.
func (p Preferences) withDefaults() Preferences {
	if p.MinHealthyPercentage == nil {
		p.MinHealthyPercentage = aws.Int(DefaultMinHealthyPercentage)
	}
	if p.InProgress == "" {
		p.InProgress = WaitInProgress
	}
	if p.PollMin == 0 {
		p.PollMin = DefaultPollMin
	}
	if p.PollMax == 0 {
		p.PollMax = max(DefaultPollMax, p.PollMin)
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultTimeout
	}
	return p
}

// Validate reports the first preference AWS or the poll loop would refuse.
func (p Preferences) Validate() error {
	p = p.withDefaults()
	switch {
	case *p.MinHealthyPercentage < 0 || *p.MinHealthyPercentage > 100:
		return fmt.Errorf("min healthy percentage %d: want 0-100", *p.MinHealthyPercentage)
	case p.InstanceWarmup < 0 || p.InstanceWarmup.Seconds() > math.MaxInt32:
		return fmt.Errorf("instance warmup %s out of range", p.InstanceWarmup)
	case p.InProgress != WaitInProgress && p.InProgress != CancelInProgress:
		return fmt.Errorf("in-progress policy %q: want %q or %q", p.InProgress, WaitInProgress, CancelInProgress)
	case p.PollMin < 0 || p.PollMax < p.PollMin:
		return fmt.Errorf("poll delays %s..%s: want 0 < min <= max", p.PollMin, p.PollMax)
	case p.Timeout < 0:
		return fmt.Errorf("timeout %s is negative", p.Timeout)
	}
	return nil
}

// Option adjusts a Refresher.
type Option func(*Refresher)

// WithCancelTimeout bounds the CancelInstanceRefresh call made after ctx is cancelled or the timeout hits.
func WithCancelTimeout(d time.Duration) Option {
	return func(r *Refresher) { r.cancelTimeout = d }
}

// Refresher starts an instance refresh on an Auto Scaling group and follows it to the end.
// It holds no per-run state, so one Refresher may serve concurrent Refresh calls on different groups.
type Refresher struct {
	client        AutoScalingAPI
	prefs         Preferences
	cancelTimeout time.Duration
}

// NewRefresher validates prefs and returns a Refresher using client (an *autoscaling.Client in production).
func NewRefresher(client AutoScalingAPI, prefs Preferences, opts ...Option) (*Refresher, error) {
	if err := prefs.Validate(); err != nil {
		return nil, fmt.Errorf("instance refresh preferences: %w", err)
	}
	r := &Refresher{client: client, prefs: prefs.withDefaults(), cancelTimeout: DefaultCancelTimeout}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

// Result is where an instance refresh ended.
type Result struct {
	ID     string
	Status string // Successful, Failed, Cancelled, RollbackSuccessful, RollbackFailed or TimedOut
	// Reason is AWS's StatusReason, or why we stopped waiting.
	Reason     string
	Percentage int
}

// RefreshError is an instance refresh that did not end Successful.
type RefreshError struct {
	ASG        string
	ID         string
	Status     string
	Reason     string
	Percentage int
}

func (e *RefreshError) Error() string {
	s := fmt.Sprintf("instance refresh %s on %s ended %s at %d%%", e.ID, e.ASG, e.Status, e.Percentage)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Is makes a timed-out refresh match ErrTimeout.
func (e *RefreshError) Is(target error) bool {
	return target == ErrTimeout && e.Status == StatusTimedOut
}

// Refresh starts an instance refresh on asg and polls it to a terminal state, writing progress lines to log.
// Successful is a nil error; any other end is a *RefreshError carrying AWS's status reason. When ctx is
// cancelled or the timeout hits, our refresh is cancelled on AWS; ctx's error (or a TimedOut RefreshError) is
// returned.
func (r *Refresher) Refresh(ctx context.Context, asg string, log io.Writer) (Result, error) {
	if log == nil {
		log = io.Discard
	}
	runCtx, stop := context.WithTimeout(ctx, r.prefs.Timeout)
	defer stop()

	in, err := r.startInput(runCtx, asg, log)
	if err != nil {
		return r.stopped(ctx, runCtx, asg, Result{}, err)
	}
	id, err := r.start(runCtx, asg, in, log)
	if err != nil {
		return r.stopped(ctx, runCtx, asg, Result{}, err)
	}
	res, err := r.poll(runCtx, asg, id, log)
	if err != nil {
		res.ID = id
		if runCtx.Err() != nil {
			r.cancel(ctx, asg, id, log)
		}
		return r.stopped(ctx, runCtx, asg, res, err)
	}
	if res.Status == StatusSuccessful {
		return res, nil
	}
	return res, &RefreshError{ASG: asg, ID: id, Status: res.Status, Reason: res.Reason, Percentage: res.Percentage}
}

// stopped turns an error that ended Refresh early into what the caller gets: ctx's own error, a TimedOut
// RefreshError when our timeout hit, or err itself.
func (r *Refresher) stopped(ctx, runCtx context.Context, asg string, res Result, err error) (Result, error) {
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("instance refresh on %s: %w", asg, ctx.Err())
	case runCtx.Err() != nil:
		res.Status = StatusTimedOut
		res.Reason = fmt.Sprintf("not finished after %s", r.prefs.Timeout)
		return res, &RefreshError{ASG: asg, ID: res.ID, Status: res.Status, Reason: res.Reason, Percentage: res.Percentage}
	}
	return res, err
}

// startInput builds the StartInstanceRefresh request, deciding whether auto rollback can be asked for.
func (r *Refresher) startInput(ctx context.Context, asg string, log io.Writer) (*autoscaling.StartInstanceRefreshInput, error) {
	p := r.prefs
	prefs := &types.RefreshPreferences{
		MinHealthyPercentage: aws.Int32(int32(*p.MinHealthyPercentage)),
		SkipMatching:         aws.Bool(p.SkipMatching),
		AutoRollback:         aws.Bool(false),
	}
	if p.InstanceWarmup > 0 {
		prefs.InstanceWarmup = aws.Int32(int32(math.Ceil(p.InstanceWarmup.Seconds())))
	}
	in := &autoscaling.StartInstanceRefreshInput{
		AutoScalingGroupName: aws.String(asg),
		Strategy:             types.RefreshStrategyRolling,
		Preferences:          prefs,
	}
	if !p.AutoRollback {
		return in, nil
	}
	lt, why, err := r.explicitLaunchTemplate(ctx, asg)
	if err != nil {
		return nil, err
	}
	if why != "" {
		fmt.Fprintf(log, "auto rollback turned off for %s: %s; AWS rolls back only to an explicit launch template version (not $Latest or $Default)\n", asg, why)
		return in, nil
	}
	prefs.AutoRollback = aws.Bool(true)
	// AWS wants the template by ID or by name, not both.
	spec := &types.LaunchTemplateSpecification{Version: lt.Version}
	if lt.LaunchTemplateId != nil {
		spec.LaunchTemplateId = lt.LaunchTemplateId
	} else {
		spec.LaunchTemplateName = lt.LaunchTemplateName
	}
	in.DesiredConfiguration = &types.DesiredConfiguration{LaunchTemplate: spec}
	return in, nil
}

// explicitLaunchTemplate returns the group's launch template when it names an explicit version, or why not.
func (r *Refresher) explicitLaunchTemplate(ctx context.Context, asg string) (*types.LaunchTemplateSpecification, string, error) {
	out, err := r.client.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{asg}})
	if err != nil {
		return nil, "", fmt.Errorf("describe auto scaling group %s: %w", asg, err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return nil, "", fmt.Errorf("auto scaling group %s not found", asg)
	}
	g := out.AutoScalingGroups[0]
	lt := g.LaunchTemplate
	switch {
	case lt == nil && g.MixedInstancesPolicy != nil:
		return nil, "the group uses a mixed instances policy", nil
	case lt == nil:
		return nil, "the group has no launch template", nil
	}
	v := aws.ToString(lt.Version)
	if _, err := strconv.Atoi(v); err != nil {
		if v == "" {
			v = "$Default"
		}
		return nil, fmt.Sprintf("the group uses launch template %s version %s", ltName(lt), v), nil
	}
	return lt, "", nil
}

func ltName(lt *types.LaunchTemplateSpecification) string {
	if n := aws.ToString(lt.LaunchTemplateName); n != "" {
		return n
	}
	return aws.ToString(lt.LaunchTemplateId)
}
