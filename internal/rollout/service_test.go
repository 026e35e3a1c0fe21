package rollout_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/rollout"
	"github.com/gitops-runner/runner/internal/testenv/fakeaws"
)

func TestWaitServiceStable(t *testing.T) {
	tests := []struct {
		name      string
		service   string
		outcome   fakeaws.DeploymentOutcome
		timeout   time.Duration
		wantState string
		wantTD    string
		check     func(t *testing.T, err error)
		wantLog   []string
	}{
		{
			name: "stabilises", service: "api", outcome: fakeaws.Stabilize, timeout: 20 * time.Second,
			wantState: rollout.RolloutCompleted, wantTD: "api:2",
			check: func(t *testing.T, err error) {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
			},
			wantLog: []string{
				"PRIMARY ecs-svc/1234567890123456787 api:2 IN_PROGRESS 1/4 running; ACTIVE ecs-svc/1234567890123456788 api:1 COMPLETED 3/3 running",
				"PRIMARY ecs-svc/1234567890123456787 api:2 IN_PROGRESS 4/4 running\n",
				"deployment ecs-svc/1234567890123456787 COMPLETED, 4/4 running",
			},
		},
		{
			name: "circuit breaker rollback fails with ECS's reason", service: "api", outcome: fakeaws.CircuitBreaker, timeout: 20 * time.Second,
			wantState: rollout.RolloutFailed, wantTD: "api:2",
			check: func(t *testing.T, err error) {
				var derr *rollout.DeploymentError
				if !errors.As(err, &derr) || derr.RolloutState != rollout.RolloutFailed || derr.Reason != fakeaws.CircuitBreakerReason {
					t.Fatalf("err = %v, want a FAILED *DeploymentError with the circuit breaker reason", err)
				}
			},
			wantLog: []string{"ACTIVE ecs-svc/1234567890123456787 api:2 FAILED 0/0 running, 4 failed"},
		},
		{
			name: "timeout", service: "api", outcome: fakeaws.Stuck, timeout: 100 * time.Millisecond,
			wantState: rollout.RolloutInProgress, wantTD: "api:2",
			check: func(t *testing.T, err error) {
				if !errors.Is(err, rollout.ErrTimeout) {
					t.Fatalf("err = %v, want ErrTimeout", err)
				}
			},
		},
		{
			name: "missing service", service: "nope", timeout: 20 * time.Second,
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "MISSING") || errors.Is(err, rollout.ErrTimeout) {
					t.Fatalf("err = %v, want MISSING", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakeaws.StartECS()
			t.Cleanup(f.Close)
			f.AddService(fakeaws.Service{Cluster: "dev", Name: "api", TaskDefinition: "arn:aws:ecs:us-east-1:123456789012:task-definition/api:1", DesiredCount: 4})
			f.Deploy("dev", "api", "arn:aws:ecs:us-east-1:123456789012:task-definition/api:2", tt.outcome, 4)
			var log syncBuffer
			res, err := rollout.WaitServiceStable(context.Background(), f.Client(), "dev", tt.service, tt.timeout, &log,
				rollout.PollDelays(time.Millisecond, 4*time.Millisecond))
			tt.check(t, err)
			if res.RolloutState != tt.wantState || (tt.wantTD != "" && !strings.HasSuffix(res.TaskDefinition, "/"+tt.wantTD)) {
				t.Errorf("result = %+v, want rollout %q of %s", res, tt.wantState, tt.wantTD)
			}
			for _, want := range tt.wantLog {
				if !strings.Contains(log.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, log.String())
				}
			}
		})
	}
}

func TestWaitServiceStableContextCancelled(t *testing.T) {
	f := fakeaws.StartECS()
	t.Cleanup(f.Close)
	f.AddService(fakeaws.Service{Cluster: "dev", Name: "api", TaskDefinition: "api:1", DesiredCount: 2})
	f.Deploy("dev", "api", "api:2", fakeaws.Stuck, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := rollout.WaitServiceStable(ctx, f.Client(), "dev", "api", time.Minute, nil, rollout.PollDelays(time.Millisecond, 4*time.Millisecond))
		done <- err
	}()
	waitFor(t, func() bool { return f.CallCount("DescribeServices") >= 2 })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitServiceStable did not return after cancel")
	}
}
