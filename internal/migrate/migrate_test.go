package migrate

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/testenv/fakeaws"
)

const serviceDef = `{
  "family": "app-dev-backend",
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "cpu": "256", "memory": "512",
  "taskRoleArn": "arn:aws:iam::123456789012:role/backend-task",
  "executionRoleArn": "arn:aws:iam::123456789012:role/backend-exec",
  "containerDefinitions": [
    {"name": "backend", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/backend:old", "essential": true,
     "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db:password::"}],
     "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/app-dev", "awslogs-stream-prefix": "backend", "awslogs-region": "us-east-1"}}},
    {"name": "aws-otel-collector", "image": "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0", "essential": false}
  ]
}`

const newImage = "123456789012.dkr.ecr.us-east-1.amazonaws.com/backend@sha256:" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"

func target() Target {
	return Target{Cluster: "app-dev", TaskDefinition: "app-dev-backend", Container: "backend",
		Subnets: []string{"subnet-a", "subnet-b"}, SecurityGroups: []string{"sg-backend"}}
}

func setup(t *testing.T, o *fakeaws.TaskOutcome) (*fakeaws.ECS, string) {
	t.Helper()
	f := fakeaws.StartECS()
	t.Cleanup(f.Close)
	f.AddCluster("app-dev")
	arn := f.AddTaskDefinition(serviceDef)
	if o != nil {
		f.ScriptTasks(*o)
	}
	return f, arn
}

func fast(opts Options) Options {
	opts.PollMin, opts.PollMax = time.Millisecond, 2*time.Millisecond
	return opts
}

func TestRunMigratesWithTheNewImage(t *testing.T) {
	f, original := setup(t, &fakeaws.TaskOutcome{ExitCode: 0, Steps: 4})
	var log strings.Builder
	detail, err := New(f.Client(), fast(Options{})).Run(context.Background(), target(), newImage, []string{"/backend", "migrate"}, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !strings.Contains(detail, "migrated") || !strings.Contains(detail, "exit 0") {
		t.Errorf("detail %q", detail)
	}
	tasks := f.TasksStarted()
	if len(tasks) != 1 {
		t.Fatalf("%d tasks started, want 1", len(tasks))
	}
	got := tasks[0]
	if got.TaskDefinition != "app-dev-backend-migrate:1" || got.Images["backend"] != newImage ||
		got.Images["aws-otel-collector"] != "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0" {
		t.Errorf("task ran %s with images %v", got.TaskDefinition, got.Images)
	}
	if !slices.Equal(got.Command["backend"], []string{"/backend", "migrate"}) || len(got.Command) != 1 {
		t.Errorf("commands %v", got.Command)
	}
	if !slices.Equal(got.Subnets, []string{"subnet-a", "subnet-b"}) || !slices.Equal(got.SecurityGroups, []string{"sg-backend"}) ||
		got.PublicIP != "DISABLED" || got.StartedBy != "gitops-runner" {
		t.Errorf("network %v %v %s, started by %s", got.Subnets, got.SecurityGroups, got.PublicIP, got.StartedBy)
	}
	if active := f.ActiveTaskDefinitions(); !slices.Equal(active, []string{original}) {
		t.Errorf("active task definitions %v: the migration's revision must be deregistered, the service's kept", active)
	}
	for _, want := range []string{"PENDING", "RUNNING", "STOPPED", "CloudWatch Logs /ecs/app-dev/backend/backend/", "exited 0"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

func TestRunFails(t *testing.T) {
	tests := []struct {
		name    string
		outcome fakeaws.TaskOutcome
		target  func(Target) Target
		want    string
		exit    int32 // -1: no exit code
	}{
		{name: "non-zero exit", outcome: fakeaws.TaskOutcome{ExitCode: 3, Steps: 3}, want: "exited with code 3", exit: 3},
		{name: "failed to start", outcome: fakeaws.TaskOutcome{Steps: 2, StopCode: "TaskFailedToStart", Reason: "CannotPullContainerError: pull access denied"},
			want: "stopped without an exit code: TaskFailedToStart: CannotPullContainerError", exit: -1},
		{name: "unknown container", outcome: fakeaws.TaskOutcome{Steps: 1}, target: func(t Target) Target { t.Container = "api"; return t },
			want: `has no container "api" (it has backend, aws-otel-collector)`, exit: -2},
		{name: "unknown cluster", outcome: fakeaws.TaskOutcome{Steps: 1}, target: func(t Target) Target { t.Cluster = "nope"; return t },
			want: "ClusterNotFoundException", exit: -2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, original := setup(t, &tt.outcome)
			tg := target()
			if tt.target != nil {
				tg = tt.target(tg)
			}
			var log strings.Builder
			_, err := New(f.Client(), fast(Options{})).Run(context.Background(), tg, newImage, []string{"migrate"}, &log)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one with %q\n%s", err, tt.want, log.String())
			}
			var me *Error
			switch {
			case tt.exit >= 0:
				if !errors.As(err, &me) || me.ExitCode == nil || *me.ExitCode != tt.exit {
					t.Errorf("err %#v, want exit code %d", err, tt.exit)
				}
			case tt.exit == -1:
				if !errors.As(err, &me) || me.ExitCode != nil {
					t.Errorf("err %#v, want an *Error without exit code", err)
				}
			}
			if active := f.ActiveTaskDefinitions(); !slices.Equal(active, []string{original}) {
				t.Errorf("active task definitions %v, want only the service's", active)
			}
		})
	}
}

func TestRunStopsTheTaskWhenItGivesUp(t *testing.T) {
	f, _ := setup(t, &fakeaws.TaskOutcome{Steps: 1 << 20})
	var log strings.Builder
	_, err := New(f.Client(), fast(Options{Timeout: 100 * time.Millisecond})).Run(context.Background(), target(), newImage, []string{"migrate"}, &log)
	if err == nil || !strings.Contains(err.Error(), "waiting for migration task") {
		t.Fatalf("err %v", err)
	}
	if tasks := f.TasksStarted(); len(tasks) != 1 || !tasks[0].Stopped {
		t.Errorf("tasks %+v: the task must be stopped", tasks)
	}
	if f.CallCount("DeregisterTaskDefinition") != 1 {
		t.Errorf("the migration's revision was not deregistered after the timeout")
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in, err string
	}{
		{in: `{"cluster_arn":"c","task_definition_arn":"f","task_definition_family":"f","container_name":"b","launch_type":"FARGATE","subnet_ids":["s"],"security_group_ids":["g"],"assign_public_ip":false}`},
		{in: `{"cluster_arn":"c","task_definition_arn":"f","container_name":"b","subnet_ids":[],"security_group_ids":["g"]}`, err: "lacks subnet_ids"},
		{in: `{}`, err: "lacks cluster_arn, task_definition_arn, container_name, subnet_ids, security_group_ids"},
		{in: `"app-dev"`, err: "want a JSON object"},
		{in: ``, err: "want a JSON object"},
	}
	for _, tt := range tests {
		_, err := ParseTarget(tt.in)
		if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ParseTarget(%q) = %v, want %q", tt.in, err, tt.err)
		}
	}
}
