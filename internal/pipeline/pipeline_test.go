package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/gitrepo"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/tf"
)

const testRepo = "acme/platform"

// fakeTerraform records what it planned and applied; hooks let a test act while a plan runs.
type fakeTerraform struct {
	mu        sync.Mutex
	plans     []string // env@sha
	applies   []string
	onPlan    func(ctx context.Context, req PlanRequest)
	resources []tf.ResourceChange  // what every plan changes (default: nothing listed)
	outputs   map[string]string    // what every apply returns
	current   map[string]string    // what Outputs returns (the state before an apply)
	drift     []tf.DriftedResource // what every plan's refresh finds changed outside Terraform
}

func (f *fakeTerraform) Plan(ctx context.Context, req PlanRequest) (PlanResult, error) {
	f.mu.Lock()
	f.plans = append(f.plans, req.Env)
	hook := f.onPlan
	f.mu.Unlock()
	if hook != nil {
		hook(ctx, req)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// A saved plan of its own each time, as Terraform writes one.
	if err := os.WriteFile(req.PlanFile, []byte(fmt.Sprintf("plan %d of %s", len(f.plans), req.Env)), 0o600); err != nil {
		return PlanResult{}, err
	}
	return PlanResult{Summary: tf.Summary{Environment: req.Env, Add: 1, Resources: f.resources, Drift: f.drift}, Text: "+ terraform_data.a"}, nil
}

func (f *fakeTerraform) Apply(ctx context.Context, req ApplyRequest) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applies = append(f.applies, req.Env+"@"+filepath.Base(filepath.Dir(filepath.Dir(req.PlanFile))))
	return maps.Clone(f.outputs), nil
}

// fakeRollouts counts service waits and instance refreshes; onWait lets a test act during a wait.
type fakeRollouts struct {
	mu        sync.Mutex
	waits     int
	refreshes int
	onWait    func(ctx context.Context) error
}

func (f *fakeRollouts) WaitService(ctx context.Context, cluster, service string, log io.Writer) (string, error) {
	f.mu.Lock()
	f.waits++
	hook := f.onWait
	f.mu.Unlock()
	if hook != nil {
		if err := hook(ctx); err != nil {
			return "", err
		}
	}
	return "stable", nil
}

func (f *fakeRollouts) RefreshInstances(ctx context.Context, asg string, prefs config.Refresh, log io.Writer) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshes++
	return "refreshed", nil
}

func (f *fakeTerraform) Outputs(ctx context.Context, req ApplyRequest) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.current), nil
}

func (f *fakeTerraform) calls() (plans, applies []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.plans...), append([]string(nil), f.applies...)
}

// fakePRs records commit statuses.
type fakePRs struct {
	mu       sync.Mutex
	statuses []string       // context=state: description
	comments []string       // env@sha of each plan comment posted
	heads    map[int]string // PullHead answers; a PR not here is "not found"
}

func (f *fakePRs) UpsertPlanComment(ctx context.Context, repo string, pr int, env, summary, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.comments = append(f.comments, env+"@"+summary)
	return nil
}

func (f *fakePRs) PullHead(ctx context.Context, repo string, pr int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if head, ok := f.heads[pr]; ok {
		return head, nil
	}
	return "", fmt.Errorf("pull request %s#%d: 404 Not Found", repo, pr)
}

func (f *fakePRs) SetStatus(ctx context.Context, repo, sha, statusContext, state, desc, url string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses = append(f.statuses, statusContext+"="+state+": "+desc)
	return nil
}

func (f *fakePRs) all() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.statuses...)
}

// fakeDeploys records GitHub deployment statuses and merged-PR comments.
type fakeDeploys struct {
	mu       sync.Mutex
	statuses []string
	comments []string
}

func (f *fakeDeploys) CreateDeployment(ctx context.Context, repo, sha, env, desc string) (int64, error) {
	return int64(len(env)), nil
}

func (f *fakeDeploys) SetDeploymentStatus(ctx context.Context, repo string, id int64, state, desc, logURL, envURL string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses = append(f.statuses, state+": "+desc)
	return nil
}

func (f *fakeDeploys) CommentOnMergedPR(ctx context.Context, repo, sha, body string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.comments = append(f.comments, body)
	return 1, nil
}

// fakeImages builds nothing; onBuild lets a test act during a build.
type fakeImages struct {
	onBuild func(ctx context.Context) error
}

func (f *fakeImages) BuildAndPush(ctx context.Context, req ImageRequest) (string, error) {
	if f.onBuild != nil {
		if err := f.onBuild(ctx); err != nil {
			return "", err
		}
	}
	return "registry.example.com/backend@sha256:" + strings.Repeat("1", 64), nil
}

// harness is an engine over a real SQLite store and a real git repository served by file://.
type harness struct {
	t       testing.TB
	st      *store.Store
	repo    *fixture.Repo
	url     string
	tf      *fakeTerraform
	prs     *fakePRs
	deploys *fakeDeploys
	images  *fakeImages
	rollout *fakeRollouts
	e       *Engine
	n       int
	store   Store // what the engine sees (the real store unless a test wraps it)
	deps    Deps
	opts    Options
}

// with rebuilds the engine with changed collaborators.
func (h *harness) with(mod func(*Deps)) {
	h.t.Helper()
	d := h.deps
	mod(&d)
	e, err := New(d, h.opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.e = e
}

func newHarness(t testing.TB, fo fixture.Options, tune func(*Options), wrap func(Store) Store) *harness {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fo.StateDir = filepath.Join(dir, "state")
	repo, err := fixture.Create(filepath.Join(dir, "repo"), testRepo, fo)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, repo: repo, url: "file://" + repo.Remote, tf: &fakeTerraform{}, prs: &fakePRs{},
		deploys: &fakeDeploys{}, images: &fakeImages{}, rollout: &fakeRollouts{}, store: st}
	if wrap != nil {
		h.store = wrap(st)
	}
	opts := Options{WorkDir: filepath.Join(dir, "work"), LockPoll: 10 * time.Millisecond, Holder: "test",
		Isolation: Isolation{Isolated: true, Describe: "test sandbox"}}
	if tune != nil {
		tune(&opts)
	}
	h.deps, h.opts = Deps{
		Store: h.store, Git: gitrepo.NewMirrors(filepath.Join(dir, "mirrors"), gitrepo.Auth{}, nil),
		Terraform: h.tf, PRs: h.prs, Deploys: h.deploys, Images: h.images, Rollouts: h.rollout,
		Logger: slog.New(slog.DiscardHandler),
	}, opts
	h.e, err = New(h.deps, opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// commit writes files on branch, commits, pushes and returns the SHA.
func (h *harness) commit(branch string, files map[string]string) string {
	h.t.Helper()
	if err := h.repo.Branch(branch); err != nil {
		h.t.Fatal(err)
	}
	if err := h.repo.WriteFiles(files); err != nil {
		h.t.Fatal(err)
	}
	sha, err := h.repo.Commit("change " + branch)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.repo.Push(branch); err != nil {
		h.t.Fatal(err)
	}
	return sha
}

func (h *harness) accept(ev event.Event) int64 {
	h.t.Helper()
	h.n++
	ev.DeliveryID = fmt.Sprintf("delivery-%d", h.n)
	ev.Repo, ev.CloneURL, ev.Sender = testRepo, h.url, "dana"
	rec, err := h.st.Accept(context.Background(), ev, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return rec.Run
}

func (h *harness) push(sha, before string) int64 {
	return h.accept(event.Event{Name: "push", Kind: event.KindDeploy, SHA: sha, BaseSHA: before, Ref: "refs/heads/main"})
}

func (h *harness) pullRequest(pr int, head, base, branch string) int64 {
	return h.accept(event.Event{Name: "pull_request", Action: "opened", Kind: event.KindPlan, SHA: head, BaseSHA: base,
		Ref: "refs/heads/" + branch, BaseRef: "main", PR: pr})
}

func (h *harness) run(id int64) store.Run {
	h.t.Helper()
	r, err := h.st.Run(context.Background(), id, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) stage(id int64, env, name string) store.Stage {
	h.t.Helper()
	for _, s := range h.run(id).Stages {
		if s.Env == env && s.Name == name {
			return s
		}
	}
	h.t.Fatalf("run %d has no stage %s/%s", id, env, name)
	return store.Stage{}
}

func tfFile(name string) string {
	return fmt.Sprintf("resource \"terraform_data\" %q {\n  input = 1\n}\n", name)
}

// An older push whose run reaches an environment after a newer push's run has
// deployed it must not roll the environment back to the older commit.
func TestOlderPushNeverRollsBackANewerDeploy(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, nil, nil)
	initial, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	older := h.commit("main", map[string]string{"environments/dev/a.tf": tfFile("a")})
	newer := h.commit("main", map[string]string{"environments/dev/b.tf": tfFile("b")})
	olderRun, newerRun := h.push(older, initial), h.push(newer, older)

	// Two workers: the newer push's run happens to take dev's lock first.
	if err := h.e.Execute(ctx, newerRun); err != nil {
		t.Fatal(err)
	}
	if err := h.e.Execute(ctx, olderRun); err != nil {
		t.Fatal(err)
	}
	_, applies := h.tf.calls()
	want := []string{fmt.Sprintf("dev@run-%d", newerRun)}
	if fmt.Sprint(applies) != fmt.Sprint(want) {
		t.Errorf("applies = %v, want only the newer push's %v", applies, want)
	}
	d, err := h.st.LastDeployment(ctx, testRepo, "dev")
	if err != nil || d.SHA != newer {
		t.Errorf("last deployment of dev = %s, %v; want the newer commit %s", short(d.SHA), err, short(newer))
	}
	if r := h.run(olderRun); r.Status == store.StatusFailed {
		t.Errorf("older run %s: %s; want it to step aside, not fail", r.Status, r.Error)
	}
	h.deploys.mu.Lock()
	defer h.deploys.mu.Unlock()
	wantStatus := "inactive: not deployed: newer commit " + short(newer) + " already deployed"
	if n := len(h.deploys.statuses); n == 0 || h.deploys.statuses[n-1] != wantStatus {
		t.Errorf("deployment statuses = %q, want the older run's to end with %q", h.deploys.statuses, wantStatus)
	}
	if n := len(h.deploys.comments); n == 0 || !strings.Contains(h.deploys.comments[n-1], "| dev | skipped: newer commit "+short(newer)+" already deployed |") {
		t.Errorf("merged PR comments = %q, want the older run's to say dev was skipped for the newer commit", h.deploys.comments)
	}
}

// A run that waited for one environment's lock comes back for that environment
// only: an environment it already planned needs no lock, is not planned again,
// and its stage stays succeeded.
func TestResumedPlanDoesNotRelockPlannedEnvironments(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, fixture.Options{Environments: []string{"dev", "prod"}, NoApps: true}, nil, nil)
	base, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	head := h.commit("feature", map[string]string{"environments/dev/a.tf": tfFile("a"), "environments/prod/a.tf": tfFile("a")})
	id := h.pullRequest(7, head, base, "feature")

	if ok, _, err := h.st.TryLock(ctx, testRepo, "prod", "run 99 on elsewhere", 99, time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	var waiting *WaitingError
	if err := h.e.Execute(ctx, id); !errors.As(err, &waiting) {
		t.Fatalf("first attempt = %v, want a WaitingError for prod's lock", err)
	}
	if s := h.stage(id, "dev", StagePlan); s.Status != store.StageSucceeded {
		t.Fatalf("dev plan after the first attempt: %s", s.Status)
	}

	// Now a deploy holds dev and prod is free: the run can finish prod.
	if ok, _, err := h.st.TryLock(ctx, testRepo, "dev", "run 98 on elsewhere", 98, time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := h.st.ReleaseLock(ctx, testRepo, "prod", "", "done"); err != nil {
		t.Fatal(err)
	}
	if err := h.e.Execute(ctx, id); err != nil {
		t.Fatalf("second attempt = %v, want the run to finish", err)
	}
	if r := h.run(id); r.Status != store.StatusSucceeded {
		t.Errorf("run %s: %s", r.Status, r.Error)
	}
	if s := h.stage(id, "dev", StagePlan); s.Status != store.StageSucceeded {
		t.Errorf("dev plan stage = %s, want still succeeded", s.Status)
	}
	plans, _ := h.tf.calls()
	if strings.Count(strings.Join(plans, ","), "dev") != 1 || strings.Count(strings.Join(plans, ","), "prod") != 1 {
		t.Errorf("plans = %v, want dev and prod once each", plans)
	}
}

// When the runner stops while some environments of a pull request have not
// started planning, the run is left to resume, never finished as succeeded.
func TestStoppingRunnerNeverFinishesAPartlyPlannedRun(t *testing.T) {
	h := newHarness(t, fixture.Options{Environments: []string{"dev", "prod"}, NoApps: true}, func(o *Options) { o.PlanParallelism = 1 }, nil)
	base, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	head := h.commit("feature", map[string]string{"environments/dev/a.tf": tfFile("a"), "environments/prod/a.tf": tfFile("a")})
	id := h.pullRequest(8, head, base, "feature")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The runner is told to stop while the first environment plans; the other waits for a slot.
	h.tf.onPlan = func(context.Context, PlanRequest) { cancel() }

	if err := h.e.Execute(ctx, id); !errors.Is(err, ErrAbandoned) {
		t.Errorf("Execute = %v, want ErrAbandoned", err)
	}
	r := h.run(id)
	if store.Finished(r.Status) {
		t.Errorf("run finished as %s with stages %+v; want it left to resume", r.Status, r.Stages)
	}
}

// A run stopped while it waits for a lock leaves no "error" status on the pull
// request: it resumes and plans.
func TestStoppingWhileWaitingForALockPostsNoError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, func(o *Options) { o.LockPoll = 50 * time.Millisecond },
		func(s Store) Store { return cancelOnWait{Store: s, cancel: cancel} })
	base, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	head := h.commit("feature", map[string]string{"environments/dev/a.tf": tfFile("a")})
	id := h.pullRequest(9, head, base, "feature")
	if ok, _, err := h.st.TryLock(ctx, testRepo, "dev", "run 99 on elsewhere", 99, time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := h.e.Execute(ctx, id); !errors.Is(err, ErrAbandoned) {
		t.Errorf("Execute = %v, want ErrAbandoned", err)
	}
	for _, s := range h.prs.all() {
		if strings.Contains(s, "=error") || strings.Contains(s, "=failure") {
			t.Errorf("status %q posted for a run that will resume", s)
		}
	}
}

// cancelOnWait stops the runner as soon as a stage starts waiting for a lock.
type cancelOnWait struct {
	Store
	cancel context.CancelFunc
}

func (c cancelOnWait) WaitStage(ctx context.Context, id int64, waitingFor string) error {
	err := c.Store.WaitStage(ctx, id, waitingFor)
	c.cancel()
	return err
}

// A deploy whose lock was taken from it (an operator's unlock, another run in)
// while it planned does not apply.
func TestDeployThatLostItsLockDoesNotApply(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, nil, nil)
	initial, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	sha := h.commit("main", map[string]string{"environments/dev/a.tf": tfFile("a")})
	id := h.push(sha, initial)
	h.tf.onPlan = func(context.Context, PlanRequest) {
		if _, err := h.st.ReleaseLock(ctx, testRepo, "dev", "", "unlocked by operator"); err != nil {
			t.Error(err)
		}
		if ok, _, err := h.st.TryLock(ctx, testRepo, "dev", "run 77 on elsewhere", 77, time.Minute); err != nil || !ok {
			t.Error("another run could not take the freed lock", ok, err)
		}
	}
	if err := h.e.Execute(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, applies := h.tf.calls(); len(applies) != 0 {
		t.Errorf("applies = %v, want none: the lock belonged to run 77", applies)
	}
	if r := h.run(id); r.Status != store.StatusFailed {
		t.Errorf("run %s, want failed", r.Status)
	}
	if s := h.stage(id, "dev", StageApply); s.Status != store.StageFailed || !strings.Contains(s.Detail, "lock") {
		t.Errorf("apply stage = %s %q, want failed for the lost lock", s.Status, s.Detail)
	}
}

// failingRenewals is a store whose lease renewals fail (the database is unreachable).
type failingRenewals struct{ Store }

func (failingRenewals) RenewLock(ctx context.Context, repo, env, holder string, lease time.Duration) error {
	return errors.New("renew lock: database unreachable")
}

// A holder that cannot renew its lease stops before the lease runs out, when
// another run may take the lock.
func TestHolderThatCannotRenewStopsBeforeItsLeaseEnds(t *testing.T) {
	const lease = time.Second
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, func(o *Options) { o.LockLease = lease },
		func(s Store) Store { return failingRenewals{s} })
	w := &work{e: h.e, run: store.Run{ID: 1, Event: event.Event{Repo: testRepo}}, log: slog.New(slog.DiscardHandler)}
	start := time.Now()
	lctx, release, err := w.lockEnv(context.Background(), "dev", store.StageKey{Env: "dev", Name: StagePlan}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	select {
	case <-lctx.Done():
		if !errors.Is(context.Cause(lctx), errLockLost) {
			t.Errorf("cause = %v, want errLockLost", context.Cause(lctx))
		}
		if took := time.Since(start); took >= lease {
			t.Errorf("stopped after %s, want before the lease of %s ran out", took, lease)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("work goes on although the lease could not be renewed")
	}
}

// A runner stopped during an image build leaves the run to resume: it does not
// mark the environments skipped nor tell the merged pull request the deploy ended.
func TestStoppingDuringImageBuildReportsNoOutcome(t *testing.T) {
	h := newHarness(t, fixture.Options{Environments: []string{"dev", "prod"}}, nil, nil)
	initial, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	sha := h.commit("main", fixture.ShipV2())
	id := h.push(sha, initial)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.images.onBuild = func(ctx context.Context) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	if err := h.e.Execute(ctx, id); !errors.Is(err, ErrAbandoned) {
		t.Errorf("Execute = %v, want ErrAbandoned", err)
	}
	for _, s := range h.run(id).Stages {
		if s.Status == store.StageSkipped {
			t.Errorf("stage %s/%s skipped (%s) by a stopping runner", s.Env, s.Name, s.Detail)
		}
	}
	h.deploys.mu.Lock()
	defer h.deploys.mu.Unlock()
	if len(h.deploys.comments) != 0 {
		t.Errorf("merged pull request told %q, want nothing until the run resumes", h.deploys.comments)
	}
	for _, st := range h.deploys.statuses {
		if strings.HasPrefix(st, "error") || strings.HasPrefix(st, "failure") {
			t.Errorf("deployment status %q posted by a stopping runner", st)
		}
	}
}

// A deploy that loses its lock mid-stage fails the environment completely: no
// stage of a finished run is left pending.
func TestDeployThatLosesItsLeaseLeavesNoPendingStage(t *testing.T) {
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true},
		func(o *Options) { o.LockLease = 300 * time.Millisecond },
		func(s Store) Store { return failingRenewals{s} })
	initial, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	id := h.push(h.commit("main", map[string]string{"environments/dev/a.tf": tfFile("a")}), initial)
	h.tf.onPlan = func(ctx context.Context, _ PlanRequest) { <-ctx.Done() } // a long plan, cut short by the lost lease
	if err := h.e.Execute(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	r := h.run(id)
	if r.Status != store.StatusFailed {
		t.Errorf("run %s, want failed", r.Status)
	}
	for _, s := range r.Stages {
		if s.Status == store.StagePending || s.Status == store.StageRunning {
			t.Errorf("stage %s/%s left %s in a finished run", s.Env, s.Name, s.Status)
		}
	}
}

// A run resumed after its apply (the runner stopped while the ECS service was
// rolling out) did not plan again, yet still waits for the service its applied
// plan changed, and records that plan's summary.
func TestResumedDeployStillWaitsForTheServiceItChanged(t *testing.T) {
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, nil, nil)
	h.tf.resources = []tf.ResourceChange{{Address: "module.app.aws_ecs_service.api", Action: "update"}}
	h.tf.outputs = map[string]string{"ecs_cluster_name": "platform", "ecs_service_name": "api"}
	initial, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	id := h.push(h.commit("main", map[string]string{"environments/dev/a.tf": tfFile("a")}), initial)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.rollout.onWait = func(ctx context.Context) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	if err := h.e.Execute(ctx, id); !errors.Is(err, ErrAbandoned) {
		t.Fatalf("Execute = %v, want ErrAbandoned", err)
	}
	h.rollout.onWait = nil
	if err := h.e.Execute(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if plans, applies := h.tf.calls(); len(plans) != 1 || len(applies) != 1 {
		t.Errorf("plans %v, applies %v; want one each (the resumed run applies nothing again)", plans, applies)
	}
	if h.rollout.waits != 2 {
		t.Errorf("service waits = %d, want 2 (the interrupted one and the resumed one)", h.rollout.waits)
	}
	if s := h.stage(id, "dev", StageService); s.Status != store.StageSucceeded {
		t.Errorf("ecs stage after the resume: %s (%s), want succeeded", s.Status, s.Detail)
	}
	d, err := h.st.LastDeployment(context.Background(), testRepo, "dev")
	if err != nil || d.Summary != "1 to add, 0 to change, 0 to destroy, 0 to replace" {
		t.Errorf("recorded deployment summary %q (%v), want the applied plan's", d.Summary, err)
	}
}

// A run resumed after its apply that finds the environment's lock taken (another run locked it while
// this one was away, as when a replica is killed and its run taken over) waits for it without touching
// the plan it applied: the plan stage stays succeeded with its summary, and is not run again.
func TestResumedDeployWaitingForTheLockDoesNotPlanAgain(t *testing.T) {
	ctx := context.Background()
	other := &releaseOnBusy{}
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, nil, func(s Store) Store {
		other.Store = s
		return other
	})
	h.tf.resources = []tf.ResourceChange{{Address: "module.app.aws_ecs_service.api", Action: "update"}}
	h.tf.outputs = map[string]string{"ecs_cluster_name": "platform", "ecs_service_name": "api"}
	initial, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	id := h.push(h.commit("main", map[string]string{"environments/dev/a.tf": tfFile("a")}), initial)
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	h.rollout.onWait = func(ctx context.Context) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	if err := h.e.Execute(stop, id); !errors.Is(err, ErrAbandoned) {
		t.Fatalf("Execute = %v, want ErrAbandoned", err)
	}
	h.rollout.onWait = nil
	planned := h.stage(id, "dev", StagePlan)
	if ok, _, err := h.st.TryLock(ctx, testRepo, "dev", "another run", id+1, time.Minute); !ok || err != nil {
		t.Fatalf("another run's lock: %v, %v", ok, err)
	}
	other.release = func() {
		if _, err := h.st.ReleaseLock(ctx, testRepo, "dev", "another run", "done"); err != nil {
			t.Error(err)
		}
	}
	if err := h.e.Execute(ctx, id); err != nil {
		t.Fatal(err)
	}
	if !other.waited {
		t.Fatal("the resumed run never waited for the lock")
	}
	if plans, applies := h.tf.calls(); len(plans) != 1 || len(applies) != 1 {
		t.Errorf("plans %v, applies %v; want one each (the resumed run plans and applies nothing again)", plans, applies)
	}
	if s := h.stage(id, "dev", StagePlan); s.Status != store.StageSucceeded || s.Detail != planned.Detail {
		t.Errorf("plan stage after the resume: %s (%s), want %s (%s)", s.Status, s.Detail, planned.Status, planned.Detail)
	}
	if r := h.run(id); r.Status != store.StatusSucceeded {
		t.Errorf("run %s (%s), want succeeded", r.Status, r.Error)
	}
}

// releaseOnBusy releases another holder's lock once a run has found it taken.
type releaseOnBusy struct {
	Store
	once    sync.Once
	release func()
	waited  bool
}

func (r *releaseOnBusy) TryLock(ctx context.Context, repo, env, holder string, runID int64, lease time.Duration) (bool, store.Lock, error) {
	ok, cur, err := r.Store.TryLock(ctx, repo, env, holder, runID, lease)
	if !ok && err == nil && r.release != nil {
		r.once.Do(func() {
			r.waited = true
			r.release()
		})
	}
	return ok, cur, err
}

// A deploy waiting for an environment lock steps aside when a newer push's
// deploy is queued behind it (that one carries its changes too), freeing its
// worker instead of waiting to deploy a commit about to be replaced. The newer
// run, once the lock is free, deploys.
func TestWaitingDeployStepsAsideForANewerPush(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, nil, nil)
	initial, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	older := h.commit("main", map[string]string{"environments/dev/a.tf": tfFile("a")})
	newer := h.commit("main", map[string]string{"environments/dev/b.tf": tfFile("b")})
	olderRun := h.push(older, initial)
	// Someone else (another run, a person) holds dev.
	if ok, _, err := h.st.TryLock(ctx, testRepo, "dev", "someone else", 999, time.Minute); err != nil || !ok {
		t.Fatalf("take dev's lock: %v %v", ok, err)
	}
	done := make(chan error, 1)
	go func() { done <- h.e.Execute(ctx, olderRun) }()
	for start := time.Now(); h.stageStatus(olderRun, "dev", StagePlan) != store.StageWaiting; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 20*time.Second {
			t.Fatal("the older deploy never waited for dev's lock")
		}
	}
	newerRun := h.push(newer, older) // queued, not started: workers are busy
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the older deploy kept waiting for the lock although a newer push's deploy is queued")
	}
	if _, applies := h.tf.calls(); len(applies) != 0 {
		t.Errorf("applies = %v, want none by the superseded run", applies)
	}
	if s := h.stage(olderRun, "dev", StagePlan); s.Status != store.StageSkipped || !strings.Contains(s.Detail, fmt.Sprintf("superseded by run %d", newerRun)) {
		t.Errorf("older run's dev plan stage: %s (%s), want skipped as superseded", s.Status, s.Detail)
	}
	if r := h.run(olderRun); r.Status == store.StatusFailed {
		t.Errorf("older run %s (%s): stepping aside is not a failure", r.Status, r.Error)
	}

	if _, err := h.st.ReleaseLock(ctx, testRepo, "dev", "someone else", "test done"); err != nil {
		t.Fatal(err)
	}
	if err := h.e.Execute(ctx, newerRun); err != nil {
		t.Fatal(err)
	}
	if d, err := h.st.LastDeployment(ctx, testRepo, "dev"); err != nil || d.SHA != newer {
		t.Errorf("last deployment of dev = %s (%v), want the newer commit %s", short(d.SHA), err, short(newer))
	}
}

// stageStatus is a stage's status, "" while the run has no such stage yet.
func (h *harness) stageStatus(id int64, env, name string) string {
	h.t.Helper()
	for _, s := range h.run(id).Stages {
		if s.Env == env && s.Name == name {
			return s.Status
		}
	}
	return ""
}

// After a force-push the new head does not descend from the old one, so
// ancestry cannot tell which plan is newer: the old head's plan, delivered
// late, must still not replace the comment of the head GitHub shows now.
func TestLatePlanOfAForcePushedHeadLeavesTheCommentAlone(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, nil, nil)
	base, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	old := h.commit("feature", map[string]string{"environments/dev/a.tf": tfFile("a")})
	if err := h.repo.Checkout("main"); err != nil {
		t.Fatal(err)
	}
	if err := h.repo.Branch("rewritten"); err != nil {
		t.Fatal(err)
	}
	rewritten := h.commit("rewritten", map[string]string{"environments/dev/b.tf": tfFile("b")})
	h.prs.heads = map[int]string{7: rewritten}

	newRun := h.pullRequest(7, rewritten, base, "rewritten")
	if err := h.e.Execute(ctx, newRun); err != nil {
		t.Fatal(err)
	}
	oldRun := h.pullRequest(7, old, base, "feature") // delivered late
	if err := h.e.Execute(ctx, oldRun); err != nil {
		t.Fatal(err)
	}
	h.prs.mu.Lock()
	defer h.prs.mu.Unlock()
	if len(h.prs.comments) != 1 || !strings.Contains(h.prs.comments[0], short(rewritten)) {
		t.Errorf("plan comments = %q, want only the current head %s's", h.prs.comments, short(rewritten))
	}
}
