// Package demo tells the whole story on one machine with no accounts: it makes
// a sample repository, starts the stand-ins (GitHub, Slack, ECR, registry, Auto
// Scaling, ECS, S3) and a runner, opens a pull request and merges it, and prints
// what the runner did at each step.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/server"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fakeaws"
	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/testenv/ghwebhook"
	"github.com/gitops-runner/runner/internal/testenv/gitserver"
	"github.com/gitops-runner/runner/internal/testenv/stack"
)

// Options tune the demo.
type Options struct {
	TerraformBin string
	Keep         bool   // keep serving after the story, until ctx ends
	Dir          string // working directory; default a new temporary one
	Log          io.Writer
	// Heartbeat is how long the story may stay silent before it says what it is still doing
	// (default 15s).
	Heartbeat time.Duration
}

const (
	repoName = "acme/platform"
	secret   = "demo-webhook-secret-0123456789"
)

var envs = []string{"dev", "staging", "prod"}

// Run plays the story and prints it to out.
func Run(ctx context.Context, out io.Writer, opts Options) error {
	p := &printer{w: out}
	beat := startHeartbeat(ctx, p, opts.Heartbeat, "starting")
	defer beat.end()
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "runner-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	os.Setenv("AWS_ACCESS_KEY_ID", "AKIDDEMO")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "demo-secret")
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cliConfig := filepath.Join(dir, "terraformrc")
	if err := os.WriteFile(cliConfig, []byte("disable_checkpoint = true\n"), 0o600); err != nil {
		return err
	}
	os.Setenv("TF_CLI_CONFIG_FILE", cliConfig)

	beat.set("starting the stand-ins and the runner")
	p.step("Starting stand-ins on 127.0.0.1: GitHub, Slack, ECR + a real OCI registry, Auto Scaling, ECS, S3")
	st := stack.Start()
	defer st.Close()
	// Dana, who opens the pull request, may write to the repository: the runner plans it.
	st.GitHub.SetCollaborator(repoName, "dana", fakegithub.Collaborator{Role: "write"})
	for _, e := range envs {
		if err := st.SeedEnvironment(ctx, e, "demo-artifacts"); err != nil {
			return err
		}
	}
	repo, err := fixture.Create(filepath.Join(dir, "repo"), repoName, fixture.Options{StateDir: filepath.Join(dir, "state"), Bucket: "demo-artifacts", Migrate: true})
	if err != nil {
		return fmt.Errorf("sample repository: %w", err)
	}
	git, err := gitserver.Start(filepath.Join(dir, "repo", "remote"), stack.GitHubToken)
	if err != nil {
		return err
	}
	defer git.Close()
	p.info("sample repository %s (environments dev, staging, prod; modules network, platform; apps backend, frontend) served by git http-backend at %s", repoName, git.URL(repoName))

	cfg := config.Server{
		Listen: "127.0.0.1:0", WebhookSecret: secret, DataDir: filepath.Join(dir, "data"), AllowedRepos: []string{"acme/*"},
		Workers: 2, PlanParallelism: 3, StageTimeout: 10 * time.Minute, ShutdownGrace: 10 * time.Second, LockLease: time.Minute,
		GitHubToken: stack.GitHubToken, GitHubAPIURL: st.GitHub.URL(), SlackToken: stack.SlackToken, SlackAPIURL: st.Slack.APIURL(),
		AWSRegion: "us-east-1", AWSEndpoint: st.AWSEndpoint(), RegistryInsecure: true, RolloutPoll: 200 * time.Millisecond,
		TerraformBin: opts.TerraformBin, PluginCacheDir: filepath.Join(dir, "plugin-cache"),
		// The sample repository keeps local state outside the checkout; sandboxed Terraform may write it.
		Sandbox: "auto", SandboxReadWrite: []string{filepath.Join(dir, "state")},
		// The demo plans its own sample repository: where the machine cannot isolate Terraform (not
		// root), it plans anyway, and the comments say so.
		UnsafeUnisolatedPlans: true,
	}
	srv, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(logw, nil)), server.Collaborators{})
	if err != nil {
		return err
	}
	base := "http://" + srv.Addr()
	srvCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- srv.Run(srvCtx) }()
	defer func() {
		stop()
		<-done
	}()
	p.info("runner serving at %s (dashboard: %s/)", base, base)
	hooks := &ghwebhook.Sender{URL: base, Secret: secret}

	// 1. A pull request.
	mainSHA, _ := repo.Head()
	if err := repo.Branch("ship-v2"); err != nil {
		return err
	}
	if err := repo.WriteFiles(fixture.ShipV2()); err != nil {
		return err
	}
	head, err := repo.Commit("Ship v2: new API message, new page, wider network")
	if err != nil {
		return err
	}
	if err := repo.Push("ship-v2"); err != nil {
		return err
	}
	// GitHub knows the pull request (the runner checks its head before posting a plan comment).
	st.GitHub.SeedPull(repoName, fakegithub.Pull{Number: 1, Title: "Ship v2", HeadSHA: head, HeadRef: "ship-v2", BaseRef: "main"})
	p.step("Pull request #1 opened: changes terraform/modules/network, apps/backend, apps/frontend")
	prRun, err := deliver(ctx, p, hooks, "pull_request", prEvent(git.URL(repoName), head, mainSHA))
	if err != nil {
		return err
	}
	run, err := follow(ctx, p, beat, base, prRun)
	if err != nil {
		return err
	}
	p.info("changed files: %s", strings.Join(run.Changed, ", "))
	p.info("affected environments: %s (staging and prod only through module platform -> network)", strings.Join(run.Environments, ", "))
	for _, s := range st.GitHub.Statuses(repoName, head) {
		if s.State != "pending" {
			p.info("commit status %-24s %-8s %s", s.Context, s.State, s.Description)
		}
	}
	comments := st.GitHub.Comments(repoName, 1)
	p.info("%d sticky plan comments on the pull request; the one for dev:", len(comments))
	for _, c := range comments {
		if strings.Contains(c.Body, "plan: `dev`") {
			p.quote(c.Body, 30)
		}
	}

	// 2. The merge.
	if err := repo.Checkout("main"); err != nil {
		return err
	}
	merge, err := repo.Merge("ship-v2", "Merge pull request #1 from acme/ship-v2")
	if err != nil {
		return err
	}
	if err := repo.Push("main"); err != nil {
		return err
	}
	st.GitHub.SeedPull(repoName, fakegithub.Pull{Number: 1, Title: "Ship v2", State: "closed", Merged: true, MergeCommitSHA: merge, HeadSHA: head, HeadRef: "ship-v2", BaseRef: "main"})
	for _, e := range envs {
		st.ECS.Deploy(e+"-cluster", e+"-api", e+"-api:2", fakeaws.Stabilize, 3)
	}
	p.step("Pull request merged: push to main %s", merge[:12])
	deployRun, err := deliver(ctx, p, hooks, "push", pushEvent(git.URL(repoName), mainSHA, merge))
	if err != nil {
		return err
	}
	run, err = follow(ctx, p, beat, base, deployRun)
	if err != nil {
		return err
	}
	p.step("What the deploy left behind")
	for _, s := range run.Stages {
		if strings.HasPrefix(s.Name, "image:") {
			p.info("image in the registry: %s", s.Output["ref"])
		}
	}
	p.info("bundle in S3: s3://demo-artifacts/frontend/%s.tar.gz", merge)
	for _, t := range st.ECS.TasksStarted() {
		p.info("migration task in %s: %s %s, %s", t.Cluster, t.Images["api"], strings.Join(t.Command["api"], " "), t.Status)
	}
	for _, e := range envs {
		for _, r := range st.ASG.Refreshes(e + "-frontend") {
			p.info("instance refresh %s on %s-frontend: %s", r.ID, e, r.Status)
		}
	}
	for _, m := range st.Slack.Messages() {
		p.info("Slack message in %s (posted once, updated %d times):", m.Channel, m.Edits)
		p.quote(m.BlockText(), 20)
	}
	for _, d := range st.GitHub.Deployments(repoName) {
		sts := st.GitHub.DeploymentStatuses(d.ID)
		if len(sts) > 0 {
			p.info("GitHub deployment to %s: %s", d.Environment, sts[len(sts)-1].State)
		}
	}
	for _, c := range st.GitHub.Comments(repoName, 1) {
		if strings.Contains(c.Body, "Deploy of") {
			p.info("comment on the merged pull request:")
			p.quote(c.Body, 12)
		}
	}
	if run.Status != store.StatusSucceeded {
		return fmt.Errorf("the deploy ended %s: %s", run.Status, run.Error)
	}
	p.step("Done: run %d planned the PR, run %d deployed it. Runs: %s/api/runs", prRun, deployRun, base)
	beat.end()
	return finish(ctx, p, opts.Keep, base)
}

// finish ends a successful story. The last line points at the dashboard only while it is up; kept
// up, the demo serves until interrupted and an interrupt after success is not a failure.
func finish(ctx context.Context, p *printer, keep bool, base string) error {
	if !keep {
		p.info("The runner has stopped. To keep its dashboard up after the story: runner demo -keep (or make demo KEEP=1)")
		return nil
	}
	p.info("Dashboard: %s/ (serving until interrupted: Ctrl-C)", base)
	<-ctx.Done()
	return nil
}

func repository(cloneURL string) *github.Repository {
	return &github.Repository{FullName: github.String(repoName), Name: github.String("platform"), CloneURL: github.String(cloneURL),
		Owner: &github.User{Login: github.String("acme")}, DefaultBranch: github.String("main")}
}

func prEvent(cloneURL, head, base string) any {
	return &github.PullRequestEvent{
		Action: github.String("opened"), Number: github.Int(1), Repo: repository(cloneURL), Sender: &github.User{Login: github.String("dana")},
		PullRequest: &github.PullRequest{
			Number: github.Int(1), Title: github.String("Ship v2"), State: github.String("open"),
			User: &github.User{Login: github.String("dana")},
			Head: &github.PullRequestBranch{SHA: github.String(head), Ref: github.String("ship-v2"), Repo: repository(cloneURL)},
			Base: &github.PullRequestBranch{SHA: github.String(base), Ref: github.String("main"), Repo: repository(cloneURL)},
		},
	}
}

func pushEvent(cloneURL, before, after string) any {
	return &github.PushEvent{
		Ref: github.String("refs/heads/main"), Before: github.String(before), After: github.String(after),
		Repo: &github.PushEventRepository{FullName: github.String(repoName), Name: github.String("platform"), CloneURL: github.String(cloneURL),
			DefaultBranch: github.String("main")},
		Sender: &github.User{Login: github.String("dana")},
		HeadCommit: &github.HeadCommit{ID: github.String(after), Message: github.String("Merge pull request #1"),
			Author: &github.CommitAuthor{Name: github.String("Dana Dev")}},
	}
}

// deliver sends a signed webhook like GitHub does and returns the run id.
func deliver(ctx context.Context, p *printer, hooks *ghwebhook.Sender, event string, payload any) (int64, error) {
	r, err := hooks.Send(ctx, event, payload)
	if err != nil {
		return 0, err
	}
	if r.Status != http.StatusAccepted {
		return 0, fmt.Errorf("%s webhook answered %d: %s", event, r.Status, r.Error)
	}
	p.info("signed %s webhook -> %d Accepted, run %d", event, r.Status, r.Run)
	return r.Run, nil
}

// follow prints stage transitions until the run ends.
func follow(ctx context.Context, p *printer, beat *heartbeat, base string, id int64) (store.Run, error) {
	seen := map[int64]string{}
	beat.set(fmt.Sprintf("waiting for run %d to start", id))
	for {
		resp, err := http.Get(fmt.Sprintf("%s/api/runs/%d?tail=0", base, id))
		if err != nil {
			return store.Run{}, err
		}
		var run store.Run
		err = json.NewDecoder(resp.Body).Decode(&run)
		resp.Body.Close()
		if err != nil {
			return store.Run{}, err
		}
		var running []string
		for _, s := range run.Stages {
			if s.Status == store.StageRunning {
				running = append(running, stageName(s))
			}
			state := s.Status + s.Detail + s.WaitingFor
			if seen[s.ID] == state || s.Status == store.StagePending {
				continue
			}
			seen[s.ID] = state
			name := stageName(s)
			detail := s.Detail
			if s.Status == store.StageWaiting {
				detail = s.WaitingFor
			}
			p.info("  %-22s %-9s %s", name, s.Status, detail)
		}
		if len(running) > 0 {
			beat.set(fmt.Sprintf("running %s in run %d", strings.Join(running, ", "), id))
		}
		if store.Finished(run.Status) {
			p.info("run %d %s %s", id, run.Status, run.Error)
			return run, nil
		}
		select {
		case <-ctx.Done():
			return store.Run{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func stageName(s store.Stage) string {
	if s.Env != "" {
		return s.Env + "/" + s.Name
	}
	return s.Name
}

type printer struct {
	mu   sync.Mutex
	w    io.Writer
	n    int
	last time.Time // when the story last printed: heartbeats only fill silence
}

func (p *printer) printf(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, a...)
	p.last = time.Now()
}

// beat prints an info line if nothing was printed for quiet.
func (p *printer) beat(now time.Time, quiet time.Duration, format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Sub(p.last) < quiet {
		return
	}
	fmt.Fprintf(p.w, "   %s\n", fmt.Sprintf(format, a...))
	p.last = now
}

func (p *printer) step(format string, a ...any) {
	p.mu.Lock()
	p.n++
	n := p.n
	p.mu.Unlock()
	p.printf("\n%d. %s\n", n, fmt.Sprintf(format, a...))
}

func (p *printer) info(format string, a ...any) {
	p.printf("   %s\n", fmt.Sprintf(format, a...))
}

func (p *printer) quote(text string, maxLines int) {
	var b strings.Builder
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		if i == maxLines {
			fmt.Fprintf(&b, "     | ... (%d more lines)\n", len(lines)-maxLines)
			break
		}
		fmt.Fprintf(&b, "     | %s\n", l)
	}
	p.printf("%s", b.String())
}
