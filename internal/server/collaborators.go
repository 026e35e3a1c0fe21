package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gitops-runner/runner/internal/awscreds"
	"github.com/gitops-runner/runner/internal/config"
	ghnotify "github.com/gitops-runner/runner/internal/notify/github"
	slacknotify "github.com/gitops-runner/runner/internal/notify/slack"
	"github.com/gitops-runner/runner/internal/pipeline"
	"github.com/gitops-runner/runner/internal/policy"
)

// fillFromConfig builds the outside-world clients the configuration asks for
// (GitHub, Slack, AWS) where the caller did not supply them.
func fillFromConfig(ctx context.Context, cfg config.Server, log *slog.Logger, c *Collaborators) error {
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if (c.PRs == nil || c.Deploys == nil || c.Permissions == nil || c.Replies == nil || c.Merged == nil || c.Pulls == nil) &&
		(cfg.GitHubToken != "" || cfg.GitHubAppID != 0) {
		opts := ghnotify.Options{Token: cfg.GitHubToken, BaseURL: cfg.GitHubAPIURL, Secrets: cfg.Secrets(), HTTPClient: c.githubHTTP()}
		if cfg.GitHubAppID != 0 {
			key, err := os.ReadFile(cfg.GitHubAppKeyFile)
			if err != nil {
				return fmt.Errorf("read GitHub App private key: %w", err)
			}
			opts.Token, opts.AppID, opts.InstallationID, opts.PrivateKey = "", cfg.GitHubAppID, cfg.GitHubInstallationID, key
		}
		gh, err := ghnotify.New(ctx, opts)
		if err != nil {
			return fmt.Errorf("GitHub client: %w", err)
		}
		if c.PRs == nil {
			c.PRs = gh
		}
		if c.Deploys == nil {
			c.Deploys = gh
		}
		if c.Permissions == nil {
			c.Permissions = policy.NewPermissions(gh.REST(), policy.PermissionsOptions{})
		}
		if c.Replies == nil {
			c.Replies = gh
		}
		if c.Merged == nil {
			c.Merged = gh
		}
		if c.Pulls == nil {
			c.Pulls = ghPulls{c: gh}
		}
		if c.Checks == nil && gh.App() {
			// Check runs belong to GitHub Apps; a token keeps commit statuses.
			c.Checks = ghChecks{c: gh}
		}
	}
	if c.SlackGroups == nil && cfg.SlackToken != "" {
		c.SlackGroups = slacknotify.NewGroups(slacknotify.Options{Token: cfg.SlackToken, APIURL: cfg.SlackAPIURL, Logger: log,
			HTTPClient: c.slackHTTP(10 * time.Second)})
	}
	if c.Slack == nil && (cfg.SlackToken != "" || cfg.SlackWebhookURL != "") {
		c.Slack = NewSlack(slacknotify.Options{
			Token: cfg.SlackToken, WebhookURL: cfg.SlackWebhookURL, Channel: cfg.SlackChannel, APIURL: cfg.SlackAPIURL, Logger: log,
			HTTPClient: c.slackHTTP(0), // the reporter bounds each request itself
		})
	}
	if c.Rollouts != nil && c.Bundles != nil && c.Images != nil && c.Credentials != nil {
		return nil
	}
	awsCfg, err := loadAWSConfig(ctx, cfg.AWSRegion)
	if err != nil {
		return err
	}
	awsCfg.HTTPClient = c.awsHTTP()
	if c.Credentials == nil {
		c.Credentials = phaseCredentials{assumer: awscreds.NewAssumer(awsCfg, cfg.AWSEndpoint), region: awsCfg.Region, getenv: c.Getenv}
	}
	ep := func() *string {
		if cfg.AWSEndpoint == "" {
			return nil
		}
		return aws.String(cfg.AWSEndpoint)
	}
	ecsClient := ecs.NewFromConfig(awsCfg, func(o *ecs.Options) { o.BaseEndpoint = ep() })
	if c.Migrations == nil {
		c.Migrations = NewMigrations(ecsClient, cfg.RolloutPoll)
	}
	if c.Rollouts == nil {
		c.Rollouts = NewRollouts(
			autoscaling.NewFromConfig(awsCfg, func(o *autoscaling.Options) { o.BaseEndpoint = ep() }),
			ecsClient,
			RolloutTiming{RefreshPollMin: cfg.RolloutPoll, RefreshPollMax: 6 * cfg.RolloutPoll,
				ServicePollMin: cfg.RolloutPoll, ServicePollMax: 6 * cfg.RolloutPoll})
	}
	if c.Bundles == nil {
		c.Bundles = NewBundles(s3.NewFromConfig(awsCfg, func(o *s3.Options) {
			o.BaseEndpoint = ep()
			o.UsePathStyle = cfg.AWSEndpoint != ""
		}))
	}
	if c.Images == nil {
		c.Images = NewImages(ecr.NewFromConfig(awsCfg, func(o *ecr.Options) { o.BaseEndpoint = ep() }), ImageOptions{Insecure: cfg.RegistryInsecure, ScanInterval: cfg.RolloutPoll})
	}
	return nil
}

// slackFactory opens one Slack reporter per deploy story.
type slackFactory struct{ opts slacknotify.Options }

// NewSlack returns a pipeline.SlackFactory posting with slack-go.
func NewSlack(opts slacknotify.Options) pipeline.SlackFactory { return slackFactory{opts: opts} }

func (f slackFactory) Story(channel string, resume pipeline.SlackMessage) pipeline.SlackStory {
	o := f.opts
	if channel != "" {
		o.Channel = channel
	}
	if resume.TS != "" && resume.Channel != "" {
		o.Channel, o.TS = resume.Channel, resume.TS
	}
	return slackStory{r: slacknotify.NewReporter(o)}
}

type slackStory struct{ r *slacknotify.Reporter }

func slackState(s string) string {
	switch s {
	case "succeeded":
		return slacknotify.StateSuccess
	case "failed":
		return slacknotify.StateFailed
	case "running":
		return slacknotify.StateRunning
	case "skipped", "cancelled":
		return slacknotify.StateSkipped
	}
	return slacknotify.StatePending
}

func (s slackStory) Update(d pipeline.DeployView) {
	out := slacknotify.Deploy{Title: d.Title, Repo: d.Repo, Commit: d.Commit, Author: d.Author, RunURL: d.RunURL, Environments: d.Environments}
	for _, st := range d.Stages {
		out.Stages = append(out.Stages, slacknotify.Stage{Env: st.Env, Name: st.Name, State: slackState(st.State), Detail: st.Detail})
	}
	for _, a := range d.Approvals {
		out.Approvals = append(out.Approvals, slacknotify.Approval{RunID: a.RunID, Env: a.Env, Summary: a.Summary, Why: a.Why, Expires: a.Expires})
	}
	for _, x := range d.Decisions {
		out.Decisions = append(out.Decisions, slacknotify.Decision{Env: x.Env, State: x.State, By: x.By, Channel: x.Channel, Reason: x.Reason, At: x.At})
	}
	s.r.Update(out)
}

func (s slackStory) Failure(st pipeline.StageView, tail []string) {
	s.r.Failure(slacknotify.Stage{Env: st.Env, Name: st.Name, State: slackState(st.State), Detail: st.Detail}, tail)
}

func (s slackStory) Close(ctx context.Context) error { return s.r.Close(ctx) }

func (s slackStory) Message() pipeline.SlackMessage {
	ch, ts := s.r.TS()
	return pipeline.SlackMessage{Channel: ch, TS: ts}
}

// RolloutTiming sets how often rollouts are polled (zero: the rollout package's defaults).
type RolloutTiming struct {
	RefreshPollMin, RefreshPollMax time.Duration
	ServicePollMin, ServicePollMax time.Duration
	ServiceTimeout                 time.Duration
}

type rollouts struct {
	asg    *autoscaling.Client
	ecs    *ecs.Client
	timing RolloutTiming
}

// NewRollouts returns the pipeline's fleet roller on the AWS SDK clients.
func NewRollouts(asg *autoscaling.Client, ecsClient *ecs.Client, timing RolloutTiming) pipeline.Rollouts {
	if timing.ServiceTimeout == 0 {
		timing.ServiceTimeout = 30 * time.Minute
	}
	return &rollouts{asg: asg, ecs: ecsClient, timing: timing}
}

func (r *rollouts) RefreshInstances(ctx context.Context, asg string, p config.Refresh, log io.Writer) (string, error) {
	ref, err := newRefresher(r.asg, p, r.timing)
	if err != nil {
		return "", err
	}
	res, err := ref.Refresh(ctx, asg, log)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("instance refresh %s: %s", res.ID, res.Status), nil
}

func (r *rollouts) WaitService(ctx context.Context, cluster, service string, log io.Writer) (string, error) {
	res, err := waitService(ctx, r.ecs, cluster, service, r.timing, log)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("service %s stable: deployment %s %s (%d/%d running)", res.Service, res.DeploymentID, res.RolloutState, res.Running, res.Desired), nil
}

// defaultAWSRegion is used when neither the configuration nor the SDK's own
// sources (AWS_DEFAULT_REGION, the shared config profile) name a region.
const defaultAWSRegion = "us-east-1"

// loadAWSConfig loads the SDK's default configuration; region, when set (flag or
// AWS_REGION), wins over the SDK's other sources.
func loadAWSConfig(ctx context.Context, region string) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = defaultAWSRegion
	}
	return awsCfg, nil
}
