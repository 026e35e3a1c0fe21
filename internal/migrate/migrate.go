// Package migrate runs an application's database migrations where and as its service runs: a one-off ECS
// task of the service's task definition, with the image about to be deployed and the migration command, in
// the service's subnets and security groups (so with its database access, secrets and IAM roles). It waits
// for the task to stop and judges the migration by the container's exit code.
//
// The image cannot be overridden on RunTask, so the task runs from a revision of its own (family
// "<family>-migrate", registered from the service's definition with the new image, deregistered after).
package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// API is the part of the ECS client a Runner uses.
type API interface {
	DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, opts ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
	RegisterTaskDefinition(ctx context.Context, in *ecs.RegisterTaskDefinitionInput, opts ...func(*ecs.Options)) (*ecs.RegisterTaskDefinitionOutput, error)
	DeregisterTaskDefinition(ctx context.Context, in *ecs.DeregisterTaskDefinitionInput, opts ...func(*ecs.Options)) (*ecs.DeregisterTaskDefinitionOutput, error)
	RunTask(ctx context.Context, in *ecs.RunTaskInput, opts ...func(*ecs.Options)) (*ecs.RunTaskOutput, error)
	DescribeTasks(ctx context.Context, in *ecs.DescribeTasksInput, opts ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error)
	StopTask(ctx context.Context, in *ecs.StopTaskInput, opts ...func(*ecs.Options)) (*ecs.StopTaskOutput, error)
}

// Target is where a migration runs, as the environment's Terraform output describes it (a JSON object).
// The environments' output (terraform/modules/backend-service, output run_task) has these fields and more.
type Target struct {
	Cluster        string   `json:"cluster_arn"`         // name or ARN
	TaskDefinition string   `json:"task_definition_arn"` // family, family:revision or ARN: the service's
	Container      string   `json:"container_name"`      // the app's container in it
	Subnets        []string `json:"subnet_ids"`
	SecurityGroups []string `json:"security_group_ids"`
	AssignPublicIP bool     `json:"assign_public_ip"`
}

// ParseTarget reads a Target from an output's JSON and checks that it names everything.
func ParseTarget(raw string) (Target, error) {
	var t Target
	dec := json.NewDecoder(strings.NewReader(raw))
	if err := dec.Decode(&t); err != nil {
		return Target{}, fmt.Errorf("read the migration target: %w (want a JSON object with cluster_arn, task_definition_arn, container_name, subnet_ids, security_group_ids)", err)
	}
	var missing []string
	for _, f := range []struct {
		name string
		ok   bool
	}{{"cluster_arn", t.Cluster != ""}, {"task_definition_arn", t.TaskDefinition != ""}, {"container_name", t.Container != ""},
		{"subnet_ids", len(t.Subnets) > 0}, {"security_group_ids", len(t.SecurityGroups) > 0}} {
		if !f.ok {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return Target{}, fmt.Errorf("the migration target lacks %s", strings.Join(missing, ", "))
	}
	return t, nil
}

// Options tune a Runner; zero values take the defaults.
type Options struct {
	// PollMin and PollMax bound the delay between DescribeTasks calls (it doubles from min to max).
	PollMin, PollMax time.Duration
	// Timeout bounds the whole migration (default 30 minutes).
	Timeout time.Duration
	// StartedBy tags the task (default "gitops-runner").
	StartedBy string
}

// Runner runs migrations through an ECS client.
type Runner struct {
	api  API
	opts Options
}

// New returns a Runner on api.
func New(api API, opts Options) *Runner {
	if opts.PollMin <= 0 {
		opts.PollMin = 2 * time.Second
	}
	if opts.PollMax < opts.PollMin {
		opts.PollMax = max(opts.PollMin, 15*time.Second)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Minute
	}
	if opts.StartedBy == "" {
		opts.StartedBy = "gitops-runner"
	}
	return &Runner{api: api, opts: opts}
}

// Error is a migration that ran and failed, or could not start.
type Error struct {
	Task     string // task ARN, when one started
	ExitCode *int32
	StopCode string
	Reason   string
}

func (e *Error) Error() string {
	switch {
	case e.ExitCode != nil:
		return fmt.Sprintf("migration task %s exited with code %d (%s)", shortTask(e.Task), *e.ExitCode, e.Reason)
	case e.Task != "":
		return fmt.Sprintf("migration task %s stopped without an exit code: %s: %s", shortTask(e.Task), e.StopCode, e.Reason)
	}
	return "migration task did not start: " + e.Reason
}

// Run migrates: it registers the target's task definition with image for the target's container, runs it
// with command, waits for it to stop, and returns a one-line detail. A non-zero exit code is an *Error.
func (r *Runner) Run(ctx context.Context, t Target, image string, command []string, log io.Writer) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	start := time.Now()
	td, err := r.api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(t.TaskDefinition)})
	if err != nil {
		return "", fmt.Errorf("describe task definition %s: %w", t.TaskDefinition, err)
	}
	in, logs, err := migrationDefinition(td.TaskDefinition, t.Container, image)
	if err != nil {
		return "", err
	}
	reg, err := r.api.RegisterTaskDefinition(ctx, in)
	if err != nil {
		return "", fmt.Errorf("register the migration's task definition: %w", err)
	}
	arn := aws.ToString(reg.TaskDefinition.TaskDefinitionArn)
	fmt.Fprintf(log, "registered %s: %s with %s\n", shortDef(arn), t.Container, image)
	defer func() {
		// Tidy even when ctx has ended: the revision is of no use after this run.
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer dcancel()
		if _, err := r.api.DeregisterTaskDefinition(dctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String(arn)}); err != nil {
			fmt.Fprintf(log, "warning: deregister %s: %v\n", shortDef(arn), err)
		}
	}()
	run, err := r.api.RunTask(ctx, &ecs.RunTaskInput{
		Cluster:        aws.String(t.Cluster),
		TaskDefinition: aws.String(arn),
		LaunchType:     ecstypes.LaunchTypeFargate,
		Count:          aws.Int32(1),
		StartedBy:      aws.String(r.opts.StartedBy),
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{
			Subnets: t.Subnets, SecurityGroups: t.SecurityGroups, AssignPublicIp: publicIP(t.AssignPublicIP),
		}},
		Overrides: &ecstypes.TaskOverride{ContainerOverrides: []ecstypes.ContainerOverride{{
			Name: aws.String(t.Container), Command: command,
		}}},
	})
	if err != nil {
		return "", fmt.Errorf("run the migration task in %s: %w", t.Cluster, err)
	}
	if len(run.Tasks) == 0 {
		var reasons []string
		for _, f := range run.Failures {
			reasons = append(reasons, aws.ToString(f.Reason)+" "+aws.ToString(f.Detail))
		}
		return "", &Error{Reason: strings.TrimSpace(strings.Join(reasons, "; "))}
	}
	task := aws.ToString(run.Tasks[0].TaskArn)
	fmt.Fprintf(log, "started migration task %s in %s: %s\n", shortTask(task), t.Cluster, strings.Join(command, " "))
	if logs != "" {
		fmt.Fprintf(log, "its output: CloudWatch Logs %s/%s\n", logs, lastSegment(task))
	}
	stopped, err := r.wait(ctx, t.Cluster, task, log)
	if err != nil {
		r.stop(ctx, t.Cluster, task, log)
		return "", err
	}
	took := time.Since(start).Round(time.Second)
	for _, c := range stopped.Containers {
		if aws.ToString(c.Name) != t.Container {
			continue
		}
		if c.ExitCode == nil {
			return "", &Error{Task: task, StopCode: string(stopped.StopCode), Reason: reason(stopped, c)}
		}
		if *c.ExitCode != 0 {
			return "", &Error{Task: task, ExitCode: c.ExitCode, StopCode: string(stopped.StopCode), Reason: reason(stopped, c)}
		}
		fmt.Fprintf(log, "migration task %s exited 0 after %s\n", shortTask(task), took)
		return fmt.Sprintf("migrated (task %s, exit 0, %s)", shortTask(task), took), nil
	}
	return "", &Error{Task: task, StopCode: string(stopped.StopCode), Reason: "the task has no container " + t.Container}
}

// wait polls the task until it stops, logging each change of status.
func (r *Runner) wait(ctx context.Context, cluster, task string, log io.Writer) (ecstypes.Task, error) {
	delay, last := r.opts.PollMin, ""
	for {
		out, err := r.api.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: []string{task}})
		if err != nil {
			if ctx.Err() != nil {
				return ecstypes.Task{}, fmt.Errorf("waiting for migration task %s: %w", shortTask(task), context.Cause(ctx))
			}
			return ecstypes.Task{}, fmt.Errorf("describe migration task %s: %w", shortTask(task), err)
		}
		if len(out.Tasks) == 0 {
			return ecstypes.Task{}, fmt.Errorf("migration task %s is gone (%s)", shortTask(task), failures(out.Failures))
		}
		t := out.Tasks[0]
		if st := aws.ToString(t.LastStatus); st != last {
			fmt.Fprintf(log, "migration task %s: %s\n", shortTask(task), st)
			last = st
		}
		if last == "STOPPED" {
			return t, nil
		}
		select {
		case <-ctx.Done():
			return ecstypes.Task{}, fmt.Errorf("waiting for migration task %s: %w", shortTask(task), context.Cause(ctx))
		case <-time.After(delay):
		}
		delay = min(delay*2, r.opts.PollMax)
	}
}

// stop stops a task the runner stopped waiting for (the run was cancelled or timed out): a migration
// left running would hold its locks while the next deploy starts.
func (r *Runner) stop(ctx context.Context, cluster, task string, log io.Writer) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := r.api.StopTask(sctx, &ecs.StopTaskInput{Cluster: aws.String(cluster), Task: aws.String(task),
		Reason: aws.String("the deploy that started it stopped waiting")}); err != nil {
		fmt.Fprintf(log, "warning: stop migration task %s: %v\n", shortTask(task), err)
		return
	}
	fmt.Fprintf(log, "stopped migration task %s\n", shortTask(task))
}

// migrationDefinition is the registration of the service's definition with image for container, in a family
// of its own; it also returns where the container logs ("group/prefix/container"), when it uses awslogs.
func migrationDefinition(td *ecstypes.TaskDefinition, container, image string) (*ecs.RegisterTaskDefinitionInput, string, error) {
	if td == nil {
		return nil, "", errors.New("describe task definition: empty answer")
	}
	defs := slices.Clone(td.ContainerDefinitions)
	var names []string
	logs := ""
	found := false
	for i, c := range defs {
		names = append(names, aws.ToString(c.Name))
		if aws.ToString(c.Name) != container {
			continue
		}
		found = true
		defs[i].Image = aws.String(image)
		if lc := c.LogConfiguration; lc != nil && lc.LogDriver == ecstypes.LogDriverAwslogs {
			if g, p := lc.Options["awslogs-group"], lc.Options["awslogs-stream-prefix"]; g != "" && p != "" {
				logs = g + "/" + p + "/" + container
			}
		}
	}
	if !found {
		return nil, "", fmt.Errorf("task definition %s has no container %q (it has %s)", aws.ToString(td.Family), container, strings.Join(names, ", "))
	}
	return &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(aws.ToString(td.Family) + "-migrate"),
		ContainerDefinitions:    defs,
		TaskRoleArn:             td.TaskRoleArn,
		ExecutionRoleArn:        td.ExecutionRoleArn,
		NetworkMode:             td.NetworkMode,
		RequiresCompatibilities: td.RequiresCompatibilities,
		Cpu:                     td.Cpu,
		Memory:                  td.Memory,
		Volumes:                 td.Volumes,
		RuntimePlatform:         td.RuntimePlatform,
		EphemeralStorage:        td.EphemeralStorage,
		PlacementConstraints:    td.PlacementConstraints,
		ProxyConfiguration:      td.ProxyConfiguration,
		PidMode:                 td.PidMode,
		IpcMode:                 td.IpcMode,
	}, logs, nil
}

func publicIP(on bool) ecstypes.AssignPublicIp {
	if on {
		return ecstypes.AssignPublicIpEnabled
	}
	return ecstypes.AssignPublicIpDisabled
}

func reason(t ecstypes.Task, c ecstypes.Container) string {
	parts := []string{aws.ToString(t.StoppedReason)}
	if r := aws.ToString(c.Reason); r != "" {
		parts = append(parts, r)
	}
	return strings.Join(parts, ": ")
}

func failures(fs []ecstypes.Failure) string {
	var out []string
	for _, f := range fs {
		out = append(out, aws.ToString(f.Reason))
	}
	return strings.Join(out, "; ")
}

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// shortTask is a task ARN's id.
func shortTask(arn string) string { return lastSegment(arn) }

// shortDef is a task definition ARN's family:revision.
func shortDef(arn string) string { return lastSegment(arn) }
