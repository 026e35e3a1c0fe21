package rollout_test

// These tests drive the rollout code's real SDK clients against moto_server (see internal/testenv/moto).
//
// What moto 5.2.1 models, and so what is tested here:
//
//   - ECS: CreateService makes one PRIMARY deployment and never changes it. Its runningCount is the server's
//     MOTO_ECS_SERVICE_RUNNING (default 0) and its rolloutState is COMPLETED when that covers desiredCount,
//     IN_PROGRESS otherwise. UpdateService with a desiredCount sets the service's runningCount to it but leaves
//     the deployment as it was; a new task definition makes no new deployment. So moto can show a stable
//     service, one still starting tasks, and one stable by count whose rollout ECS has not called done, plus
//     missing services, missing clusters and deleted (INACTIVE) services. It never fails a deployment or rolls
//     one back: the circuit-breaker and rollback cases stay with fakeaws in service_test.go.
//   - Auto Scaling: groups with a launch template (explicit version, $Latest, none), a mixed instances policy or
//     a launch configuration, as DescribeAutoScalingGroups reports them. moto has no instance refresh at all:
//     StartInstanceRefresh and DescribeInstanceRefreshes answer HTTP 500 (moto raises NotImplementedError). So
//     only the part of Refresh before the refresh starts is tested here, by recording what the real client
//     sent; the refresh itself stays with fakeaws in refresh_test.go.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/gitops-runner/runner/internal/rollout"
	"github.com/gitops-runner/runner/internal/testenv/moto"
)

// motoRunning is the task count moto gives every service it creates (MOTO_ECS_SERVICE_RUNNING).
const motoRunning = 2

func TestWaitServiceStableMoto(t *testing.T) {
	t.Parallel()
	srv := moto.Start(t, moto.Env(fmt.Sprintf("MOTO_ECS_SERVICE_RUNNING=%d", motoRunning)))
	client := ecs.NewFromConfig(srv.Config())
	ctx := t.Context()
	if _, err := client.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("dev")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("api"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("api"), Image: aws.String("api:v1"), Memory: aws.Int32(128)}},
	}); err != nil {
		t.Fatal(err)
	}

	// short leaves room for a first DescribeServices on a loaded machine, so the result has counts to check.
	const short = time.Second
	tests := []struct {
		name    string
		desired int32
		// rescale, when set, is an UpdateService desiredCount sent after the service is created.
		rescale int32
		delete  bool
		// cluster and service default to dev and the case's own service.
		cluster, service string
		timeout          time.Duration
		// callerTimeout, when set, bounds the caller's context instead.
		callerTimeout time.Duration

		wantTimeout bool
		// wantErr is text the error must hold; match, when set, must accept it.
		wantErr        string
		match          func(error) bool
		wantState      string
		wantRunning    int
		wantDesired    int
		wantLog        string
		wantDeployment bool
	}{
		{name: "running tasks and a completed rollout are stable", desired: motoRunning, timeout: 10 * time.Second,
			wantState: rollout.RolloutCompleted, wantRunning: motoRunning, wantDesired: motoRunning, wantDeployment: true,
			wantLog: "COMPLETED, 2/2 running"},
		{name: "tasks still starting time out", desired: motoRunning + 1, timeout: short, wantTimeout: true,
			wantState: rollout.RolloutInProgress, wantRunning: motoRunning, wantDesired: motoRunning + 1, wantDeployment: true,
			wantLog: "api:1 IN_PROGRESS 2/3 running"},
		// The SDK's ServicesStable waiter alone would return here: one deployment, running == desired.
		{name: "counts settled but the rollout still in progress keep waiting", desired: motoRunning + 1, rescale: motoRunning + 1,
			timeout: short, wantTimeout: true, wantState: rollout.RolloutInProgress, wantRunning: 3, wantDesired: 3,
			wantDeployment: true, wantLog: "not stable after 1s"},
		{name: "the caller's deadline is the caller's error, not ErrTimeout", desired: motoRunning + 1, timeout: time.Minute,
			callerTimeout: short, match: func(err error) bool { return errors.Is(err, context.DeadlineExceeded) },
			wantState:   rollout.RolloutInProgress,
			wantRunning: motoRunning, wantDesired: motoRunning + 1, wantDeployment: true},
		{name: "a missing service fails at once", service: "nope", timeout: time.Minute, wantErr: "describe ecs service dev/nope: MISSING"},
		{name: "a missing cluster fails at once", cluster: "nocluster", timeout: time.Minute,
			wantErr: "describe ecs service nocluster/api-", match: func(err error) bool {
				var nf *ecstypes.ClusterNotFoundException
				return errors.As(err, &nf)
			}},
		{name: "a deleted service fails at once", desired: motoRunning, delete: true, timeout: time.Minute, wantErr: "is INACTIVE"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each case has a service of its own
			cluster, service := "dev", fmt.Sprintf("api-%d", i)
			if tt.cluster != "" {
				cluster = tt.cluster
			}
			var deployment string
			if tt.service != "" {
				service = tt.service
			} else if tt.cluster == "" {
				deployment = createService(t, client, service, tt.desired)
			}
			if tt.rescale > 0 {
				if _, err := client.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(cluster),
					Service: aws.String(service), DesiredCount: aws.Int32(tt.rescale)}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.delete {
				if _, err := client.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String(cluster),
					Service: aws.String(service), Force: aws.Bool(true)}); err != nil {
					t.Fatal(err)
				}
			}
			callerCtx := ctx
			if tt.callerTimeout > 0 {
				var cancel context.CancelFunc
				callerCtx, cancel = context.WithTimeout(ctx, tt.callerTimeout)
				defer cancel()
			}
			var log syncBuffer
			res, err := rollout.WaitServiceStable(callerCtx, client, cluster, service, tt.timeout, &log,
				rollout.PollDelays(10*time.Millisecond, 40*time.Millisecond))

			switch wantErr := tt.wantTimeout || tt.match != nil || tt.wantErr != ""; {
			case !wantErr && err != nil:
				t.Fatalf("err = %v, want nil\nlog:\n%s", err, log.String())
			case wantErr && err == nil:
				t.Fatalf("err = nil, want an error\nlog:\n%s", log.String())
			case errors.Is(err, rollout.ErrTimeout) != tt.wantTimeout:
				t.Errorf("err = %v; want it to match ErrTimeout: %t", err, tt.wantTimeout)
			case tt.match != nil && !tt.match(err):
				t.Errorf("err = %v (%T), not the kind of error wanted", err, errors.Unwrap(err))
			case !strings.Contains(fmt.Sprint(err), tt.wantErr):
				t.Errorf("err = %v, want it to say %q", err, tt.wantErr)
			}
			if res.RolloutState != tt.wantState || res.Running != tt.wantRunning || res.Desired != tt.wantDesired {
				t.Errorf("result %+v, want rollout %q, %d/%d running", res, tt.wantState, tt.wantRunning, tt.wantDesired)
			}
			if tt.wantDeployment && (res.DeploymentID != deployment || !strings.HasSuffix(res.TaskDefinition, "/api:1")) {
				t.Errorf("result %+v, want moto's deployment %s of api:1", res, deployment)
			}
			if !strings.Contains(log.String()+fmt.Sprint(err), tt.wantLog) {
				t.Errorf("log and error lack %q:\n%s\n%v", tt.wantLog, log.String(), err)
			}
		})
	}
}

// createService creates service in cluster dev from task definition api:1 and returns moto's deployment ID.
func createService(t *testing.T, client *ecs.Client, service string, desired int32) string {
	t.Helper()
	out, err := client.CreateService(t.Context(), &ecs.CreateServiceInput{
		Cluster: aws.String("dev"), ServiceName: aws.String(service), TaskDefinition: aws.String("api:1"),
		DesiredCount: aws.Int32(desired),
		DeploymentConfiguration: &ecstypes.DeploymentConfiguration{
			DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: true, Rollback: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.Service.Deployments); n != 1 {
		t.Fatalf("moto made %d deployments, want 1", n)
	}
	return aws.ToString(out.Service.Deployments[0].Id)
}

func TestRefreshAutoRollbackMoto(t *testing.T) {
	t.Parallel()
	srv := moto.Start(t)
	ctx := t.Context()
	ltID := createLaunchTemplate(t, srv, "web-lt")
	var sent sentInputs
	client := autoscaling.NewFromConfig(srv.Config(), sent.record)

	groups := map[string]func(*autoscaling.CreateAutoScalingGroupInput){
		"explicit": func(in *autoscaling.CreateAutoScalingGroupInput) {
			in.LaunchTemplate = &asgtypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web-lt"), Version: aws.String("1")}
		},
		"latest": func(in *autoscaling.CreateAutoScalingGroupInput) {
			in.LaunchTemplate = &asgtypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web-lt"), Version: aws.String("$Latest")}
		},
		"unversioned": func(in *autoscaling.CreateAutoScalingGroupInput) {
			in.LaunchTemplate = &asgtypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web-lt")}
		},
		"mixed": func(in *autoscaling.CreateAutoScalingGroupInput) {
			in.MixedInstancesPolicy = &asgtypes.MixedInstancesPolicy{LaunchTemplate: &asgtypes.LaunchTemplate{
				LaunchTemplateSpecification: &asgtypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web-lt"), Version: aws.String("1")}}}
		},
		"launch-config": func(in *autoscaling.CreateAutoScalingGroupInput) {
			in.LaunchConfigurationName = aws.String("web-lc")
		},
	}
	if _, err := client.CreateLaunchConfiguration(ctx, &autoscaling.CreateLaunchConfigurationInput{
		LaunchConfigurationName: aws.String("web-lc"), ImageId: aws.String("ami-12c6146b"), InstanceType: aws.String("t3.micro"),
	}); err != nil {
		t.Fatal(err)
	}
	for name, set := range groups {
		in := &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String(name),
			MinSize: aws.Int32(0), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(0), AvailabilityZones: []string{"us-east-1a"}}
		set(in)
		if _, err := client.CreateAutoScalingGroup(ctx, in); err != nil {
			t.Fatalf("create group %s: %v", name, err)
		}
	}

	const describe, start = "DescribeAutoScalingGroups", "StartInstanceRefresh"
	tests := []struct {
		name         string
		asg          string
		autoRollback bool
		wantCalls    []string
		wantErr      string
		wantLog      string
		// wantDesired is the launch template StartInstanceRefresh asked to roll back to; nil means no auto rollback.
		wantDesired *asgtypes.LaunchTemplateSpecification
	}{
		{name: "an explicit version is rolled back to, by template ID", asg: "explicit", autoRollback: true,
			wantCalls:   []string{describe, start},
			wantDesired: &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(ltID), Version: aws.String("1")}},
		{name: "$Latest turns auto rollback off", asg: "latest", autoRollback: true, wantCalls: []string{describe, start},
			wantLog: "auto rollback turned off for latest: the group uses launch template web-lt version $Latest;"},
		{name: "no version is $Default and turns auto rollback off", asg: "unversioned", autoRollback: true,
			wantCalls: []string{describe, start},
			wantLog:   "auto rollback turned off for unversioned: the group uses launch template web-lt version $Default;"},
		{name: "a mixed instances policy turns auto rollback off", asg: "mixed", autoRollback: true,
			wantCalls: []string{describe, start},
			wantLog:   "auto rollback turned off for mixed: the group uses a mixed instances policy;"},
		{name: "a launch configuration turns auto rollback off", asg: "launch-config", autoRollback: true,
			wantCalls: []string{describe, start},
			wantLog:   "auto rollback turned off for launch-config: the group has no launch template;"},
		{name: "without auto rollback the group is not described", asg: "explicit", wantCalls: []string{start}},
		{name: "a missing group fails before any refresh", asg: "nope", autoRollback: true,
			wantCalls: []string{describe}, wantErr: "auto scaling group nope not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent.reset()
			r, err := rollout.NewRefresher(client, fast(rollout.Preferences{AutoRollback: tt.autoRollback}))
			if err != nil {
				t.Fatal(err)
			}
			var log syncBuffer
			_, err = r.Refresh(ctx, tt.asg, &log)
			// moto answers StartInstanceRefresh with HTTP 500, so every case ends in an error.
			wantErr := tt.wantErr
			if wantErr == "" {
				wantErr = "start instance refresh on " + tt.asg + ": "
			}
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Fatalf("err = %v, want it to say %q", err, wantErr)
			}
			if calls := sent.operations(); !reflect.DeepEqual(calls, tt.wantCalls) {
				t.Errorf("calls %v, want %v", calls, tt.wantCalls)
			}
			if !strings.Contains(log.String(), tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, log.String())
			}
			in, ok := sent.last(start).(*autoscaling.StartInstanceRefreshInput)
			if !ok {
				return
			}
			if aws.ToString(in.AutoScalingGroupName) != tt.asg || in.Strategy != asgtypes.RefreshStrategyRolling ||
				aws.ToInt32(in.Preferences.MinHealthyPercentage) != rollout.DefaultMinHealthyPercentage {
				t.Errorf("StartInstanceRefresh %+v, preferences %+v", in, in.Preferences)
			}
			if got, want := aws.ToBool(in.Preferences.AutoRollback), tt.wantDesired != nil; got != want {
				t.Errorf("auto rollback %t, want %t", got, want)
			}
			var desired *asgtypes.LaunchTemplateSpecification
			if in.DesiredConfiguration != nil {
				desired = in.DesiredConfiguration.LaunchTemplate
			}
			if !reflect.DeepEqual(desired, tt.wantDesired) {
				t.Errorf("desired launch template %s, want %s", ltString(desired), ltString(tt.wantDesired))
			}
		})
	}
}

func ltString(lt *asgtypes.LaunchTemplateSpecification) string {
	if lt == nil {
		return "none"
	}
	return fmt.Sprintf("{id %q name %q version %q}", aws.ToString(lt.LaunchTemplateId), aws.ToString(lt.LaunchTemplateName), aws.ToString(lt.Version))
}

// sentInputs records the operations a real client sends, and their inputs, on their way to moto.
type sentInputs struct {
	mu     sync.Mutex
	ops    []string
	inputs []any
}

// record is a client option adding the recording middleware.
func (s *sentInputs) record(o *autoscaling.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("recordInput", func(ctx context.Context,
			in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			s.mu.Lock()
			s.ops = append(s.ops, middleware.GetOperationName(ctx))
			s.inputs = append(s.inputs, in.Parameters)
			s.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	})
}

func (s *sentInputs) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops, s.inputs = nil, nil
}

func (s *sentInputs) operations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ops...)
}

// last is the input of the latest call of op, or nil.
func (s *sentInputs) last(op string) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.ops) - 1; i >= 0; i-- {
		if s.ops[i] == op {
			return s.inputs[i]
		}
	}
	return nil
}

// createLaunchTemplate makes an EC2 launch template in moto and returns its ID. The module has no EC2 client, so
// this is a SigV4-signed EC2 Query API call; Auto Scaling refuses a group whose launch template does not exist.
func createLaunchTemplate(t *testing.T, srv *moto.Server, name string) string {
	t.Helper()
	ctx := t.Context()
	cfg := srv.Config()
	body := url.Values{
		"Action": {"CreateLaunchTemplate"}, "Version": {"2016-11-15"}, "LaunchTemplateName": {name},
		"LaunchTemplateData.ImageId": {"ami-12c6146b"}, "LaunchTemplateData.InstanceType": {"t3.micro"},
	}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "ec2", cfg.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := cfg.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("create launch template %s: %s %v\n%s", name, resp.Status, err, raw)
	}
	var out struct {
		ID string `xml:"launchTemplate>launchTemplateId"`
	}
	if err := xml.Unmarshal(raw, &out); err != nil || out.ID == "" {
		t.Fatalf("create launch template %s: no ID in %s (%v)", name, raw, err)
	}
	return out.ID
}
