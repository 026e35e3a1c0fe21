package pipeline

import (
	"context"
	"io"
	"time"

	"github.com/gitops-runner/runner/internal/action"
	"github.com/gitops-runner/runner/internal/config"
)

// Actions carries out what people ask (comment commands, check run buttons): the action service.
type Actions interface {
	Do(ctx context.Context, req action.Request) (action.Result, error)
}

// Replies answers comment commands on the pull request.
type Replies interface {
	// React adds a reaction ("eyes", "+1", "-1", "confused") to a comment.
	React(ctx context.Context, repo string, commentID int64, content string) error
	// Reply posts a new comment on the pull request.
	Reply(ctx context.Context, repo string, pr int, body string) error
}

// PlanKeeper keeps a run's saved plans where every replica finds them (the store, sealed): a run that waits
// for an approval may be resumed by another replica, which must apply exactly the plan that was approved.
type PlanKeeper interface {
	Keep(ctx context.Context, runID int64, env string, files map[string][]byte) error
	Fetch(ctx context.Context, runID int64, env string) (map[string][]byte, error)
}

// Waker brings a waiting run back now (the queue).
type Waker interface {
	Wake(ctx context.Context, runID int64) error
}

// MergedPRs finds the pull request a merge commit came from, on GitHub.
type MergedPRs interface {
	MergedPR(ctx context.Context, repo, sha string) (number int, headSHA string, err error)
}

// Checks reports on check runs (GitHub App authentication): one per environment plan, and one per
// deploy waiting for approval, with buttons.
type Checks interface {
	UpsertCheckRun(ctx context.Context, repo string, run CheckRun) (int64, error)
}

// CheckRun is one check run as the pipeline reports it.
type CheckRun struct {
	Name, HeadSHA, Status, Conclusion, ExternalID, DetailsURL string
	Title, Summary, Text                                      string
	Annotations                                               []Annotation
	Actions                                                   []CheckAction
}

// Annotation marks a file and line of the repository in a check run.
type Annotation struct {
	Path               string
	StartLine, EndLine int
	Level              string // notice | warning | failure
	Title, Message     string
}

// CheckAction is a button on a check run; GitHub sends its Identifier back as a requested action.
type CheckAction struct{ Label, Description, Identifier string }

// PRReporter posts plan results on a pull request.
type PRReporter interface {
	UpsertPlanComment(ctx context.Context, repo string, pr int, env, summaryMarkdown, planText string) error
	SetStatus(ctx context.Context, repo, sha, context, state, description, targetURL string) error
	// PullHead is the SHA the pull request's head points at now.
	PullHead(ctx context.Context, repo string, pr int) (string, error)
}

// DeployReporter records deployments on GitHub.
type DeployReporter interface {
	CreateDeployment(ctx context.Context, repo, sha, env, description string) (int64, error)
	SetDeploymentStatus(ctx context.Context, repo string, id int64, state, description, logURL, environmentURL string) error
	CommentOnMergedPR(ctx context.Context, repo, sha, body string) (int, error)
}

// SlackFactory opens the Slack story of one deploy in a channel. A run that comes back (after waiting for
// an approval, or a restart) resumes the message it posted before: resume names it (zero: post a new one).
type SlackFactory interface {
	Story(channel string, resume SlackMessage) SlackStory
}

// SlackMessage names a posted Slack message.
type SlackMessage struct {
	Channel string `json:"channel"` // the channel's id
	TS      string `json:"ts"`
}

// SlackStory is one Slack message kept up to date while a deploy runs. Its
// methods never block on Slack.
type SlackStory interface {
	Update(d DeployView)
	Failure(stage StageView, logTail []string)
	Close(ctx context.Context) error
	// Message is the message posted, once it is (after Close it is final).
	Message() SlackMessage
}

// DeployView is what Slack shows of a deploy.
type DeployView struct {
	Title                        string // default "Deploy"
	Repo, Commit, Author, RunURL string
	Environments                 []string
	Stages                       []StageView
	Approvals                    []ApprovalView // environments waiting for a decision (buttons)
	Decisions                    []DecisionView // decisions taken
}

// ApprovalView is an environment waiting for approval, as Slack shows it with its buttons.
type ApprovalView struct {
	RunID                      int64
	Env, Summary, Why, Expires string
}

// DecisionView is a decision on an approval.
type DecisionView struct {
	Env, State, By, Channel, Reason, At string
}

// StageView is one stage line in a deploy story.
type StageView struct {
	Env, Name, State, Detail string
}

// ImageBuilder builds an image app and pushes it, returning repository@digest.
type ImageBuilder interface {
	BuildAndPush(ctx context.Context, req ImageRequest) (ref string, err error)
}

// ImageRequest describes one image build.
type ImageRequest struct {
	App       config.App
	Dir       string // absolute path of the app
	Revision  string // commit SHA: the tag
	SourceURL string
	Created   time.Time // commit time: rebuilding a commit gives the same digest
	Log       io.Writer
}

// BundleBuilder builds a bundle app for an environment and uploads it.
type BundleBuilder interface {
	BuildAndUpload(ctx context.Context, req BundleRequest) (version string, err error)
}

// BundleRequest describes one bundle build.
type BundleRequest struct {
	App      config.App
	Dir      string
	APIURL   string
	Bucket   string
	Revision string
	Log      io.Writer
}

// Migrations runs an image app's database migrations before an environment's apply: a one-off task where
// target (the environment's Terraform output, JSON) says, with image and command; an error stops the deploy.
type Migrations interface {
	Migrate(ctx context.Context, target, image string, command []string, log io.Writer) (detail string, err error)
}

// Rollouts rolls fleets after an apply.
type Rollouts interface {
	RefreshInstances(ctx context.Context, asg string, prefs config.Refresh, log io.Writer) (detail string, err error)
	WaitService(ctx context.Context, cluster, service string, log io.Writer) (detail string, err error)
}
