//go:build e2e

package server_test

import (
	"bufio"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/store"
)

// terraformWrapper writes a script that runs the real Terraform and appends a line to a log as each
// command starts and one as it ends (with its exit code). The runner starts it in its sandbox, as a
// sandbox user: the script is readable by anyone and the log's folder is one of the sandbox's read-write
// paths (the runner gives it to the sandbox users' group as it starts).
func terraformWrapper(t *testing.T, real string) (wrapper, log string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tflog")
	if err := os.Mkdir(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	log = filepath.Join(dir, "commands.log")
	// Created here, writable by all: the runner runs `terraform version` as itself, the sandbox users the rest.
	if err := os.WriteFile(log, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(log, 0o666); err != nil {
		t.Fatal(err)
	}
	// Terraform runs in the background so that the script can log its end; the runner's interrupt is
	// passed on. In the sandbox the script is PID 1 of its namespace: when the runner dies, so does it
	// and everything under it, and no end line is written.
	script := fmt.Sprintf(`#!/bin/bash
log=%q
id="$(date +%%s%%N)-$RANDOM$RANDOM"
printf 'start\t%%s\t%%s\t%%s\t%%s\t%%s\n' "$id" "$(date +%%s%%N)" "$$" "$PWD" "$*" >> "$log"
%q "$@" &
child=$!
trap 'kill -INT "$child" 2>/dev/null' INT
trap 'kill -TERM "$child" 2>/dev/null' TERM
while :; do
  wait "$child"
  rc=$?
  kill -0 "$child" 2>/dev/null || break
done
printf 'end\t%%s\t%%s\t%%s\n' "$id" "$(date +%%s%%N)" "$rc" >> "$log"
exit "$rc"
`, log, real)
	wrapper = filepath.Join(t.TempDir(), "terraform")
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return wrapper, log
}

// tfCommand is one Terraform command from the wrapper's log.
type tfCommand struct {
	id         string
	start, end int64 // unix ns
	ended      bool
	rc         int
	dir, verb  string
	replica    string // from the working directory: .../replica-x/runs/run-N/src/environments/ENV
	run        int64
	env        string
}

var workDir = regexp.MustCompile(`/(replica-[a-z])/runs/run-(\d+)/src/environments/([^/]+)$`)

// completed says the command ran to its end successfully (plan's -detailed-exitcode exits 2 on changes).
func (c *tfCommand) completed() bool {
	return c.ended && (c.rc == 0 || c.verb == "plan" && c.rc == 2)
}

func readTerraformLog(path string) ([]*tfCommand, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the Terraform wrapper's log: %w", err)
	}
	defer f.Close()
	var cmds []*tfCommand
	byID := map[string]*tfCommand{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		switch {
		case fields[0] == "start" && len(fields) == 6:
			ns, _ := strconv.ParseInt(fields[2], 10, 64)
			c := &tfCommand{id: fields[1], start: ns, dir: fields[4]}
			if args := strings.Fields(fields[5]); len(args) > 0 {
				c.verb = args[0]
			}
			if m := workDir.FindStringSubmatch(c.dir); m != nil {
				c.replica, c.env = m[1], m[3]
				c.run, _ = strconv.ParseInt(m[2], 10, 64)
			}
			cmds = append(cmds, c)
			byID[c.id] = c
		case fields[0] == "end" && len(fields) == 4:
			if c := byID[fields[1]]; c != nil {
				c.end, _ = strconv.ParseInt(fields[2], 10, 64)
				c.rc, _ = strconv.Atoi(fields[3])
				c.ended = true
			}
		default:
			// A line cut by a kill in the middle of its write: only a start line can be.
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the Terraform wrapper's log: %w", err)
	}
	return cmds, nil
}

type tfStats struct {
	applies, appliesKilled, plans, plansKilled int
	cut                                        map[int64]time.Time // runs cut by a kill (after running Terraform): the kill
	resumed                                    int                 // of them, runs that ran Terraform again
	slowestResume                              time.Duration       // from a kill to the cut run's next Terraform command
}

// tfProblem is one thing wrong in the Terraform commands, and the runs at fault.
type tfProblem struct {
	runs []int64
	text string
}

// checkTerraformCommands: every command without an end line was cut by a kill of its replica; per run and
// environment at most one apply completed, and at most one plan per execution of the run (a run that a
// kill cut resumes elsewhere and plans again), none after the apply completed; the applies of one environment, a cut one ending at its
// kill, never overlap. finished says when each run finished. It returns what it counted and what is wrong.
func checkTerraformCommands(cmds []*tfCommand, reps []*replica, finished map[int64]time.Time) (tfStats, []tfProblem) {
	var (
		stats   tfStats
		bad     []tfProblem
		byName  = map[string]*replica{}
		ends    = map[*tfCommand]int64{}
		killed  = map[int64]map[*life]bool{} // run -> killed processes that cut it
		done    = map[tfKey]int{}            // completed commands
		applies = map[string][]*tfCommand{}  // env -> applies
	)
	for _, r := range reps {
		byName[r.name] = r
	}
	for _, c := range cmds {
		if c.replica == "" || (c.verb != "plan" && c.verb != "apply") {
			continue
		}
		if c.ended {
			ends[c] = c.end
		} else if l := byName[c.replica].lifeAt(c.start); l != nil && !l.killed.IsZero() {
			ends[c] = l.killed.UnixNano()
		} else {
			bad = append(bad, tfProblem{[]int64{c.run},
				fmt.Sprintf("terraform %s of run %d in %s on %s never ended, and no kill cut it", c.verb, c.run, c.env, c.replica)})
			continue
		}
		if c.verb == "apply" {
			applies[c.env] = append(applies[c.env], c)
		}
		switch {
		case c.completed() && c.verb == "apply":
			stats.applies++
		case c.completed():
			stats.plans++
		case !c.ended && c.verb == "apply":
			stats.appliesKilled++
		case !c.ended:
			stats.plansKilled++
		}
		if c.completed() {
			done[tfKey{c.run, c.env, c.verb}]++
		}
	}
	// A plan may complete once per execution: the run's first, and one more per kill that cut the run (the
	// killed process had worked it, and it was not finished yet): it resumes elsewhere and plans again.
	for _, c := range cmds {
		if c.replica == "" {
			continue
		}
		if l := byName[c.replica].lifeAt(c.start); l != nil && !l.killed.IsZero() && finished[c.run].After(l.killed) {
			if killed[c.run] == nil {
				killed[c.run] = map[*life]bool{}
			}
			killed[c.run][l] = true
		}
	}
	stats.cut = map[int64]time.Time{}
	for run, lives := range killed {
		for l := range lives {
			stats.cut[run] = l.killed
			next := int64(0)
			for _, c := range cmds {
				if c.run == run && c.start > l.killed.UnixNano() && (next == 0 || c.start < next) {
					next = c.start
				}
			}
			if next != 0 {
				stats.resumed++
				stats.slowestResume = max(stats.slowestResume, time.Duration(next-l.killed.UnixNano()))
			}
		}
	}
	for k, n := range done {
		allowed := 1
		if k.verb == "plan" {
			allowed += len(killed[k.run])
		}
		if n > allowed {
			bad = append(bad, tfProblem{[]int64{k.run}, fmt.Sprintf("run %d: terraform %s completed %d times in %s (at most %d: %d kills cut the run)",
				k.run, k.verb, n, k.env, allowed, len(killed[k.run]))})
		}
	}
	// Once an environment's apply completed, its run never plans it again (a resumed run keeps the plan it
	// applied).
	for _, a := range cmds {
		if a.replica == "" || a.verb != "apply" || !a.completed() {
			continue
		}
		for _, p := range cmds {
			if p.verb == "plan" && p.run == a.run && p.env == a.env && p.start > a.end {
				bad = append(bad, tfProblem{[]int64{a.run}, fmt.Sprintf("run %d planned %s again on %s after its apply had completed", a.run, a.env, p.replica)})
			}
		}
	}
	for env, as := range applies {
		slices.SortFunc(as, func(a, b *tfCommand) int { return cmp.Compare(a.start, b.start) })
		var prev *tfCommand
		for _, c := range as {
			if prev != nil && c.start < ends[prev] {
				bad = append(bad, tfProblem{[]int64{c.run, prev.run}, fmt.Sprintf("%s: apply of run %d on %s started %s before the apply of run %d on %s ended",
					env, c.run, c.replica, time.Duration(ends[prev]-c.start), prev.run, prev.replica)})
			}
			if prev == nil || ends[c] > ends[prev] {
				prev = c
			}
		}
	}
	slices.SortFunc(bad, func(a, b tfProblem) int { return strings.Compare(a.text, b.text) })
	return stats, bad
}

type tfKey struct {
	run       int64
	env, verb string
}

// runRow is one run in the database.
type runRow struct {
	id               int64
	delivery, status string
	attempts         int
	finished         bool
	finishedAt       time.Time
}

// waitRunsFinished polls the database until want runs exist and all are finished.
func waitRunsFinished(t *testing.T, st *store.Store, want int, within time.Duration) []runRow {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rows, err := st.DB().QueryContext(context.Background(), `SELECT id, delivery_id, status, attempts, finished_at FROM runs ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		var runs []runRow
		open := 0
		for rows.Next() {
			var (
				r  runRow
				at sql.NullTime
			)
			if err := rows.Scan(&r.id, &r.delivery, &r.status, &r.attempts, &at); err != nil {
				rows.Close()
				t.Fatal(err)
			}
			r.finished, r.finishedAt = store.Finished(r.status), at.Time
			if !r.finished {
				open++
			}
			runs = append(runs, r)
		}
		rows.Close()
		if len(runs) >= want && open == 0 {
			return runs
		}
		if time.Now().After(deadline) {
			shown := 0
			for _, r := range runs {
				if r.finished || shown == 5 {
					continue
				}
				shown++
				if run, err := st.Run(context.Background(), r.id, 10); err == nil {
					t.Logf("run %d (%s, delivery %s) not finished:", r.id, r.status, r.delivery)
					dumpRun(t, run)
				}
			}
			t.Fatalf("after %s: %d runs (want %d), some not finished", within, len(runs), want)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// checkRunsPerDelivery: each delivery has exactly one run, the one its answers named, finished as its kind
// should; there is no other run. It returns the runs at fault.
func checkRunsPerDelivery(t *testing.T, l *loadRun, runs []runRow, setup int64) []int64 {
	t.Helper()
	byDelivery := map[string][]runRow{}
	for _, r := range runs {
		byDelivery[r.delivery] = append(byDelivery[r.delivery], r)
	}
	want := map[string]bool{"setup-deploy": true}
	var bad []int64
	report := func(run int64, format string, args ...any) {
		if bad = append(bad, run); len(bad) <= 10 {
			t.Errorf(format, args...)
		}
	}
	for i, d := range l.ds {
		want[d.id] = true
		got := byDelivery[d.id]
		if len(got) != 1 {
			report(0, "delivery %s (%s): %d runs, want 1: %+v", d.id, d.kind, len(got), got)
			continue
		}
		r := got[0]
		if a := l.out[i].first.Run; a != 0 && a != r.id {
			report(r.id, "delivery %s: answered run %d, the database has run %d", d.id, a, r.id)
		}
		ok := map[string][]string{
			kindFeature: {store.StatusNothing},
			kindQuietPR: {store.StatusNothing, store.StatusSucceeded},
			kindPlanPR:  {store.StatusSucceeded},
			kindDeploy:  {store.StatusSucceeded},
		}[d.kind]
		if !slices.Contains(ok, r.status) {
			report(r.id, "delivery %s (%s): run %d %s, want %s", d.id, d.kind, r.id, r.status, strings.Join(ok, " or "))
		}
	}
	for _, r := range runs {
		if !want[r.delivery] {
			report(r.id, "run %d of delivery %q that the test never sent", r.id, r.delivery)
		}
	}
	if r := byDelivery["setup-deploy"]; len(r) != 1 || r[0].id != setup {
		report(setup, "the setup deploy has runs %+v", r)
	}
	if len(bad) > 10 {
		t.Errorf("... %d problems with runs in all", len(bad))
	}
	return bad
}

// checkStages: the stages of the runs that ran Terraform tell one story: none is left unfinished, and an
// environment whose apply succeeded shows its plan succeeded. It returns the runs at fault.
func checkStages(t *testing.T, ctx context.Context, st *store.Store, ids []int64) []int64 {
	t.Helper()
	var bad []int64
	for _, id := range ids {
		run, err := st.Run(ctx, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		m := stageMap(run)
		for k, s := range m {
			switch {
			case s.Status == store.StagePending || s.Status == store.StageRunning || s.Status == store.StageWaiting:
				t.Errorf("run %d (%s): stage %s left %s", id, run.Status, k, s.Status)
				bad = append(bad, id)
			case s.Name == "apply" && s.Status == store.StageSucceeded && m[s.Env+"/plan"].Status != store.StageSucceeded:
				t.Errorf("run %d: %s applied, but its plan stage says %s (%s)", id, s.Env, m[s.Env+"/plan"].Status, m[s.Env+"/plan"].Detail)
				bad = append(bad, id)
			}
		}
	}
	return bad
}

// checkDeployments: both environments end at the last commit pushed to main, and no run recorded an
// environment deployed twice.
func checkDeployments(t *testing.T, ctx context.Context, st *store.Store, last string) {
	t.Helper()
	for _, env := range []string{"dev", "prod"} {
		d, err := st.LastDeployment(ctx, repoName, env)
		if err != nil || d.SHA != last {
			t.Errorf("%s: last deployment %+v, %v; want commit %s", env, d, err, last)
		}
	}
	deps, err := st.Deployments(ctx, repoName, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, d := range deps {
		if d.Outcome == "succeeded" {
			if n[fmt.Sprintf("%d/%s", d.RunID, d.Env)]++; n[fmt.Sprintf("%d/%s", d.RunID, d.Env)] == 2 {
				t.Errorf("run %d recorded %s deployed twice", d.RunID, d.Env)
			}
		}
	}
}

// The load test's Terraform checks catch what they are meant to, and accept what a kill legitimately
// causes (a cut command, a second plan of the resumed run).
func TestReplicasLoadTerraformChecks(t *testing.T) {
	at := func(ns int64) time.Time { return time.Unix(0, ns) }
	reps := func() []*replica {
		return []*replica{
			{name: "replica-a", lives: []*life{{pid: 1, started: at(0), killed: at(100)}, {pid: 2, started: at(110)}}},
			{name: "replica-b", lives: []*life{{pid: 3, started: at(0)}}},
		}
	}
	cmd := func(replica string, run int64, env, verb string, start, end int64, rc int) *tfCommand {
		return &tfCommand{replica: replica, run: run, env: env, verb: verb, start: start, end: end, ended: end != 0, rc: rc}
	}
	tests := []struct {
		name string
		cmds []*tfCommand
		want []string // problems, each by a part of its text
	}{
		{name: "plan then apply", cmds: []*tfCommand{
			cmd("replica-a", 1, "dev", "plan", 10, 20, 2), cmd("replica-a", 1, "dev", "apply", 20, 30, 0),
		}},
		{name: "a run cut by a kill plans again elsewhere and applies once", cmds: []*tfCommand{
			cmd("replica-a", 1, "dev", "plan", 10, 20, 2), cmd("replica-a", 1, "dev", "apply", 90, 0, 0),
			cmd("replica-b", 1, "dev", "plan", 120, 130, 2), cmd("replica-b", 1, "dev", "apply", 130, 140, 0),
		}},
		{name: "a run finished before a kill of its replica may not plan again", cmds: []*tfCommand{
			cmd("replica-a", 2, "dev", "plan", 10, 20, 2), cmd("replica-b", 2, "dev", "plan", 120, 130, 2),
		}, want: []string{"run 2: terraform plan completed 2 times in dev (at most 1: 0 kills cut the run)"}},
		{name: "a run resumed after its apply does not plan again", cmds: []*tfCommand{
			cmd("replica-a", 1, "dev", "plan", 10, 20, 2), cmd("replica-a", 1, "dev", "apply", 20, 30, 0),
			cmd("replica-b", 1, "dev", "plan", 120, 130, 0),
		}, want: []string{"run 1 planned dev again on replica-b after its apply had completed"}},
		{name: "applies of two environments may overlap", cmds: []*tfCommand{
			cmd("replica-a", 1, "dev", "apply", 10, 50, 0), cmd("replica-b", 2, "prod", "apply", 20, 60, 0),
		}},
		{name: "an apply completed twice", cmds: []*tfCommand{
			cmd("replica-a", 1, "dev", "apply", 10, 20, 0), cmd("replica-b", 1, "dev", "apply", 30, 40, 0),
		}, want: []string{"run 1: terraform apply completed 2 times in dev"}},
		{name: "a plan completed twice without a kill", cmds: []*tfCommand{
			cmd("replica-b", 1, "dev", "plan", 10, 20, 0), cmd("replica-b", 1, "dev", "plan", 30, 40, 2),
		}, want: []string{"run 1: terraform plan completed 2 times in dev"}},
		{name: "a failed apply does not count as completed, but still holds the environment", cmds: []*tfCommand{
			cmd("replica-b", 1, "dev", "apply", 10, 20, 1), cmd("replica-b", 1, "dev", "apply", 15, 40, 0),
		}, want: []string{"dev: apply of run 1 on replica-b started 5ns before the apply of run 1 on replica-b ended"}},
		{name: "overlapping applies of one environment", cmds: []*tfCommand{
			cmd("replica-a", 1, "dev", "apply", 10, 50, 0), cmd("replica-b", 2, "dev", "apply", 40, 60, 0),
		}, want: []string{"dev: apply of run 2 on replica-b started 10ns before the apply of run 1 on replica-a ended"}},
		{name: "an apply cut by a kill lasts until the kill", cmds: []*tfCommand{
			cmd("replica-a", 1, "dev", "apply", 90, 0, 0), cmd("replica-b", 1, "dev", "apply", 95, 140, 0),
		}, want: []string{"dev: apply of run 1 on replica-b started 5ns before the apply of run 1 on replica-a ended"}},
		{name: "a command that never ended on a living replica", cmds: []*tfCommand{
			cmd("replica-b", 1, "dev", "plan", 10, 0, 0),
		}, want: []string{"terraform plan of run 1 in dev on replica-b never ended"}},
		{name: "commands outside run work trees are not counted", cmds: []*tfCommand{
			{verb: "version", start: 5}, {verb: "apply", start: 6},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			finished := map[int64]time.Time{1: at(150), 2: at(50)}
			_, got := checkTerraformCommands(tt.cmds, reps(), finished)
			if len(got) != len(tt.want) {
				t.Fatalf("problems %+v, want %q", got, tt.want)
			}
			for i, p := range got {
				if !strings.Contains(p.text, tt.want[i]) {
					t.Errorf("problem %q, want %q", p.text, tt.want[i])
				}
			}
		})
	}
}
