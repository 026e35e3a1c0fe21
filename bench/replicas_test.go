package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
)

// replicaWork is one kind of run that BenchmarkRunsPerReplica pushes through 1, 2 and 3 replicas.
type replicaWork struct {
	name    string
	runs    int           // deliveries per configuration, one run each
	workers int           // per replica
	status  string        // how every run must end
	timeout time.Duration // longest one configuration may take to finish its runs
	// deliveries gives configuration i its origin and its deliveries (fresh ones each time).
	deliveries func(b *testing.B, i int) (*origin, []delivery)
}

// replicaSetup is one configuration: replicas runners on one database.
type replicaSetup struct {
	db       database
	replicas int
}

func (s replicaSetup) String() string { return fmt.Sprintf("%s x%d", s.db, s.replicas) }

// replicaResult is what one configuration measured.
type replicaResult struct {
	setup              replicaSetup
	sent, accepted     int
	lost, wrong        int           // accepted without a run; runs not ending as the work's status
	elapsed            time.Duration // first delivery sent -> last run finished
	wait, took         time.Duration // medians: accepted -> started, started -> finished
	statuses           map[string]int
	perReplica         []int // runs worked by each replica (PostgreSQL: River's attempted_by)
	firstWrong, timing string
	cpu                cpuUse
}

func (r replicaResult) perSecond() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.accepted) / r.elapsed.Seconds()
}

// BenchmarkRunsPerReplica measures runs per second to completion with 1, 2 and 3
// replicas of `runner serve` (each a full in-process server with its own data
// directory: mirrors and work trees) sharing one PostgreSQL database, and the
// same single replica on SQLite as the baseline. Deliveries go round robin to the
// replicas, all at once; the time runs from the first delivery sent to the last
// run finished (the store's finished_at). Two kinds of run:
//
//   - apply: pushes that each deploy one environment (its own branch), whose
//     apply waits 4 s on a local-exec sleep, as real applies wait on a cloud API;
//     2 workers per replica. Throughput is bounded mostly by the worker slots,
//     which replicas add, rather than by the 2 cores: the case replicas are for.
//   - checkout: pushes of feature branches (fetch + checkout, nothing_to_do):
//     short runs, 4 workers per replica; one replica is bound by the queue's
//     fetch cadence, more of them by the 2 cores. It shows what the queue and
//     the database cost per run.
//
// Every run must end as its kind says and every 202 must have its run (0 lost).
// It measures once, whatever b.N.
func BenchmarkRunsPerReplica(b *testing.B) {
	if testing.Short() {
		b.Skip("end-to-end load benchmark; not in -short runs")
	}
	pg := startPostgres(b)
	bin, tfErr := terraformBin(b)
	setups := []replicaSetup{{sqliteDB, 1}, {pg, 1}, {pg, 2}, {pg, 3}}
	var works []replicaWork
	if tfErr == nil {
		works = append(works, applyWork())
	} else {
		report(b, "apply work skipped: terraform not available (%v): set RUNNER_TERRAFORM_BIN or put terraform on PATH", tfErr)
	}
	works = append(works, checkoutWork())

	before := loadAvg()
	var tab strings.Builder
	w := tabwriter.NewWriter(&tab, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "runs\tstore\treplicas\tworkers\truns\tlost\tnot as expected\tfirst sent -> last finished s\truns/s\tvs same store x1\twait p50 s\trun p50 s\truns per replica\tcores busy (this process / children / postgres)\tcpu pressure\t")
	var notes []string
	for _, work := range works {
		var results []replicaResult
		for i, s := range setups {
			o, ds := work.deliveries(b, i)
			results = append(results, runReplicas(b, o, bin, work, s, ds))
		}
		base := results[1].perSecond() // postgres x1 (setups' order)
		for _, r := range results {
			vs := "-"
			if r.setup.db.pg != nil && r.setup.replicas > 1 && base > 0 {
				vs = fmt.Sprintf("%.2fx", r.perSecond()/base)
			}
			per := "-"
			if len(r.perReplica) > 0 {
				per = strings.Trim(strings.Join(strings.Fields(fmt.Sprint(r.perReplica)), "/"), "[]")
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%.2f\t%.2f\t%s\t%.2f\t%.2f\t%s\t%.2f / %.2f / %.2f\t%.0f%%\t\n",
				work.name, r.setup.db, r.setup.replicas, work.workers, r.accepted, r.lost, r.wrong, r.elapsed.Seconds(), r.perSecond(), vs,
				r.wait.Seconds(), r.took.Seconds(), per, r.cpu.cores(r.cpu.self), r.cpu.cores(r.cpu.children), r.cpu.cores(r.cpu.pg), 100*r.cpu.cores(r.cpu.waited))
			k := fmt.Sprintf("%s-%s-x%d-", work.name, r.setup.db, r.setup.replicas)
			b.ReportMetric(r.perSecond(), k+"runs/s")
			if r.lost > 0 || r.wrong > 0 || r.accepted != work.runs {
				b.Errorf("%s on %s: %d/%d deliveries accepted, %d lost, %d runs not %s (first: %s)",
					work.name, r.setup, r.accepted, work.runs, r.lost, r.wrong, work.status, r.firstWrong)
			}
		}
		sq, p1 := results[0].perSecond(), results[1].perSecond()
		if sq > 0 && p1 > 0 {
			b.ReportMetric(results[2].perSecond()/p1, work.name+"-2/1-x")
			b.ReportMetric(results[3].perSecond()/p1, work.name+"-3/1-x")
			b.ReportMetric(p1/sq, work.name+"-pg/sqlite-x1-x")
			notes = append(notes, fmt.Sprintf("%s: 2/1 replicas %.2fx, 3/1 replicas %.2fx (postgres); postgres x1 / sqlite x1 %.2fx",
				work.name, results[2].perSecond()/p1, results[3].perSecond()/p1, p1/sq))
		}
	}
	w.Flush()
	report(b, "runs per second to completion by replicas (loadavg before %q, after %q):\n%s%s", before, loadAvg(), tab.String(), strings.Join(notes, "\n"))
}

// applyWork: each delivery is a push to the branch of its own environment (12 of them, one run each), so
// that no run waits for another's environment lock; the apply of each creates a terraform_data whose
// local-exec sleeps applyWait. A fresh repository per configuration (the environments' state is local).
func applyWork() replicaWork {
	const envs, applyWait = 12, 4 * time.Second
	names := make([]string, envs)
	var y strings.Builder
	y.WriteString("environments:\n")
	for i := range names {
		names[i] = fmt.Sprintf("s%02d", i+1)
		fmt.Fprintf(&y, "  - name: %[1]s\n    dir: environments/%[1]s\n    branch: deploy-%[1]s\n    api_url: https://api.%[1]s.example.com\n    artifacts_bucket: demo-artifacts\n", names[i])
	}
	y.WriteString("apps: []\n")
	return replicaWork{
		name: "apply", runs: envs, workers: 2, status: store.StatusSucceeded, timeout: 2 * time.Minute,
		deliveries: func(b *testing.B, i int) (*origin, []delivery) {
			o := newOrigin(b, fixture.Options{NoApps: true, Environments: names, ApplyDelay: applyWait}, map[string]string{".runner.yaml": y.String()})
			head, err := o.repo.Head()
			if err != nil {
				b.Fatal(err)
			}
			ds := make([]delivery, len(names))
			for k, env := range names {
				for _, step := range []func() error{
					func() error { return o.repo.Branch("deploy-" + env) },
					func() error { return o.repo.Push("deploy-" + env) },
				} {
					if err := step(); err != nil {
						b.Fatal(err)
					}
				}
				ds[k] = newDelivery(fmt.Sprintf("apply-%d-%s", i, env), "push", o.pushPayload("refs/heads/deploy-"+env, fixture.ZeroSHA, head))
			}
			if err := o.repo.Checkout("main"); err != nil {
				b.Fatal(err)
			}
			return o, ds
		},
	}
}

// checkoutWork: pushes of main's head to feature branches that no environment deploys from (as in
// BenchmarkWebhookAck): each run fetches when its replica's mirror lacks the commit, checks out a work
// tree and ends nothing_to_do.
func checkoutWork() replicaWork {
	const runs = 300
	var o *origin
	return replicaWork{
		name: "checkout", runs: runs, workers: 4, status: store.StatusNothing, timeout: time.Minute,
		deliveries: func(b *testing.B, i int) (*origin, []delivery) {
			if o == nil {
				o = newOrigin(b, fixture.Options{NoApps: true, Environments: []string{"dev", "prod"}}, nil)
			}
			head, err := o.repo.Head()
			if err != nil {
				b.Fatal(err)
			}
			ds := make([]delivery, runs)
			for k := range ds {
				ds[k] = newDelivery(fmt.Sprintf("checkout-%d-%d", i, k), "push", o.pushPayload(fmt.Sprintf("refs/heads/feature-r%d-%d", i, k), fixture.ZeroSHA, head))
			}
			return o, ds
		},
	}
}

// runReplicas starts s.replicas runners on a fresh database, sends ds round robin (a pool of 8 senders),
// waits until every accepted run finished (at most work.timeout), stops the runners and reads the
// outcome from the store.
func runReplicas(b *testing.B, o *origin, bin string, work replicaWork, s replicaSetup, ds []delivery) replicaResult {
	b.Helper()
	defer pprof.SetGoroutineLabels(context.Background())
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("work", work.name, "setup", s.String())))
	var cfgs []config.Server
	var runners []*runner
	for k := range s.replicas {
		cfg := baseConfig(b, o, bin)
		cfg.Workers = work.workers
		if k == 0 {
			s.db.fresh(b, &cfg)
		} else {
			cfg.DatabaseURL, cfg.DatabaseMaxConns = cfgs[0].DatabaseURL, cfgs[0].DatabaseMaxConns
		}
		cfgs = append(cfgs, cfg)
		runners = append(runners, startRunner(b, cfg))
	}
	stopAll := func() {
		var wg sync.WaitGroup
		for _, r := range runners {
			wg.Go(func() { r.stop(b) })
		}
		wg.Wait()
	}
	defer stopAll()
	db, err := watch(cfgs[0])
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), work.timeout+time.Minute)
	defer cancel()

	res := replicaResult{setup: s, statuses: map[string]int{}}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	accepted := make([]bool, len(ds))
	jobs := make(chan int)
	var wg sync.WaitGroup
	cpu0 := sampleCPU(s.db)
	for range 8 {
		wg.Go(func() {
			for i := range jobs {
				code, _, err := send(ctx, client, runners[i%len(runners)].base, ds[i])
				accepted[i] = err == nil && code == http.StatusAccepted
			}
		})
	}
	for i := range ds {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for _, ok := range accepted {
		res.sent++
		if ok {
			res.accepted++
		}
	}
	// Until every run finished: polled, bounded by the work's timeout.
	deadline := time.Now().Add(work.timeout)
	for time.Now().Before(deadline) {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs WHERE finished_at IS NOT NULL`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		if n >= res.accepted {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.cpu = cpu0.until(sampleCPU(s.db))
	if s.db.pg != nil {
		res.perReplica = workedBy(ctx, b, db)
	}
	db.Close()
	stopAll()

	// The outcome, from the store once every runner stopped.
	st, err := openStore(context.Background(), cfgs[0])
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	rows, err := st.DB().QueryContext(ctx, `SELECT delivery_id, status, error, created_at, started_at, finished_at FROM runs`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	stored := map[string]bool{}
	var last time.Time
	var waits, took []time.Duration
	for rows.Next() {
		var (
			id, status, errText string
			created             time.Time
			started, finished   sql.NullTime
		)
		if err := rows.Scan(&id, &status, &errText, &created, &started, &finished); err != nil {
			b.Fatal(err)
		}
		stored[id] = true
		res.statuses[status]++
		if status != work.status {
			res.wrong++
			if res.firstWrong == "" {
				res.firstWrong = fmt.Sprintf("%s %s: %s", id, status, errText)
			}
		}
		if finished.Valid && finished.Time.After(last) {
			last = finished.Time
		}
		if started.Valid && finished.Valid {
			waits = append(waits, started.Time.Sub(created))
			took = append(took, finished.Time.Sub(started.Time))
		}
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	for i, ok := range accepted {
		if ok && !stored[ds[i].id] {
			res.lost++
		}
	}
	res.elapsed = last.Sub(cpu0.at)
	res.wait, res.took = median(waits), median(took)
	return res
}

// workedBy counts the runs each replica worked, from River's attempted_by (PostgreSQL), most first.
func workedBy(ctx context.Context, b *testing.B, db *sql.DB) []int {
	b.Helper()
	rows, err := db.QueryContext(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'run'
		GROUP BY attempted_by[array_upper(attempted_by, 1)]`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			b.Fatal(err)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}
