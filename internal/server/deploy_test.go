//go:build e2e

package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/server"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fakeaws"
	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
	"github.com/gitops-runner/runner/internal/testenv/fakeslack"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/testenv/stack"
)

var envs = []string{"dev", "staging", "prod"}

// newStackHarness is a runner whose every outside system is a stand-in: fake
// GitHub, Slack, ECR, Auto Scaling, ECS, S3 and a real registry, all reached
// through the real clients configured as in production.
func newStackHarness(t *testing.T, opts fixture.Options, mods ...func(*config.Server)) (*harness, *stack.Stack) {
	t.Helper()
	return newStackHarnessWith(t, opts, server.Collaborators{}, mods...)
}

// newStackHarnessWith is newStackHarness with some collaborators of the test's own.
func newStackHarnessWith(t *testing.T, opts fixture.Options, c server.Collaborators, mods ...func(*config.Server)) (*harness, *stack.Stack) {
	t.Helper()
	st := stack.Start()
	t.Cleanup(st.Close)
	st.GitHub.AddToken(gitToken)
	st.GitHub.SetCollaborator(repoName, prAuthor, fakegithub.Collaborator{Role: "write"})
	for _, e := range envs {
		if err := st.SeedEnvironment(context.Background(), e, "demo-artifacts"); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	opts.Bucket = "demo-artifacts"
	h := newRepoHarness(t, opts, func(c *config.Server) {
		c.GitHubAPIURL = st.GitHub.URL()
		c.SlackToken = stack.SlackToken
		c.SlackAPIURL = st.Slack.APIURL()
		c.AWSEndpoint = st.AWSEndpoint()
		c.AWSRegion = "us-east-1"
		c.RegistryInsecure = true
		c.RolloutPoll = 20 * time.Millisecond
		for _, mod := range mods {
			mod(c)
		}
	})
	h.start(c)
	return h, st
}

// changeEverything commits a change to both apps and a shared module on main.
func changeEverything(t *testing.T, h *harness, extra map[string]string) (before, after string) {
	t.Helper()
	before, _ = h.repo.Head()
	files := fixture.ShipV2()
	for k, v := range extra {
		files[k] = v
	}
	if err := h.repo.WriteFiles(files); err != nil {
		t.Fatal(err)
	}
	after, err := h.repo.Commit("Ship v2 of both apps and widen the network")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.repo.Push("main"); err != nil {
		t.Fatal(err)
	}
	return before, after
}

func mustRead(t *testing.T, dir, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMergeDeploysEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds images and runs Terraform")
	}
	h, st := newStackHarness(t, fixture.Options{})
	for _, e := range envs {
		st.ECS.Deploy(e+"-cluster", e+"-api", e+"-api:2", fakeaws.Stabilize, 2)
	}
	_, sha := changeEverything(t, h, nil)
	st.GitHub.SeedPull(repoName, fakegithub.Pull{Number: 12, Title: "Ship v2", State: "closed", Merged: true, MergeCommitSHA: sha, HeadSHA: sha, BaseRef: "main", HeadRef: "v2"})

	run := h.waitRun(h.accept("push", h.pushPayload(fixture.ZeroSHA, sha)), 5*time.Minute)
	if run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("deploy %s: %s", run.Status, run.Error)
	}
	stages := stageMap(run)
	ref := stages["image:backend"].Output["ref"]
	if !strings.Contains(ref, "/backend@sha256:") {
		t.Fatalf("image ref = %q", ref)
	}
	// Long steps show progress in their stage logs: the fetch, the resources applied, the layers pushed.
	for stage, want := range map[string]string{
		"checkout": "git: ", "dev/apply": "apply: ", "image:backend": "pushed layer 1/",
	} {
		if log := h.stageLogText(stages[stage].ID); !strings.Contains(log, want) {
			t.Errorf("stage %s log lacks progress %q:\n%s", stage, want, log)
		}
	}

	// The image is in the registry, labelled with the commit.
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r, remote.WithAuth(&authn.Basic{Username: "AWS", Password: stack.RegistryPassword}))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.Labels["org.opencontainers.image.revision"] != sha || !strings.HasSuffix(cfg.Config.Labels["org.opencontainers.image.source"], "acme/platform") {
		t.Fatalf("labels = %v", cfg.Config.Labels)
	}
	if got, _ := img.Digest(); !strings.HasSuffix(ref, got.String()) {
		t.Fatalf("registry digest %s, deployed %s", got, ref)
	}

	for _, e := range envs {
		// Terraform received the inputs: the release resource records them in state.
		state := mustRead(t, filepath.Join(h.cfg.DataDir, "..", "state"), e+".tfstate")
		if !strings.Contains(state, ref) || !strings.Contains(state, sha) {
			t.Fatalf("%s state does not hold backend_image %s and frontend_version %s", e, ref, sha)
		}
		refreshes := st.ASG.Refreshes(e + "-frontend")
		if len(refreshes) != 1 || refreshes[0].Status != "Successful" {
			t.Fatalf("%s refreshes = %+v", e, refreshes)
		}
		if p := refreshes[0].Preferences; p.MinHealthyPercentage == nil || *p.MinHealthyPercentage != 90 {
			t.Fatalf("%s refresh preferences = %+v", e, p)
		}
		if s := stages[e+"/ecs"]; s.Status != store.StageSucceeded {
			t.Fatalf("%s ecs stage %s %s", e, s.Status, s.Detail)
		}
	}
	// The bundle is in S3 under the commit.
	obj, err := st.S3.Client().HeadObject(context.Background(), headObject("demo-artifacts", "frontend/"+sha+".tar.gz"))
	if err != nil {
		t.Fatalf("bundle not uploaded: %v", err)
	}
	if obj.Metadata["sha256"] == "" {
		t.Fatalf("bundle metadata = %v", obj.Metadata)
	}

	// Slack: one message, created then updated.
	msgs := waitFor(t, func() []fakeslack.Message { return st.Slack.Messages() }, func(m []fakeslack.Message) bool {
		return len(m) == 1 && m[0].Edits > 0 && strings.Contains(m[0].BlockText(), "refresh")
	})
	if !strings.Contains(msgs[0].BlockText(), "acme/platform") {
		t.Fatalf("slack message: %s", msgs[0].BlockText())
	}
	// GitHub: a deployment per environment ending in success, and a comment on the merged PR.
	deps := st.GitHub.Deployments(repoName)
	if len(deps) != 3 {
		t.Fatalf("deployments = %+v", deps)
	}
	for _, d := range deps {
		sts := st.GitHub.DeploymentStatuses(d.ID)
		if len(sts) == 0 || sts[len(sts)-1].State != "success" {
			t.Fatalf("deployment %s statuses = %+v", d.Environment, sts)
		}
	}
	comments := st.GitHub.Comments(repoName, 12)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, "succeeded") {
		t.Fatalf("merged PR comments = %+v", comments)
	}

	// A second push that changes only infrastructure keeps the deployed app versions.
	if err := h.repo.WriteFiles(map[string]string{"environments/dev/extra.tf": "resource \"terraform_data\" \"extra\" {\n  input = 1\n}\n"}); err != nil {
		t.Fatal(err)
	}
	sha2, _ := h.repo.Commit("Infrastructure only")
	_ = h.repo.Push("main")
	run2 := h.waitRun(h.accept("push", h.pushPayload(sha, sha2)), 3*time.Minute)
	if run2.Status != store.StatusSucceeded || !reflectEqual(run2.Environments, []string{"dev"}) {
		dumpRun(t, run2)
		t.Fatalf("infra-only deploy %s envs %v: %s", run2.Status, run2.Environments, run2.Error)
	}
	state := mustRead(t, filepath.Join(h.cfg.DataDir, "..", "state"), "dev.tfstate")
	if !strings.Contains(state, ref) {
		t.Fatal("an infrastructure-only deploy rolled the backend image back")
	}
	if s := stageMap(run2)["dev/refresh"]; s.Status != store.StageSkipped {
		t.Fatalf("dev refresh after infra-only change = %s", s.Status)
	}
}

func TestRefreshFailureStopsLaterEnvironments(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h, st := newStackHarness(t, fixture.Options{})
	st.ASG.ScriptNextRefresh(fakeaws.Fail, 2, "Instance failed to pass ELB health checks")
	_, sha := changeEverything(t, h, nil)
	run := h.waitRun(h.accept("push", h.pushPayload(fixture.ZeroSHA, sha)), 5*time.Minute)
	if run.Status != store.StatusFailed || !strings.Contains(run.Error, "dev") {
		dumpRun(t, run)
		t.Fatalf("run %s: %s", run.Status, run.Error)
	}
	stages := stageMap(run)
	if s := stages["dev/refresh"]; s.Status != store.StageFailed || !strings.Contains(s.Detail, "ELB health checks") {
		t.Fatalf("dev refresh = %s %q, want failed with AWS's reason", s.Status, s.Detail)
	}
	for _, e := range []string{"staging", "prod"} {
		for _, n := range []string{"plan", "apply", "refresh"} {
			if s := stages[e+"/"+n]; s.Status != store.StageSkipped {
				t.Fatalf("%s/%s = %s, want skipped", e, n, s.Status)
			}
		}
	}
	msgs := waitFor(t, st.Slack.Messages, func(m []fakeslack.Message) bool { return len(m) == 1 && len(st.Slack.Thread(m[0].TS)) > 0 })
	thread := st.Slack.Thread(msgs[0].TS)
	if !strings.Contains(thread[0].Text+thread[0].BlockText(), "ELB health checks") {
		t.Fatalf("slack thread does not explain the failure: %+v", thread)
	}
}

func TestSlackOutageDoesNotFailDeploy(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h, st := newStackHarness(t, fixture.Options{Environments: []string{"dev"}})
	st.Slack.Down(fakeslack.Failure{Status: 500})
	_, sha := changeEverything(t, h, nil)
	start := time.Now()
	run := h.waitRun(h.accept("push", h.pushPayload(fixture.ZeroSHA, sha)), 5*time.Minute)
	if run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("deploy with Slack down: %s: %s", run.Status, run.Error)
	}
	t.Logf("deploy with Slack down took %s", time.Since(start).Round(time.Millisecond))
	var lastStage time.Time
	for _, s := range run.Stages {
		if s.Finished.After(lastStage) {
			lastStage = s.Finished
		}
	}
	if lag := run.Finished.Sub(lastStage); lag > 2*time.Second {
		t.Fatalf("the run ended %s after its last stage: Slack being down slowed the deploy", lag)
	}
	if len(st.Slack.Messages()) != 0 {
		t.Fatal("Slack was down yet holds messages")
	}
}

func waitFor[T any](t *testing.T, get func() T, ok func(T) bool) T {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v := get()
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within 20s; last value %+v", v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Without artifacts_bucket in .runner.yaml the bundle goes to the bucket the
// environment's Terraform outputs; an environment never applied says so clearly.
func TestBundleBucketFromTerraformOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h, st := newStackHarness(t, fixture.Options{Environments: []string{"dev", "prod"}, BucketFromOutputs: true})
	// dev's infrastructure exists (applied by hand during bootstrap); prod's does not.
	dev := filepath.Join(h.repo.Dir, "environments", "dev")
	for _, args := range [][]string{{"init", "-input=false"}, {"apply", "-input=false", "-auto-approve"}} {
		cmd := exec.Command(h.cfg.TerraformBin, args...)
		cmd.Dir = dev
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("terraform %s: %v\n%s", args[0], err, out)
		}
	}
	// The hand apply ran as root; the runner's sandboxed Terraform must be able to write that state.
	shareWithSandbox(t, h.cfg.SandboxReadWrite...)
	_, sha := changeEverything(t, h, nil)
	run := h.waitRun(h.accept("push", h.pushPayload(fixture.ZeroSHA, sha)), 5*time.Minute)
	stages := stageMap(run)
	if s := stages["dev/bundle:frontend"]; s.Status != store.StageSucceeded {
		dumpRun(t, run)
		t.Fatalf("dev bundle = %s %s", s.Status, s.Detail)
	}
	if _, err := st.S3.Client().HeadObject(context.Background(), headObject("demo-artifacts", "frontend/"+sha+".tar.gz")); err != nil {
		t.Fatalf("bundle not in the bucket named by the output: %v", err)
	}
	if s := stages["prod/bundle:frontend"]; s.Status != store.StageFailed || !strings.Contains(s.Detail, "no artifacts bucket yet") {
		t.Fatalf("prod bundle = %s %q, want a clear failure", s.Status, s.Detail)
	}
}

// shareWithSandbox opens files written by hand (as root) in the sandbox's read-write paths to the
// sandbox users, as an operator would.
func shareWithSandbox(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Chmod(p, map[bool]os.FileMode{true: 0o777, false: 0o666}[e.IsDir()])
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
