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

	"github.com/gitops-runner/runner/internal/testenv/fixture"
)

// ackLoad is one open-loop pass: request i is due at start + i/rate, whoever sends it.
type ackLoad struct {
	kind     string        // deliveryBranch, deliveryTag or deliveryPing
	rate     int           // deliveries per second
	duration time.Duration // how long the schedule lasts
	senders  int           // bounded pool of sender goroutines sharing one keep-alive client
	drain    time.Duration // how long to wait after the load for the workers to finish the runs
	dupCheck int           // deliveries to send again after the load (0: none)
}

// Kinds of delivery. Branch pushes are the benchmark proper; the other two are
// controls run side by side to split the ack latency: a tag push is stored and
// queued exactly like a branch push but its run ends at once (no fetch, no
// checkout), and a ping is signed and parsed but never touches the store.
const (
	deliveryBranch = "push to feature branch (real checkout)"
	deliveryTag    = "control: push of a tag (stored, run ends at once)"
	deliveryPing   = "control: ping (not stored)"
)

// ackResult is what one pass measured.
type ackResult struct {
	load                 ackLoad
	db                   database
	sent, accepted       int
	non202, transportErr int
	p50, p90, p99, max   time.Duration
	lateStart            time.Duration // worst lag of the dispatcher behind the schedule
	finished             int           // runs finished within the drain window
	drained              time.Duration // time after the load until every run finished (0: not within the window)
	lost                 int           // accepted deliveries with no run in the store
	cpu                  cpuUse        // during the load
	pool                 sql.DBStats   // the runner's store pool, during the load
	statuses             map[string]int
	dupOK, dupNewRuns    int
	stop                 time.Duration
}

// BenchmarkWebhookAck sends signed push deliveries at a fixed rate to `runner
// serve` (SQLite store, 4 workers doing real checkouts from a real git server)
// and reports ack latency, measured from each request's scheduled send time so
// that queueing in the client counts, non-202 answers and lost deliveries
// (accepted but without a run in the store after the runner stopped).
// Target: p99 < 25 ms at 500/s with 0 lost. It measures once, whatever b.N.
func BenchmarkWebhookAck(b *testing.B) {
	if testing.Short() {
		b.Skip("end-to-end load benchmark; not in -short runs")
	}
	bin, err := terraformBin(b) // optional here: the runs end before Terraform
	if err != nil {
		bin = ""
	}
	o := newOrigin(b, fixture.Options{NoApps: true, Environments: []string{"dev", "prod"}}, nil)
	before := loadAvg()
	passes := []ackLoad{
		{kind: deliveryBranch, rate: 500, duration: 10 * time.Second, senders: 64, drain: 15 * time.Second, dupCheck: 100},
		{kind: deliveryBranch, rate: 200, duration: 10 * time.Second, senders: 64, drain: 15 * time.Second},
		{kind: deliveryTag, rate: 500, duration: 10 * time.Second, senders: 64, drain: 15 * time.Second},
		{kind: deliveryPing, rate: 500, duration: 10 * time.Second, senders: 64},
	}
	var results []ackResult
	for _, p := range passes {
		results = append(results, runAckPass(b, o, bin, p, sqliteDB))
	}
	after := loadAvg()

	var tab strings.Builder
	w := tabwriter.NewWriter(&tab, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "deliveries\trate/s\tsent\tanswered\tnon-202\terrors\tp50 ms\tp90 ms\tp99 ms\tmax ms\tlost\tfinished in drain\tdrained after\tsched lag ms\t")
	for _, r := range results {
		drained, finished := "-", fmt.Sprintf("%d/%d in %s", r.finished, r.accepted, r.load.drain)
		if r.drained > 0 {
			drained = r.drained.Round(10 * time.Millisecond).String()
		}
		if r.load.kind == deliveryPing {
			finished = "-"
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%s\t%s\t%.1f\t\n",
			r.load.kind, r.load.rate, r.sent, r.accepted, r.non202, r.transportErr, ms(r.p50), ms(r.p90), ms(r.p99), ms(r.max),
			r.lost, finished, drained, ms(r.lateStart))
	}
	w.Flush()
	report(b, "webhook ack, open loop, latency from scheduled send to response (loadavg before %q, after %q):\n%s", before, after, tab.String())
	for _, r := range results {
		report(b, "%s %d/s: run statuses in the store after stop: %v; runner stop took %s", r.load.kind, r.load.rate, r.statuses, r.stop.Round(time.Millisecond))
		report(b, "%s %d/s: during the load, %s", r.load.kind, r.load.rate, r.cpu)
		if r.load.dupCheck > 0 {
			report(b, "%d/s: duplicate check: %d/%d resent deliveries answered 200 {\"duplicate\":true} with the original run; %d new runs",
				r.load.rate, r.dupOK, r.load.dupCheck, r.dupNewRuns)
		}
	}
	if p := results[0]; p.p99 >= 25*time.Millisecond || p.lost > 0 || p.non202 > 0 {
		report(b, "TARGET MISSED at %d/s: p99 %.1f ms (target < 25), lost %d, non-202 %d", p.load.rate, ms(p.p99), p.lost, p.non202)
	}
	for _, r := range results {
		k := fmt.Sprintf("%drps-", r.load.rate)
		switch r.load.kind {
		case deliveryTag:
			k = "ctl-tag-" + k
		case deliveryPing:
			k = "ctl-ping-" + k
		}
		b.ReportMetric(ms(r.p50), k+"p50-ms")
		b.ReportMetric(ms(r.p90), k+"p90-ms")
		b.ReportMetric(ms(r.p99), k+"p99-ms")
		b.ReportMetric(ms(r.max), k+"max-ms")
		b.ReportMetric(float64(r.non202+r.transportErr), k+"non202")
		b.ReportMetric(float64(r.lost), k+"lost")
		if r.load.kind != deliveryPing {
			b.ReportMetric(float64(r.finished), k+"drained-runs")
		}
	}
	for _, r := range results {
		if r.dupCheck() != "" {
			b.Error(r.dupCheck())
		}
		if r.lost > 0 {
			b.Errorf("%s %d/s: %d accepted deliveries have no run in the store", r.load.kind, r.load.rate, r.lost)
		}
	}
}

func (r ackResult) dupCheck() string {
	if r.load.dupCheck > 0 && (r.dupOK != r.load.dupCheck || r.dupNewRuns != 0) {
		return fmt.Sprintf("duplicate check at %d/s: %d/%d answered as duplicates, %d new runs", r.load.rate, r.dupOK, r.load.dupCheck, r.dupNewRuns)
	}
	return ""
}

// runAckPass starts a fresh runner on a fresh database of db (so one pass's
// backlog does not slow the next), runs the load, the drain and the duplicate
// check, stops the runner and counts lost deliveries in its store.
func runAckPass(b *testing.B, o *origin, bin string, p ackLoad, db database) ackResult {
	b.Helper()
	cfg := baseConfig(b, o, bin)
	cfg.Workers = 4
	db.fresh(b, &cfg)
	// Goroutines inherit profiler labels: a -cpuprofile splits by store, pass and side
	// (go tool pprof -tagfocus store=postgres -tagfocus side=runner).
	labels := func(side string) {
		pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(),
			pprof.Labels("store", db.String(), "pass", fmt.Sprintf("%s %d/s", p.kind, p.rate), "side", side)))
	}
	defer pprof.SetGoroutineLabels(context.Background())
	labels("runner")
	r := startRunner(b, cfg)
	labels("client")
	head, err := o.repo.Head()
	if err != nil {
		b.Fatal(err)
	}
	n := p.rate * int(p.duration/time.Second)
	interval := time.Second / time.Duration(p.rate)
	// A branch delivery is a push of main's head to its own feature branch, which
	// no environment deploys from: the run fetches, checks out and ends nothing_to_do.
	deliveries := make([]delivery, n)
	for i := range deliveries {
		id := fmt.Sprintf("bench-%d-%d-%d", len(p.kind), p.rate, i)
		switch p.kind {
		case deliveryBranch:
			deliveries[i] = newDelivery(id, "push", o.pushPayload(fmt.Sprintf("refs/heads/feature-%d-%d", p.rate, i), fixture.ZeroSHA, head))
		case deliveryTag:
			deliveries[i] = newDelivery(id, "push", o.pushPayload(fmt.Sprintf("refs/tags/v0.%d.%d", p.rate, i), fixture.ZeroSHA, head))
		default:
			deliveries[i] = newDelivery(id, "ping", o.pingPayload())
		}
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: p.senders, MaxIdleConnsPerHost: p.senders, MaxConnsPerHost: p.senders, IdleConnTimeout: time.Minute,
	}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), p.duration+time.Minute)
	defer cancel()

	type outcome struct {
		code    int
		run     int64
		latency time.Duration
		err     error
	}
	out := make([]outcome, n)
	jobs := make(chan int, n)
	var wg sync.WaitGroup
	start := time.Now().Add(50 * time.Millisecond)
	cpu0 := sampleCPU(db)
	pool0 := r.srv.Store().DB().Stats()
	for range p.senders {
		wg.Go(func() {
			for i := range jobs {
				due := start.Add(time.Duration(i) * interval)
				code, reply, err := send(ctx, client, r.base, deliveries[i])
				out[i] = outcome{code: code, run: reply.Run, latency: time.Since(due), err: err}
			}
		})
	}
	var lateStart time.Duration
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		} else {
			lateStart = max(lateStart, -d)
		}
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	loadEnd := time.Now()
	cpu := cpu0.until(sampleCPU(db))
	pool := r.srv.Store().DB().Stats()
	pool.WaitCount -= pool0.WaitCount
	pool.WaitDuration -= pool0.WaitDuration

	res := ackResult{load: p, db: db, lateStart: lateStart, cpu: cpu, pool: pool, statuses: map[string]int{}}
	want := http.StatusAccepted
	if p.kind == deliveryPing {
		want = http.StatusOK
	}
	var lat []time.Duration
	accepted := map[string]int64{}
	for i, oc := range out {
		switch {
		case oc.err != nil || oc.code == 0:
			res.transportErr++
		case oc.code == want:
			accepted[deliveries[i].id] = oc.run
		default:
			res.non202++
		}
		if oc.code != 0 {
			lat = append(lat, oc.latency)
		}
		res.sent++
	}
	res.accepted = len(accepted)
	slices.Sort(lat)
	res.p50, res.p90, res.p99 = percentile(lat, 0.50), percentile(lat, 0.90), percentile(lat, 0.99)
	if len(lat) > 0 {
		res.max = lat[len(lat)-1]
	}
	if res.non202+res.transportErr > 0 {
		for _, oc := range out {
			if oc.err != nil || oc.code != want {
				report(b, "%d/s: first failed delivery: status %d, err %v", p.rate, oc.code, oc.err)
				break
			}
		}
	}

	// Drain: watch the store (SQLite: read-only; WAL readers do not block the writer).
	ro, err := watch(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer ro.Close()
	count := func(q string) int {
		var n int
		if err := ro.QueryRowContext(ctx, q).Scan(&n); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
		return n
	}
	for p.kind != deliveryPing {
		res.finished = count(`SELECT COUNT(*) FROM runs WHERE finished_at IS NOT NULL`)
		if res.finished >= res.accepted {
			res.drained = time.Since(loadEnd)
			break
		}
		if time.Since(loadEnd) > p.drain {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Duplicates: the same delivery ids again must be answered 200 with the original run, and add no run.
	if p.dupCheck > 0 {
		runsBefore := count(`SELECT COUNT(*) FROM runs`)
		sentAgain := 0
		for i := 0; i < n && sentAgain < p.dupCheck; i++ {
			orig, ok := accepted[deliveries[i].id]
			if !ok {
				continue
			}
			sentAgain++
			code, reply, err := send(ctx, client, r.base, deliveries[i])
			if err == nil && code == http.StatusOK && reply.Duplicate && reply.Run == orig {
				res.dupOK++
			} else if sentAgain-res.dupOK == 1 {
				report(b, "duplicate %s: status %d, reply %+v, err %v", deliveries[i].id, code, reply, err)
			}
		}
		res.dupNewRuns = count(`SELECT COUNT(*) FROM runs`) - runsBefore
	}
	ro.Close()
	res.stop = r.stop(b)

	// Lost: accepted deliveries whose run is not in the store after the runner stopped.
	st, err := openStore(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	rows, err := st.DB().QueryContext(context.Background(), `SELECT delivery_id, status FROM runs`)
	if err != nil {
		b.Fatal(err)
	}
	stored := map[string]bool{}
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			b.Fatal(err)
		}
		stored[id] = true
		res.statuses[status]++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	rows.Close()
	for id := range accepted {
		if p.kind != deliveryPing && !stored[id] {
			res.lost++
		}
	}
	return res
}
