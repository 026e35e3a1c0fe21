package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

// start starts our refresh, first waiting for or cancelling one already in progress, and returns its ID.
func (r *Refresher) start(ctx context.Context, asg string, in *autoscaling.StartInstanceRefreshInput, log io.Writer) (string, error) {
	for {
		out, err := r.client.StartInstanceRefresh(ctx, in)
		if err == nil {
			id := aws.ToString(out.InstanceRefreshId)
			p := in.Preferences
			fmt.Fprintf(log, "refresh %s: started on %s (min healthy %d%%, skip matching %t, auto rollback %t)\n",
				id, asg, aws.ToInt32(p.MinHealthyPercentage), aws.ToBool(p.SkipMatching), aws.ToBool(p.AutoRollback))
			return id, nil
		}
		var busy *types.InstanceRefreshInProgressFault
		if !errors.As(err, &busy) {
			return "", fmt.Errorf("start instance refresh on %s: %w", asg, err)
		}
		other, err := r.active(ctx, asg)
		if err != nil {
			return "", err
		}
		if other == "" {
			// It ended between our two calls; give AWS a moment before asking again.
			if err := sleep(ctx, r.prefs.PollMin); err != nil {
				return "", err
			}
			continue
		}
		if r.prefs.InProgress == CancelInProgress {
			fmt.Fprintf(log, "refresh %s: already in progress on %s; cancelling it first\n", other, asg)
			_, err := r.client.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{AutoScalingGroupName: aws.String(asg)})
			var gone *types.ActiveInstanceRefreshNotFoundFault
			if err != nil && !errors.As(err, &gone) {
				return "", fmt.Errorf("cancel instance refresh %s on %s: %w", other, asg, err)
			}
		} else {
			fmt.Fprintf(log, "refresh %s: already in progress on %s; waiting for it to finish\n", other, asg)
		}
		res, err := r.poll(ctx, asg, other, log)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(log, "refresh %s: ended %s; starting ours\n", other, res.Status)
	}
}

// active returns the ID of the group's unfinished refresh, or "" when there is none.
func (r *Refresher) active(ctx context.Context, asg string) (string, error) {
	out, err := r.client.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String(asg)})
	if err != nil {
		return "", fmt.Errorf("describe instance refreshes on %s: %w", asg, err)
	}
	for _, ir := range out.InstanceRefreshes {
		if !terminal(string(ir.Status)) {
			return aws.ToString(ir.InstanceRefreshId), nil
		}
	}
	return "", nil
}

// poll describes refresh id until it reaches a terminal state, logging each change of state or progress.
func (r *Refresher) poll(ctx context.Context, asg, id string, log io.Writer) (Result, error) {
	res := Result{ID: id}
	delay := r.prefs.PollMin
	var last string
	for {
		out, err := r.client.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{
			AutoScalingGroupName: aws.String(asg), InstanceRefreshIds: []string{id}})
		if err != nil {
			return res, fmt.Errorf("describe instance refresh %s on %s: %w", id, asg, err)
		}
		if len(out.InstanceRefreshes) == 0 {
			return res, fmt.Errorf("instance refresh %s on %s not found", id, asg)
		}
		ir := out.InstanceRefreshes[0]
		res.Status = string(ir.Status)
		res.Reason = aws.ToString(ir.StatusReason)
		res.Percentage = int(aws.ToInt32(ir.PercentageComplete))
		if line := progressLine(id, ir); line != last {
			fmt.Fprintln(log, line)
			last = line
		}
		if terminal(res.Status) {
			return res, nil
		}
		if err := sleep(ctx, delay); err != nil {
			return res, err
		}
		delay = min(delay*2, r.prefs.PollMax)
	}
}

// progressLine reads like "refresh <id>: InProgress 40% (3 instances to update)".
func progressLine(id string, ir types.InstanceRefresh) string {
	n := aws.ToInt32(ir.InstancesToUpdate)
	noun := "instances"
	if n == 1 {
		noun = "instance"
	}
	line := fmt.Sprintf("refresh %s: %s %d%% (%d %s to update)", id, ir.Status, aws.ToInt32(ir.PercentageComplete), n, noun)
	if reason := aws.ToString(ir.StatusReason); reason != "" {
		line += ": " + reason
	}
	return line
}

// cancel asks AWS to cancel our refresh after ctx ended; it gets a fresh, short context of its own.
func (r *Refresher) cancel(ctx context.Context, asg, id string, log io.Writer) {
	cctx, done := context.WithTimeout(context.WithoutCancel(ctx), r.cancelTimeout)
	defer done()
	if _, err := r.client.CancelInstanceRefresh(cctx, &autoscaling.CancelInstanceRefreshInput{AutoScalingGroupName: aws.String(asg)}); err != nil {
		fmt.Fprintf(log, "refresh %s: cancel failed: %v\n", id, err)
		return
	}
	fmt.Fprintf(log, "refresh %s: cancelled on %s because the run stopped waiting\n", id, asg)
}

func terminal(status string) bool {
	switch status {
	case StatusSuccessful, StatusFailed, StatusCancelled, StatusRollbackSuccessful, StatusRollbackFailed:
		return true
	}
	return false
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
