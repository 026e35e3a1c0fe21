package fakeaws_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/smithy-go"

	"github.com/gitops-runner/runner/internal/testenv/fakeaws"
)

func startAutoScaling(t *testing.T) (*fakeaws.AutoScaling, *autoscaling.Client) {
	t.Helper()
	f := fakeaws.StartAutoScaling()
	t.Cleanup(f.Close)
	f.AddGroup(fakeaws.Group{Name: "web", LaunchTemplateName: "web-lt", LaunchTemplateVersion: "7", Instances: 4})
	f.AddGroup(fakeaws.Group{Name: "latest", LaunchTemplateName: "latest-lt", LaunchTemplateVersion: "$Latest", Instances: 2})
	return f, f.Client()
}

// statuses describes a refresh until it ends and returns every status seen.
func statuses(t *testing.T, c *autoscaling.Client, asg, id string) []types.InstanceRefresh {
	t.Helper()
	var seen []types.InstanceRefresh
	for range 20 {
		out, err := c.DescribeInstanceRefreshes(context.Background(), &autoscaling.DescribeInstanceRefreshesInput{
			AutoScalingGroupName: aws.String(asg), InstanceRefreshIds: []string{id}})
		if err != nil {
			t.Fatalf("DescribeInstanceRefreshes: %v", err)
		}
		if len(out.InstanceRefreshes) != 1 {
			t.Fatalf("got %d refreshes, want 1", len(out.InstanceRefreshes))
		}
		r := out.InstanceRefreshes[0]
		seen = append(seen, r)
		switch r.Status {
		case types.InstanceRefreshStatusSuccessful, types.InstanceRefreshStatusFailed, types.InstanceRefreshStatusCancelled,
			types.InstanceRefreshStatusRollbackSuccessful, types.InstanceRefreshStatusRollbackFailed:
			return seen
		}
	}
	t.Fatalf("refresh %s did not end: %v", id, seen)
	return nil
}

func TestInstanceRefreshProgressesToScriptedOutcome(t *testing.T) {
	tests := []struct {
		name         string
		outcome      fakeaws.Outcome
		autoRollback bool
		want         []types.InstanceRefreshStatus
		wantReason   string
	}{
		{"success", fakeaws.Succeed, false, []types.InstanceRefreshStatus{"Pending", "InProgress", "InProgress", "Successful"}, ""},
		{"failure", fakeaws.Fail, false, []types.InstanceRefreshStatus{"Pending", "InProgress", "InProgress", "Failed"}, "boom"},
		{"rollback", fakeaws.RollBack, true, []types.InstanceRefreshStatus{"Pending", "InProgress", "InProgress", "RollbackInProgress", "RollbackSuccessful"}, "boom"},
		{"rollback without AutoRollback fails", fakeaws.RollBack, false, []types.InstanceRefreshStatus{"Pending", "InProgress", "InProgress", "Failed"}, "boom"},
		{"rollback failing", fakeaws.RollbackFail, true, []types.InstanceRefreshStatus{"Pending", "InProgress", "InProgress", "RollbackInProgress", "RollbackFailed"}, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, c := startAutoScaling(t)
			reason := tt.wantReason
			f.ScriptNextRefresh(tt.outcome, 2, reason)
			in := &autoscaling.StartInstanceRefreshInput{
				AutoScalingGroupName: aws.String("web"),
				Preferences: &types.RefreshPreferences{MinHealthyPercentage: aws.Int32(90), InstanceWarmup: aws.Int32(60),
					SkipMatching: aws.Bool(true), AutoRollback: aws.Bool(tt.autoRollback)},
			}
			if tt.autoRollback {
				in.DesiredConfiguration = &types.DesiredConfiguration{LaunchTemplate: &types.LaunchTemplateSpecification{
					LaunchTemplateName: aws.String("web-lt"), Version: aws.String("7")}}
			}
			out, err := c.StartInstanceRefresh(context.Background(), in)
			if err != nil {
				t.Fatalf("StartInstanceRefresh: %v", err)
			}
			seen := statuses(t, c, "web", aws.ToString(out.InstanceRefreshId))
			var got []types.InstanceRefreshStatus
			for _, r := range seen {
				got = append(got, r.Status)
			}
			if !equal(got, tt.want) {
				t.Fatalf("statuses = %v, want %v", got, tt.want)
			}
			last := seen[len(seen)-1]
			if aws.ToString(last.StatusReason) != tt.wantReason {
				t.Errorf("StatusReason = %q, want %q", aws.ToString(last.StatusReason), tt.wantReason)
			}
			if p := aws.ToInt32(seen[1].InstancesToUpdate); p != 4 {
				t.Errorf("first InProgress InstancesToUpdate = %d, want 4", p)
			}
			if p := aws.ToInt32(seen[2].PercentageComplete); p != 50 {
				t.Errorf("second InProgress PercentageComplete = %d, want 50", p)
			}
			rs := f.Refreshes("web")
			if len(rs) != 1 || aws.ToInt32(rs[0].Preferences.MinHealthyPercentage) != 90 ||
				aws.ToInt32(rs[0].Preferences.InstanceWarmup) != 60 || !aws.ToBool(rs[0].Preferences.SkipMatching) {
				t.Errorf("recorded refresh = %+v", rs)
			}
		})
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStartInstanceRefreshErrors(t *testing.T) {
	tests := []struct {
		name     string
		asg      string
		prefs    *types.RefreshPreferences
		version  string
		running  bool
		wantCode string
	}{
		{"already in progress", "web", nil, "", true, "InstanceRefreshInProgress"},
		{"auto rollback without desired configuration", "web", &types.RefreshPreferences{AutoRollback: aws.Bool(true)}, "", false, "ValidationError"},
		{"auto rollback with $Latest", "web", &types.RefreshPreferences{AutoRollback: aws.Bool(true)}, "$Latest", false, "ValidationError"},
		{"auto rollback on a $Latest group", "latest", &types.RefreshPreferences{AutoRollback: aws.Bool(true)}, "3", false, "ValidationError"},
		{"min healthy out of range", "web", &types.RefreshPreferences{MinHealthyPercentage: aws.Int32(101)}, "", false, "ValidationError"},
		{"unknown group", "nope", nil, "", false, "ValidationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, c := startAutoScaling(t)
			ctx := context.Background()
			if tt.running {
				f.ScriptNextRefresh(fakeaws.Hang, 1, "")
				if _, err := c.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String(tt.asg)}); err != nil {
					t.Fatal(err)
				}
			}
			in := &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String(tt.asg), Preferences: tt.prefs}
			if tt.version != "" {
				in.DesiredConfiguration = &types.DesiredConfiguration{LaunchTemplate: &types.LaunchTemplateSpecification{
					LaunchTemplateName: aws.String("web-lt"), Version: aws.String(tt.version)}}
			}
			_, err := c.StartInstanceRefresh(ctx, in)
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.wantCode {
				t.Fatalf("err = %v, want code %s", err, tt.wantCode)
			}
			if tt.wantCode == "InstanceRefreshInProgress" {
				var typed *types.InstanceRefreshInProgressFault
				if !errors.As(err, &typed) {
					t.Errorf("err %T is not *types.InstanceRefreshInProgressFault", err)
				}
			}
		})
	}
}

func TestCancelInstanceRefresh(t *testing.T) {
	f, c := startAutoScaling(t)
	ctx := context.Background()
	_, err := c.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{AutoScalingGroupName: aws.String("web")})
	var notFound *types.ActiveInstanceRefreshNotFoundFault
	if !errors.As(err, &notFound) {
		t.Fatalf("cancel with nothing running: err = %v, want ActiveInstanceRefreshNotFoundFault", err)
	}
	f.ScriptNextRefresh(fakeaws.Hang, 1, "")
	start, err := c.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.CancelInstanceRefresh(ctx, &autoscaling.CancelInstanceRefreshInput{AutoScalingGroupName: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.InstanceRefreshId) != aws.ToString(start.InstanceRefreshId) {
		t.Errorf("cancelled %s, want %s", aws.ToString(out.InstanceRefreshId), aws.ToString(start.InstanceRefreshId))
	}
	seen := statuses(t, c, "web", aws.ToString(start.InstanceRefreshId))
	if got := seen[len(seen)-1].Status; got != types.InstanceRefreshStatusCancelled || seen[0].Status != types.InstanceRefreshStatusCancelling {
		t.Errorf("statuses = %v, want Cancelling then Cancelled", seen)
	}
	if n := f.CallCount("CancelInstanceRefresh"); n != 2 {
		t.Errorf("CancelInstanceRefresh calls = %d, want 2", n)
	}
}

func TestManualAdvance(t *testing.T) {
	f, c := startAutoScaling(t)
	f.AdvanceOnDescribe(false)
	ctx := context.Background()
	if _, err := c.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c.DescribeInstanceRefreshes(ctx, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String("web")}); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.Refreshes("web")[0].Status; got != types.InstanceRefreshStatusPending {
		t.Fatalf("status after describes with manual advance = %s, want Pending", got)
	}
	f.Advance()
	if got := f.Refreshes("web")[0].Status; got != types.InstanceRefreshStatusInProgress {
		t.Fatalf("status after Advance = %s, want InProgress", got)
	}
}

func TestSuccessfulRefreshMovesGroupToDesiredVersion(t *testing.T) {
	f, c := startAutoScaling(t)
	ctx := context.Background()
	f.ScriptNextRefresh(fakeaws.Succeed, 0, "")
	out, err := c.StartInstanceRefresh(ctx, &autoscaling.StartInstanceRefreshInput{
		AutoScalingGroupName: aws.String("web"),
		DesiredConfiguration: &types.DesiredConfiguration{LaunchTemplate: &types.LaunchTemplateSpecification{
			LaunchTemplateName: aws.String("web-lt"), Version: aws.String("8")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	statuses(t, c, "web", aws.ToString(out.InstanceRefreshId))
	groups, err := c.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(groups.AutoScalingGroups) != 1 {
		t.Fatalf("groups = %d, want 1", len(groups.AutoScalingGroups))
	}
	g := groups.AutoScalingGroups[0]
	if aws.ToString(g.LaunchTemplate.LaunchTemplateName) != "web-lt" || aws.ToString(g.LaunchTemplate.Version) != "8" {
		t.Errorf("launch template = %+v, want web-lt version 8", g.LaunchTemplate)
	}
	if len(g.Instances) != 4 || aws.ToString(g.Instances[0].LaunchTemplate.Version) != "8" ||
		aws.ToString(g.Instances[0].HealthStatus) != "Healthy" {
		t.Errorf("instances = %+v", g.Instances)
	}
}
