package rollout_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/gitops-runner/runner/internal/rollout"
	"github.com/gitops-runner/runner/internal/testenv/fakeaws"
)

// syncBuffer is a log that the code under test writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startAutoScaling(t *testing.T) *fakeaws.AutoScaling {
	t.Helper()
	f := fakeaws.StartAutoScaling()
	t.Cleanup(f.Close)
	f.AddGroup(fakeaws.Group{Name: "web", LaunchTemplateName: "web-lt", LaunchTemplateID: "lt-0123456789abcdef0", LaunchTemplateVersion: "7", Instances: 4})
	f.AddGroup(fakeaws.Group{Name: "latest", LaunchTemplateName: "latest-lt", LaunchTemplateVersion: "$Latest", Instances: 2})
	return f
}

// fast makes polling take milliseconds.
func fast(p rollout.Preferences) rollout.Preferences {
	p.PollMin, p.PollMax = time.Millisecond, 4*time.Millisecond
	if p.Timeout == 0 {
		p.Timeout = 20 * time.Second
	}
	return p
}

func newRefresher(t *testing.T, f *fakeaws.AutoScaling, p rollout.Preferences) *rollout.Refresher {
	t.Helper()
	r, err := rollout.NewRefresher(f.Client(), fast(p), rollout.WithCancelTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRefreshOutcomes(t *testing.T) {
	const reason = "Instance i-00000000000000001 failed ELB health checks"
	tests := []struct {
		name       string
		asg        string
		prefs      rollout.Preferences
		outcome    fakeaws.Outcome
		steps      int
		wantStatus string
		wantErr    bool
		wantLog    []string
		// wantRollback is whether StartInstanceRefresh asked for auto rollback with the group's explicit version.
		wantRollback bool
	}{
		{
			name: "success logs progress", asg: "web", outcome: fakeaws.Succeed, steps: 3, wantStatus: "Successful",
			wantLog: []string{
				": Pending 0% (4 instances to update)",
				": InProgress 33% (3 instances to update)",
				": InProgress 66% (2 instances to update)",
				": Successful 100% (0 instances to update)",
			},
		},
		{
			name: "failure carries AWS's reason", asg: "web", outcome: fakeaws.Fail, steps: 2, wantStatus: "Failed", wantErr: true,
			wantLog: []string{": Failed 50% (2 instances to update): " + reason},
		},
		{
			name: "rollback", asg: "web", prefs: rollout.Preferences{AutoRollback: true}, outcome: fakeaws.RollBack, steps: 1,
			wantStatus: "RollbackSuccessful", wantErr: true, wantRollback: true,
			wantLog: []string{": RollbackInProgress 0% (4 instances to update): " + reason, ": RollbackSuccessful 100%"},
		},
		{
			name: "rollback failed", asg: "web", prefs: rollout.Preferences{AutoRollback: true}, outcome: fakeaws.RollbackFail, steps: 1,
			wantStatus: "RollbackFailed", wantErr: true, wantRollback: true,
		},
		{
			name: "auto rollback turned off for $Latest", asg: "latest", prefs: rollout.Preferences{AutoRollback: true},
			outcome: fakeaws.Succeed, steps: 1, wantStatus: "Successful",
			wantLog: []string{"auto rollback turned off for latest: the group uses launch template latest-lt version $Latest"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startAutoScaling(t)
			f.ScriptNextRefresh(tt.outcome, tt.steps, reason)
			var log syncBuffer
			res, err := newRefresher(t, f, tt.prefs).Refresh(context.Background(), tt.asg, &log)
			if res.Status != tt.wantStatus {
				t.Fatalf("status = %q, want %q (err %v)\nlog:\n%s", res.Status, tt.wantStatus, err, log.String())
			}
			var rerr *rollout.RefreshError
			switch {
			case tt.wantErr && !errors.As(err, &rerr):
				t.Fatalf("err = %v, want *RefreshError", err)
			case tt.wantErr && (rerr.Status != tt.wantStatus || rerr.Reason != reason || rerr.ID != res.ID):
				t.Errorf("RefreshError = %+v, want status %s, reason %q, id %s", rerr, tt.wantStatus, reason, res.ID)
			case !tt.wantErr && err != nil:
				t.Fatalf("err = %v, want nil", err)
			}
			for _, want := range tt.wantLog {
				if !strings.Contains(log.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, log.String())
				}
			}
			rs := f.Refreshes(tt.asg)
			if len(rs) != 1 || rs[0].ID != res.ID {
				t.Fatalf("refreshes on the fake = %+v, want the one Refresh started", rs)
			}
			if got := aws.ToBool(rs[0].Preferences.AutoRollback); got != tt.wantRollback {
				t.Errorf("AutoRollback sent = %t, want %t", got, tt.wantRollback)
			}
			if d := rs[0].DesiredConfiguration; tt.wantRollback &&
				(d == nil || aws.ToString(d.Version) != "7" || aws.ToString(d.LaunchTemplateId) != "lt-0123456789abcdef0" || d.LaunchTemplateName != nil) {
				t.Errorf("DesiredConfiguration = %+v, want lt-0123456789abcdef0 version 7 by ID only", d)
			}
		})
	}
}

func TestRefreshSendsPreferences(t *testing.T) {
	tests := []struct {
		name        string
		prefs       rollout.Preferences
		wantHealthy int32
		wantWarmup  *int32
		wantSkip    bool
	}{
		{"defaults", rollout.Preferences{}, 90, nil, false},
		{"explicit", rollout.Preferences{MinHealthyPercentage: aws.Int(100), InstanceWarmup: 90 * time.Second, SkipMatching: true}, 100, aws.Int32(90), true},
		{"zero replaces all at once", rollout.Preferences{MinHealthyPercentage: aws.Int(0)}, 0, nil, false},
		{"warmup rounds up to whole seconds", rollout.Preferences{InstanceWarmup: 1500 * time.Millisecond}, 90, aws.Int32(2), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startAutoScaling(t)
			f.ScriptNextRefresh(fakeaws.Succeed, 0, "")
			if _, err := newRefresher(t, f, tt.prefs).Refresh(context.Background(), "web", nil); err != nil {
				t.Fatal(err)
			}
			p := f.Refreshes("web")[0].Preferences
			if aws.ToInt32(p.MinHealthyPercentage) != tt.wantHealthy || aws.ToBool(p.SkipMatching) != tt.wantSkip ||
				aws.ToInt32(p.InstanceWarmup) != aws.ToInt32(tt.wantWarmup) || (p.InstanceWarmup == nil) != (tt.wantWarmup == nil) {
				t.Errorf("preferences sent = healthy %d warmup %v skip %t, want %d %v %t", aws.ToInt32(p.MinHealthyPercentage),
					p.InstanceWarmup, aws.ToBool(p.SkipMatching), tt.wantHealthy, tt.wantWarmup, tt.wantSkip)
			}
		})
	}
}

func TestRefreshAlreadyInProgress(t *testing.T) {
	tests := []struct {
		name        string
		policy      rollout.InProgressPolicy
		other       fakeaws.Outcome
		wantOther   types.InstanceRefreshStatus
		wantCancels int
		wantLog     string
	}{
		{"wait", rollout.WaitInProgress, fakeaws.Succeed, types.InstanceRefreshStatusSuccessful, 0, "already in progress on web; waiting for it to finish"},
		{"cancel", rollout.CancelInProgress, fakeaws.Hang, types.InstanceRefreshStatusCancelled, 1, "already in progress on web; cancelling it first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startAutoScaling(t)
			f.ScriptNextRefresh(tt.other, 2, "")
			other, err := f.Client().StartInstanceRefresh(context.Background(), &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String("web")})
			if err != nil {
				t.Fatal(err)
			}
			f.ScriptNextRefresh(fakeaws.Succeed, 1, "")
			var log syncBuffer
			res, err := newRefresher(t, f, rollout.Preferences{InProgress: tt.policy}).Refresh(context.Background(), "web", &log)
			if err != nil {
				t.Fatalf("Refresh: %v\nlog:\n%s", err, log.String())
			}
			rs := f.Refreshes("web")
			if len(rs) != 2 || rs[0].ID != aws.ToString(other.InstanceRefreshId) || rs[1].ID != res.ID {
				t.Fatalf("refreshes = %+v, want the other one then ours", rs)
			}
			if rs[0].Status != tt.wantOther || rs[1].Status != types.InstanceRefreshStatusSuccessful {
				t.Errorf("statuses = %s, %s; want %s, Successful", rs[0].Status, rs[1].Status, tt.wantOther)
			}
			if n := f.CallCount("CancelInstanceRefresh"); n != tt.wantCancels {
				t.Errorf("CancelInstanceRefresh calls = %d, want %d", n, tt.wantCancels)
			}
			if !strings.Contains(log.String(), tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, log.String())
			}
		})
	}
}

func TestRefreshStopsWaiting(t *testing.T) {
	tests := []struct {
		name string
		// cancelCtx cancels the caller's context once the refresh is InProgress; otherwise Timeout ends it.
		cancelCtx bool
		timeout   time.Duration
		check     func(t *testing.T, res rollout.Result, err error)
	}{
		{"context cancelled", true, 20 * time.Second, func(t *testing.T, res rollout.Result, err error) {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
		}},
		// Long enough for the refresh to start even on a loaded machine (with 50ms the
		// timeout could hit before StartInstanceRefresh and no refresh existed).
		{"timeout", false, time.Second, func(t *testing.T, res rollout.Result, err error) {
			var rerr *rollout.RefreshError
			if !errors.Is(err, rollout.ErrTimeout) || !errors.As(err, &rerr) || rerr.Status != rollout.StatusTimedOut {
				t.Errorf("err = %v, want a TimedOut *RefreshError matching ErrTimeout", err)
			}
			if res.Status != rollout.StatusTimedOut || res.ID == "" {
				t.Errorf("result = %+v, want TimedOut with the refresh ID", res)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startAutoScaling(t)
			f.ScriptNextRefresh(fakeaws.Hang, 1, "")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type outcome struct {
				res rollout.Result
				err error
			}
			done := make(chan outcome, 1)
			r := newRefresher(t, f, rollout.Preferences{Timeout: tt.timeout})
			go func() {
				res, err := r.Refresh(ctx, "web", nil)
				done <- outcome{res, err}
			}()
			if tt.cancelCtx {
				waitFor(t, func() bool {
					rs := f.Refreshes("web")
					return len(rs) == 1 && rs[0].Status == types.InstanceRefreshStatusInProgress
				})
				cancel()
			}
			var got outcome
			select {
			case got = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Refresh did not return")
			}
			tt.check(t, got.res, got.err)
			if n := f.CallCount("CancelInstanceRefresh"); n != 1 {
				t.Errorf("CancelInstanceRefresh calls = %d, want 1", n)
			}
			if rs := f.Refreshes("web"); len(rs) != 1 || rs[0].Status != types.InstanceRefreshStatusCancelling {
				t.Errorf("refreshes = %+v, want one, Cancelling", rs)
			}
		})
	}
}

func TestNewRefresherRejectsBadPreferences(t *testing.T) {
	tests := []struct {
		name  string
		prefs rollout.Preferences
	}{
		{"min healthy above 100", rollout.Preferences{MinHealthyPercentage: aws.Int(101)}},
		{"negative min healthy", rollout.Preferences{MinHealthyPercentage: aws.Int(-1)}},
		{"negative warmup", rollout.Preferences{InstanceWarmup: -time.Second}},
		{"unknown in-progress policy", rollout.Preferences{InProgress: "ignore"}},
		{"poll min above max", rollout.Preferences{PollMin: time.Minute, PollMax: time.Second}},
		{"negative timeout", rollout.Preferences{Timeout: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := rollout.NewRefresher(nil, tt.prefs); err == nil {
				t.Error("NewRefresher accepted bad preferences")
			}
		})
	}
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met before the deadline")
		}
		time.Sleep(time.Millisecond)
	}
}
