package fakeaws_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/gitops-runner/runner/internal/testenv/fakeaws"
)

type deploymentView struct {
	status, rollout string
	running         int32
}

func TestECSDeploymentsProgress(t *testing.T) {
	tests := []struct {
		name    string
		outcome fakeaws.DeploymentOutcome
		// want is the deployments seen on each describe, PRIMARY first.
		want [][]deploymentView
	}{
		{"stabilize", fakeaws.Stabilize, [][]deploymentView{
			{{"PRIMARY", "IN_PROGRESS", 2}, {"ACTIVE", "COMPLETED", 2}},
			{{"PRIMARY", "IN_PROGRESS", 4}},
			{{"PRIMARY", "COMPLETED", 4}},
		}},
		{"circuit breaker", fakeaws.CircuitBreaker, [][]deploymentView{
			{{"PRIMARY", "IN_PROGRESS", 0}, {"ACTIVE", "COMPLETED", 4}},
			{{"PRIMARY", "IN_PROGRESS", 4}, {"ACTIVE", "FAILED", 0}},
			{{"PRIMARY", "COMPLETED", 4}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakeaws.StartECS()
			t.Cleanup(f.Close)
			f.AddService(fakeaws.Service{Cluster: "dev", Name: "api", TaskDefinition: "api:1", DesiredCount: 4})
			f.Deploy("dev", "api", "api:2", tt.outcome, 2)
			c := f.Client()
			for i, want := range tt.want {
				out, err := c.DescribeServices(context.Background(), &ecs.DescribeServicesInput{
					Cluster: aws.String("dev"), Services: []string{"api"}})
				if err != nil {
					t.Fatal(err)
				}
				var got []deploymentView
				for _, d := range out.Services[0].Deployments {
					got = append(got, deploymentView{aws.ToString(d.Status), string(d.RolloutState), d.RunningCount})
				}
				if !equal(got, want) {
					t.Fatalf("describe %d: deployments = %v, want %v", i+1, got, want)
				}
			}
		})
	}
}

func TestECSCircuitBreakerReason(t *testing.T) {
	f := fakeaws.StartECS()
	t.Cleanup(f.Close)
	f.AddService(fakeaws.Service{Cluster: "dev", Name: "api", TaskDefinition: "api:1", DesiredCount: 2})
	id := f.Deploy("dev", "api", "api:2", fakeaws.CircuitBreaker, 1)
	out, err := f.Client().DescribeServices(context.Background(), &ecs.DescribeServicesInput{
		Cluster: aws.String("arn:aws:ecs:us-east-1:123456789012:cluster/dev"), Services: []string{"api"}})
	if err != nil {
		t.Fatal(err)
	}
	s := out.Services[0]
	failed := s.Deployments[1]
	if aws.ToString(failed.Id) != id || failed.RolloutState != ecstypes.DeploymentRolloutStateFailed ||
		aws.ToString(failed.RolloutStateReason) != fakeaws.CircuitBreakerReason || failed.FailedTasks < 3 {
		t.Errorf("failed deployment = %+v", failed)
	}
	if aws.ToString(s.TaskDefinition) != "api:1" || aws.ToString(s.Deployments[0].TaskDefinition) != "api:1" {
		t.Errorf("service task definition = %s, want the rolled-back api:1", aws.ToString(s.TaskDefinition))
	}
	if s.CreatedAt == nil || s.CreatedAt.IsZero() {
		t.Errorf("createdAt not decoded")
	}
}

func TestECSErrors(t *testing.T) {
	f := fakeaws.StartECS()
	t.Cleanup(f.Close)
	f.AddService(fakeaws.Service{Cluster: "dev", Name: "api", TaskDefinition: "api:1", DesiredCount: 1})
	c := f.Client()
	ctx := context.Background()

	_, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("prod"), Services: []string{"api"}})
	var notFound *ecstypes.ClusterNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("unknown cluster: err = %v, want ClusterNotFoundException", err)
	}
	out, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("dev"), Services: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "MISSING" {
		t.Errorf("failures = %+v, want one MISSING", out.Failures)
	}
	if n := f.CallCount("DescribeServices"); n != 2 {
		t.Errorf("DescribeServices calls = %d, want 2", n)
	}
}
