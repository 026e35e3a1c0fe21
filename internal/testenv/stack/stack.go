// Package stack starts every stand-in a deploy talks to (registry, ECR, Auto
// Scaling, ECS, S3, GitHub, Slack) on 127.0.0.1, with one AWS endpoint that
// routes each request to the right fake the way AWS's service endpoints would.
// Tests of the whole runner and `runner demo` use it.
package stack

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/gitops-runner/runner/internal/testenv/fakeaws"
	"github.com/gitops-runner/runner/internal/testenv/fakeecr"
	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
	"github.com/gitops-runner/runner/internal/testenv/fakeslack"
	"github.com/gitops-runner/runner/internal/testenv/registry"
	"github.com/gitops-runner/runner/internal/testenv/s3"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Credentials the stand-ins accept.
const (
	GitHubToken      = "ghs_demo0123456789abcdefghijklmnop"
	SlackToken       = "xoxb-demo-0123456789"
	RegistryPassword = "ecr-demo-password"
)

// Stack is a set of running stand-ins.
type Stack struct {
	Registry *registry.Server
	ECR      *fakeecr.Server
	ASG      *fakeaws.AutoScaling
	ECS      *fakeaws.ECS
	S3       *s3.Server
	GitHub   *fakegithub.Server
	Slack    *fakeslack.Server

	aws *httptest.Server
}

// Start starts every stand-in. extraGitHubTokens are also accepted by the fake GitHub.
func Start() *Stack {
	s := &Stack{}
	var ecr *fakeecr.Server
	s.Registry = registry.New(
		registry.WithBasicAuth("AWS", RegistryPassword),
		registry.WithImmutableTags(),
		registry.WithRepositoryCheck(func(repo string) bool { return ecr != nil && ecr.HasRepository(repo) }),
	)
	ecr = fakeecr.New(fakeecr.Options{
		RegistryURL: s.Registry.URL, Password: RegistryPassword,
		Images: fakeecr.RegistryImages(s.Registry.Host, &authn.Basic{Username: "AWS", Password: RegistryPassword}),
	})
	s.ECR = ecr
	s.ASG = fakeaws.StartAutoScaling()
	s.ECS = fakeaws.StartECS()
	s.S3 = s3.Start()
	s.GitHub = fakegithub.New(fakegithub.Config{Tokens: []string{GitHubToken}})
	s.Slack = fakeslack.New(fakeslack.Config{Token: SlackToken})
	s.aws = httptest.NewServer(s.route())
	return s
}

// AWSEndpoint is the one endpoint every AWS client of the runner uses.
func (s *Stack) AWSEndpoint() string { return s.aws.URL }

// Close stops everything.
func (s *Stack) Close() {
	s.aws.Close()
	s.GitHub.Close()
	s.Slack.Close()
	s.S3.Close()
	s.ECS.Close()
	s.ASG.Close()
	s.ECR.Close()
	s.Registry.Close()
}

// route sends JSON 1.1 calls by their X-Amz-Target, Query calls (form posts to /)
// to Auto Scaling, and the rest (REST paths) to S3.
func (s *Stack) route() http.Handler {
	proxy := func(raw string) *httputil.ReverseProxy {
		u, err := url.Parse(raw)
		if err != nil {
			panic(err)
		}
		return httputil.NewSingleHostReverseProxy(u)
	}
	ecr, ecs, asg, s3p := proxy(s.ECR.URL), proxy(s.ECS.URL()), proxy(s.ASG.URL()), proxy(s.S3.URL)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		switch {
		case strings.HasPrefix(target, "AmazonEC2ContainerRegistry_"):
			ecr.ServeHTTP(w, r)
		case strings.HasPrefix(target, "AmazonEC2ContainerServiceV"):
			ecs.ServeHTTP(w, r)
		case r.Method == http.MethodPost && r.URL.Path == "/" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded"):
			asg.ServeHTTP(w, r)
		default:
			s3p.ServeHTTP(w, r)
		}
	})
}

// SeedEnvironment creates what an environment's Terraform would have made: its
// Auto Scaling group, its ECS service and the artifacts bucket.
func (s *Stack) SeedEnvironment(ctx context.Context, env, bucket string) error {
	s.ASG.AddGroup(fakeaws.Group{Name: env + "-frontend", LaunchTemplateName: env + "-frontend", LaunchTemplateVersion: "3", Instances: 3})
	s.ECS.AddService(fakeaws.Service{Cluster: env + "-cluster", Name: env + "-api", TaskDefinition: env + "-api:1", DesiredCount: 2})
	// The service's task definition (revision 1): what a migration task is registered from.
	s.ECS.AddTaskDefinition(fmt.Sprintf(`{"family": %q, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
  "cpu": "256", "memory": "512", "executionRoleArn": "arn:aws:iam::123456789012:role/%[2]s-api-execution",
  "containerDefinitions": [{"name": "api", "image": "registry.example/backend:initial", "essential": true,
    "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/%[2]s", "awslogs-stream-prefix": "api"}}}]}`,
		env+"-api", env))
	if err := s.S3.CreateBucket(ctx, bucket); err != nil && !strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") && !strings.Contains(err.Error(), "BucketAlreadyExists") {
		return fmt.Errorf("seed %s: %w", env, err)
	}
	return nil
}
