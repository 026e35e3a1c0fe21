package config

import (
	"sort"
	"time"
)

// RepoFile is the name of the repository configuration file at the repository root.
const RepoFile = ".runner.yaml"

// Defaults applied by ParseRepo and DefaultRepo.
const (
	EnvironmentDefaultBranch           = "main"
	EnvironmentDefaultAPIURL           = "/api"
	AppDefaultBaseImage                = "gcr.io/distroless/static-debian12:nonroot"
	AppDefaultPlatform                 = "linux/amd64"
	RefreshDefaultMinHealthyPercentage = 90
	RefreshDefaultTimeout              = 30 * time.Minute
)

// App kinds.
const (
	AppKindImage  = "image"  // a container image built without a daemon and pushed to ECR
	AppKindBundle = "bundle" // a static frontend bundle uploaded to the artifacts bucket
)

// Refresh InProgress values: what to do when an instance refresh is already running.
const (
	RefreshWait   = "wait"
	RefreshCancel = "cancel"
)

// Repo is the validated content of a repository's .runner.yaml (or the defaults when there is none).
type Repo struct {
	Environments []Environment
	Apps         []App
	Notify       Notify
	// Workflows are the named workflows the configuration defines (DefaultWorkflow is implied).
	Workflows map[string]Workflow
	// Ignore are doublestar globs of changed files that affect no project (default DefaultIgnore).
	Ignore []string

	// source is the config file the Repo came from ("" for defaults); lines maps
	// "env/<name>" and "app/<name>" to the line of that entry, so later checks can
	// point at it.
	source    string
	lines     map[string]int
	appsGiven bool // the file had an apps key (possibly empty): do not discover apps
}

// Environment is a deploy target: one or more Terraform roots (projects) planned and applied together,
// under one lock, one approval and one story.
type Environment struct {
	Name string
	// Dir is the environment's folder when the configuration gave it as one (dir:); it is then its only
	// project. Terraform work goes through Projects.
	Dir string
	// Roots are the doublestar globs its projects were discovered from (roots:), if any.
	Roots []string
	// Projects are the environment's Terraform roots, in configuration order (discovered ones by path).
	Projects []Project
	// Workflow is the workflow of projects that name none.
	Workflow        string
	Order           int    // deploy order on merge; lower first
	Branch          string // branch whose pushes deploy this environment (default "main")
	RequireApproval bool
	APIURL          string // VITE_API_URL for frontend bundle builds (default "/api")
	ArtifactsBucket string // S3 bucket for frontend bundles (optional)
	SlackChannel    string // overrides Notify.Slack.Channel
	Refresh         Refresh
	Vars            map[string]string // extra -var inputs
}

// Refresh holds the instance refresh preferences of an environment's frontend Auto Scaling group.
type Refresh struct {
	MinHealthyPercentage int           // default 90
	InstanceWarmup       time.Duration // 0: use the group's default
	SkipMatching         bool          // default true
	AutoRollback         bool          // default true
	InProgress           string        // RefreshWait (default) or RefreshCancel
	Timeout              time.Duration // default 30m
}

// App is something built from the repository on merge.
type App struct {
	Name             string
	Path             string // relative to the repository root, slash-separated
	Kind             string // AppKindImage or AppKindBundle
	Repository       string // ECR repository name for image apps (default Name)
	Platforms        []string
	BaseImage        string
	CreateRepository bool
	FailOnCritical   bool
	// Migrate, for an image app, runs its database migrations before each environment's apply.
	Migrate *Migrate
}

// Migrate is how an image app's database migrations run: a one-off ECS task of the app's task definition,
// with the image being deployed and Command as the container's command, started before the apply that
// rolls the service (so before any task is replaced) and waited for; a failure stops the deploy.
type Migrate struct {
	Command []string
	// Output is the environment's Terraform output naming where the task runs (cluster, task definition,
	// container, subnets, security groups; see internal/migrate). Default MigrateDefaultOutput.
	Output string
}

// MigrateDefaultOutput is the default Migrate.Output.
const MigrateDefaultOutput = "migration"

// NotifySlack is the Slack part of Notify.
type NotifySlack struct{ Channel string }

// NotifyGitHub says which GitHub notifications are posted; all default to true.
type NotifyGitHub struct{ Comments, Statuses, Deployments bool }

// Notify is where run progress is reported.
type Notify struct {
	Slack  NotifySlack
	GitHub NotifyGitHub
}

// Environment returns the environment with that name.
func (r *Repo) Environment(name string) (Environment, bool) {
	for _, e := range r.Environments {
		if e.Name == name {
			return e, true
		}
	}
	return Environment{}, false
}

// App returns the app with that name.
func (r *Repo) App(name string) (App, bool) {
	for _, a := range r.Apps {
		if a.Name == name {
			return a, true
		}
	}
	return App{}, false
}

// Ordered returns the environments in deploy order: by Order, then Name.
func (r *Repo) Ordered() []Environment {
	out := append([]Environment(nil), r.Environments...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Order != out[j].Order {
			return out[i].Order < out[j].Order
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// SlackChannelFor returns the Slack channel for an environment: its own, else the repository's.
func (r *Repo) SlackChannelFor(env Environment) string {
	if env.SlackChannel != "" {
		return env.SlackChannel
	}
	return r.Notify.Slack.Channel
}

func repoDefaultRefresh() Refresh {
	return Refresh{
		MinHealthyPercentage: RefreshDefaultMinHealthyPercentage,
		SkipMatching:         true,
		AutoRollback:         true,
		InProgress:           RefreshWait,
		Timeout:              RefreshDefaultTimeout,
	}
}

func repoDefaultNotify() Notify {
	return Notify{GitHub: NotifyGitHub{Comments: true, Statuses: true, Deployments: true}}
}

// Explicit reports whether the configuration file itself set key (a YAML key of an environment entry, such
// as "branch" or "require_approval") for environment env, rather than leaving it to its default, and on
// which line (0 when unknown). Environments that were discovered, not listed, set nothing.
func (r *Repo) Explicit(env, key string) (line int, ok bool) {
	line, ok = r.lines[repoExplicitKey(env, key)]
	return line, ok
}

func repoExplicitKey(env, key string) string { return "set/" + env + "/" + key }

// DefaultRefresh is the instance refresh configuration of an environment that sets none.
func DefaultRefresh() Refresh { return repoDefaultRefresh() }
