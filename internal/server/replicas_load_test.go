//go:build e2e

package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/testenv/ghwebhook"
	"github.com/gitops-runner/runner/internal/testenv/postgres"
)

// The load of TestReplicasUnderLoadSurviveKills.
const (
	loadDeliveries = 2000
	loadDeploys    = 24  // pushes to main changing dev and prod: plans and applies (each apply sleeps)
	loadPlanPRs    = 8   // pull requests changing dev: plans only
	loadQuietPRs   = 160 // pull requests touching no environment
	loadRate       = 35  // first sends per second (duplicates come on top)
	loadSenders    = 16  // sender goroutines, sharing one keep-alive client
	loadReplicas   = 3
	loadKills      = 2
	loadApplySleep = 3 * time.Second // local-exec sleep in every apply: a kill finds one in flight
	loadLease      = 5 * time.Second // RUNNER_LOCK_LEASE: environment locks and replica heartbeats
	loadDowntime   = 3 * time.Second // a killed replica stays down this long before its restart
)

// Kinds of delivery.
const (
	kindFeature = "feature push" // push of main's head to a feature branch: checkout, nothing to do
	kindQuietPR = "quiet PR"     // pull request touching no environment
	kindPlanPR  = "plan PR"      // pull request changing dev: a plan
	kindDeploy  = "deploy push"  // push to main changing dev and prod: plans and applies
)

// How a delivery is sent a second time (GitHub redelivers under the same X-GitHub-Delivery id).
const (
	dupNone       = iota
	dupAfter      // to another replica once the first send is answered
	dupConcurrent // to two replicas at once
)

type loadDelivery struct {
	id, event, kind string
	body            []byte
	dup             int
	sha             string // deploy pushes: the commit
}

// loadOutcome is what the senders saw of one delivery: its first answer and, when sent again, the second.
type loadOutcome struct {
	first, second ghwebhook.Reply
	firstBy       int // replica that answered
	secondBy      int
	resends       int // sends that reached no live replica (killed, restarting) and went to the next
	err           error
}

// Three `runner serve` replicas on one PostgreSQL database take 2,000 signed deliveries round robin, a
// fifth of them sent a second time to another replica, while one replica is killed with SIGKILL twice
// (each time while it runs an apply) and restarted. Afterwards: every delivery has exactly one run, every
// run finished, no Terraform plan or apply completed twice for one run and environment (from a Terraform
// wrapper's command log), no two applies on one environment overlapped in time, and no lock of a killed
// holder was renewed after its death or outlived its lease by more than a takeover's delay.
func TestReplicasUnderLoadSurviveKills(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end load: builds the runner, starts three replicas and runs Terraform")
	}
	if os.Geteuid() != 0 {
		// Unsandboxed, the wrapper's Terraform would outlive a killed runner (only the wrapper dies with
		// it) and the overlap check would measure the test, not the runner.
		t.Skip("needs root: Terraform must run in the runner's namespaces sandbox, which dies with a killed runner")
	}
	ctx := context.Background()
	pg, err := postgres.Start(ctx)
	if errors.Is(err, postgres.ErrUnavailable) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Stop)
	url, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bin := runnerBinary(t)
	h := newRepoHarness(t, fixture.Options{Environments: []string{"dev", "prod"}, NoApps: true}, nil)
	wrapper, tfLog := terraformWrapper(t, h.cfg.TerraformBin)
	h.cfg.SandboxReadWrite = append(h.cfg.SandboxReadWrite, filepath.Dir(tfLog))
	env := []string{"RUNNER_DATABASE_URL=" + url, "RUNNER_TERRAFORM_BIN=" + wrapper,
		"RUNNER_SANDBOX=namespaces", "RUNNER_SANDBOX_READ_ONLY=" + h.cfg.TerraformBin,
		"RUNNER_LOCK_LEASE=" + loadLease.String(), "RUNNER_WORKERS=2"}
	st, err := store.OpenPostgres(ctx, url, store.PostgresOptions{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	logs := t.TempDir()
	reps := make([]*replica, loadReplicas)
	for i := range reps {
		name := fmt.Sprintf("replica-%c", 'a'+i)
		r := &replica{name: name, addr: freeAddr(t), h: *h, env: env}
		r.h.cfg.DataDir = filepath.Join(t.TempDir(), name)
		if r.logf, err = os.Create(filepath.Join(logs, name+".log")); err != nil {
			t.Fatal(err)
		}
		reps[i] = r
	}
	defer func() {
		if t.Failed() {
			for _, r := range reps {
				t.Logf("%s log, last lines:\n%s", r.name, tail(r.logf.Name(), 60))
			}
		}
	}()
	for _, r := range reps {
		r.start(t, bin)
	}

	// A first deploy through one replica: the environments exist before the load, and the wrapper is known
	// to see Terraform in the sandbox.
	head, _ := h.repo.Head()
	first := accept(t, reps[0], "setup-deploy", "push", h.pushPayload(fixture.ZeroSHA, head))
	if run := reps[0].h.waitRun(first, 3*time.Minute); run.Status != store.StatusSucceeded {
		dumpRun(t, run)
		t.Fatalf("first deploy %s: %s", run.Status, run.Error)
	}
	if cmds, err := readTerraformLog(tfLog); err != nil || !slices.ContainsFunc(cmds, func(c *tfCommand) bool { return c.verb == "apply" && c.run == first }) {
		t.Fatalf("the Terraform wrapper logged no apply of the first deploy (%v): is it used, can the sandbox write %s?", err, tfLog)
	}

	ds, lastSHA := loadDeliveriesFor(t, h, head)
	l := &loadRun{reps: reps, ds: ds, out: make([]loadOutcome, len(ds)), client: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: loadSenders, MaxConnsPerHost: loadSenders, IdleConnTimeout: time.Minute},
	}}
	defer l.client.CloseIdleConnections()
	lctx, stopLocks := context.WithCancel(ctx)
	locks := watchLocks(lctx, st)

	// The load: a feeder hands delivery i to the senders at start + i/rate; the kills happen meanwhile.
	sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	start := time.Now()
	sent := l.send(sctx, start)
	loadFor := time.Duration(len(ds)) * time.Second / loadRate
	var kills []kill
	for k := range loadKills {
		notBefore := start.Add(time.Duration(k+1) * loadFor / (loadKills + 1))
		victim, sawApply := l.pickVictim(tfLog, notBefore, 40*time.Second, k)
		r := reps[victim]
		r.kill(t)
		kills = append(kills, kill{replica: r.name, life: r.lives[len(r.lives)-1], sawApply: sawApply})
		// Down for a while: deliveries sent to it meanwhile fail and go to the next replica.
		time.Sleep(loadDowntime)
		r.start(t, bin)
	}
	select {
	case <-sent:
	case <-sctx.Done():
		t.Fatalf("the senders did not finish within 5 minutes")
	}
	sendTime := time.Since(start)

	// Drain: every run finished (bounded).
	drainStart := time.Now()
	runs := waitRunsFinished(t, st, len(ds)+1, 3*time.Minute)
	drained := time.Since(drainStart)
	stopLocks()
	lockObs := <-locks

	byDelivery := map[string]loadDelivery{}
	for _, d := range ds {
		byDelivery[d.id] = d
	}
	var offending []int64
	l.checkAnswers(t)
	offending = append(offending, checkRunsPerDelivery(t, l, runs, first)...)
	cmds, err := readTerraformLog(tfLog)
	if err != nil {
		t.Fatal(err)
	}
	finished := map[int64]time.Time{}
	for _, r := range runs {
		finished[r.id] = r.finishedAt
	}
	stats, problems := checkTerraformCommands(cmds, reps, finished)
	for _, p := range problems {
		t.Error(p.text)
		offending = append(offending, p.runs...)
	}
	var terraformRuns []int64
	for _, r := range runs {
		if d, ok := byDelivery[r.delivery]; r.delivery == "setup-deploy" || ok && (d.kind == kindDeploy || d.kind == kindPlanPR) {
			terraformRuns = append(terraformRuns, r.id)
		}
	}
	offending = append(offending, checkStages(t, ctx, st, terraformRuns)...)
	checkLocks(t, ctx, st, lockObs, reps)
	checkDeployments(t, ctx, st, lastSHA)
	if t.Failed() {
		slices.Sort(offending)
		for _, id := range slices.Compact(offending)[:min(len(slices.Compact(offending)), 5)] {
			if run, err := st.Run(ctx, id, 20); err == nil {
				t.Logf("run %d (%s, %d attempts, %s):", id, run.Status, run.Attempts, run.Error)
				dumpRun(t, run)
			}
		}
	}

	logFigures(t, ctx, st, l, reps, kills, runs, stats, lockObs, start, sendTime, drained)
}

// logFigures reports what the load did: rates, kills, resends, drain, takeovers, resumes, Terraform commands,
// locks and the replicas' warnings.
func logFigures(t *testing.T, ctx context.Context, st *store.Store, l *loadRun, reps []*replica, kills []kill, runs []runRow,
	stats tfStats, lockObs lockObservations, start time.Time, sendTime, drained time.Duration) {
	t.Helper()
	ds := l.ds
	resends, dups, lost := 0, 0, 0
	for i, o := range l.out {
		resends += o.resends
		if ds[i].dup != dupNone {
			dups++
		}
		if o.first.Duplicate && ds[i].dup != dupConcurrent {
			lost++ // stored by a replica killed before it answered; the resend found the run
		}
	}
	takeovers := 0
	logged := map[string]int{} // errors and warnings of the replicas, by message
	for _, r := range reps {
		b, _ := os.ReadFile(r.logf.Name())
		takeovers += strings.Count(string(b), "replicas stopped answering: their runs go back to the queue")
		for _, line := range strings.Split(string(b), "\n") {
			if m := logMessage.FindStringSubmatch(line); m != nil {
				logged[m[1]+" "+m[2]]++
			}
		}
	}
	byStatus := map[string]int{}
	resumed := 0
	for _, r := range runs {
		byStatus[r.status]++
		if r.attempts > 1 {
			resumed++
		}
	}
	t.Logf("load: %d deliveries (%d deploys, %d plan PRs, %d quiet PRs) + %d sent again, in %s: %.0f first sends/s; %d sends went to a dead replica and were resent, %d of them stored before the kill (the resend was a duplicate)",
		len(ds), loadDeploys, loadPlanPRs, loadQuietPRs, dups, sendTime.Round(time.Millisecond), float64(len(ds))/sendTime.Seconds(), resends, lost)
	for _, k := range kills {
		t.Logf("kill -9 %s (pid %d) %s after the load started (apply in flight: %v)", k.replica, k.life.pid, k.life.killed.Sub(start).Round(time.Millisecond), k.sawApply)
	}
	t.Logf("drain after the last send: %s; runs %d by status %v, %d ran more than once (resumed or waited); takeovers logged: %d",
		drained.Round(time.Millisecond), len(runs), byStatus, resumed, takeovers)
	var slowestCheckout time.Duration // a resumed run checks out again first
	for id, killed := range stats.cut {
		if run, err := st.Run(ctx, id, 0); err == nil {
			slowestCheckout = max(slowestCheckout, stageMap(run)["checkout"].Started.Sub(killed))
		}
	}
	t.Logf("runs cut by a kill after running Terraform: %d, resumed at most %s after the kill; %d of them ran Terraform again, at most %s after the kill (the others found a newer commit deployed)",
		len(stats.cut), slowestCheckout.Round(time.Millisecond), stats.resumed, stats.slowestResume.Round(time.Millisecond))
	dead, linger := lockObs.dead(reps)
	t.Logf("terraform: %d applies completed, %d cut by a kill; %d plans completed, %d cut; %d locks of killed holders seen, gone at most %s after their lease (%d lock samples)",
		stats.applies, stats.appliesKilled, stats.plans, stats.plansKilled, dead, linger.Round(time.Millisecond), lockObs.samples)
	t.Logf("replica warnings and errors: %v", logged)
}

// replica is one `runner serve` process of the test, restarted in place (same address and data
// directory) after a kill.
type replica struct {
	name, addr string
	h          harness
	env        []string
	logf       *os.File
	cmd        *exec.Cmd
	lives      []*life // one per process started, in order
}

type life struct {
	pid             int
	started, killed time.Time // killed is zero while the process lives
}

func (r *replica) start(t *testing.T, bin string) {
	t.Helper()
	at := time.Now()
	r.cmd = r.h.startProcess(bin, r.addr, r.logf, r.env...)
	r.lives = append(r.lives, &life{pid: r.cmd.Process.Pid, started: at})
}

func (r *replica) kill(t *testing.T) {
	t.Helper()
	l := r.lives[len(r.lives)-1]
	l.killed = time.Now()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s: %v", r.name, err)
	}
	_ = r.cmd.Wait()
}

// lifeAt is the process of r that lived at instant at (unix ns), or nil.
func (r *replica) lifeAt(at int64) *life {
	for _, l := range r.lives {
		if at >= l.started.UnixNano() && (l.killed.IsZero() || at < l.killed.UnixNano()) {
			return l
		}
	}
	return nil
}

type kill struct {
	replica  string
	life     *life
	sawApply bool
}

// accept sends one delivery under a fixed id and returns its run.
func accept(t *testing.T, r *replica, id, event string, payload map[string]any) int64 {
	t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := (&ghwebhook.Sender{URL: "http://" + r.addr, Secret: testSecret}).SendRaw(context.Background(), event, id, body)
	if err != nil || reply.Status != http.StatusAccepted || reply.Run == 0 {
		t.Fatalf("delivery %s: %+v, %v", id, reply, err)
	}
	return reply.Run
}

// loadDeliveriesFor builds the deliveries: commits for the deploys and plan PRs are made and pushed here.
// It returns them in sending order and the last deploy's commit.
func loadDeliveriesFor(t *testing.T, h *harness, head string) ([]loadDelivery, string) {
	t.Helper()
	marshal := func(m map[string]any) []byte {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Plan PRs change dev on branches of their own; quiet PRs share one branch changing the README only.
	var planHeads []string
	for i := range loadPlanPRs {
		_, sha := openPR(t, h, fmt.Sprintf("plan-%d", i), map[string]string{"environments/dev/pr.tf": tfData("pr", fmt.Sprintf("%q", fmt.Sprint(i)))})
		planHeads = append(planHeads, sha)
	}
	_, quietHead := openPR(t, h, "docs", map[string]string{"README.md": "# sample infrastructure\n\nNow with docs.\n"})
	// Deploy commits, pushed to main all at once: each replaces a resource in dev and in prod whose
	// creation sleeps, so every apply takes a while.
	if err := h.repo.Checkout("main"); err != nil {
		t.Fatal(err)
	}
	var deploySHAs []string
	for k := range loadDeploys {
		slow := fmt.Sprintf("resource \"terraform_data\" \"load\" {\n  triggers_replace = %q\n  provisioner \"local-exec\" {\n    command = \"sleep %d\"\n  }\n}\n",
			fmt.Sprint(k), int(loadApplySleep.Seconds()))
		if err := h.repo.WriteFiles(map[string]string{"environments/dev/load.tf": slow, "environments/prod/load.tf": slow}); err != nil {
			t.Fatal(err)
		}
		sha, err := h.repo.Commit(fmt.Sprintf("load %d", k))
		if err != nil {
			t.Fatal(err)
		}
		deploySHAs = append(deploySHAs, sha)
	}
	if err := h.repo.Push("main"); err != nil {
		t.Fatal(err)
	}

	ds := make([]loadDelivery, loadDeliveries)
	// Deploys and plan PRs are spread evenly over the load; quiet PRs every tenth or so; the rest are
	// feature pushes. Every fifth delivery is sent twice, alternately after the answer and at once.
	special := map[int]loadDelivery{}
	step := loadDeliveries / (loadDeploys + 1)
	before := head
	for k, sha := range deploySHAs {
		special[step*(k+1)] = loadDelivery{event: "push", kind: kindDeploy, sha: sha, body: marshal(h.pushPayload(before, sha))}
		before = sha
	}
	pstep := loadDeliveries / (loadPlanPRs + 1)
	for i, sha := range planHeads {
		special[pstep*(i+1)+step/2] = loadDelivery{event: "pull_request", kind: kindPlanPR,
			body: marshal(h.prPayload("opened", 500+i, sha, head, fmt.Sprintf("plan-%d", i)))}
	}
	quiet, dupN := 0, 0
	for i := range ds {
		d, ok := special[i]
		switch {
		case ok:
		case quiet < loadQuietPRs && i%12 == 5:
			d = loadDelivery{event: "pull_request", kind: kindQuietPR, body: marshal(h.prPayload("opened", 1000+quiet, quietHead, head, "docs"))}
			quiet++
		default:
			m := h.pushPayload(fixture.ZeroSHA, head)
			m["ref"], m["created"] = fmt.Sprintf("refs/heads/feature-%d", i), true
			d = loadDelivery{event: "push", kind: kindFeature, body: marshal(m)}
		}
		d.id = fmt.Sprintf("load-%04d", i)
		if i%5 == 2 {
			d.dup = dupAfter + dupN%2
			dupN++
		}
		ds[i] = d
	}
	if quiet != loadQuietPRs {
		t.Fatalf("placed %d quiet PRs, want %d", quiet, loadQuietPRs)
	}
	return ds, deploySHAs[len(deploySHAs)-1]
}

// logMessage is the level and message of a replica's warning or error (slog's text format).
var logMessage = regexp.MustCompile(`level=(WARN|ERROR) msg=("[^"]*"|\S+)`)

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
