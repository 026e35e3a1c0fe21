package tf

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
)

// TestPlanTimings compares, on the app fixture, Workspace Init+Plan+Show with the same three commands
// run by hand through os/exec, and three environments planned in parallel with the slowest of them
// planned alone. It prints a table; it is a measurement, not a check, so it runs only when asked:
//
//	RUNNER_TF_BENCH=1 [RUNNER_TF_BENCH_ITER=9] go test -run TestPlanTimings -v ./internal/tf/
func TestPlanTimings(t *testing.T) {
	if os.Getenv("RUNNER_TF_BENCH") == "" {
		t.Skip("set RUNNER_TF_BENCH=1 to measure plan timings")
	}
	iter := 7
	if n, err := strconv.Atoi(os.Getenv("RUNNER_TF_BENCH_ITER")); err == nil && n > 0 {
		iter = n
	}
	e := newTestEnv(t)
	ctx := context.Background()

	// fresh returns a new copy of the app environment, as a run gets from a fresh clone.
	fresh := func() string {
		return filepath.Join(copyFixtures(t), "envs", "app")
	}
	viaWorkspace := func(dir string) time.Duration {
		start := time.Now()
		w, err := New(Options{Bin: e.bin, Dir: dir, Environment: "app", PluginCacheDir: e.cache,
			Env: map[string]string{"TF_CLI_CONFIG_FILE": e.rc}})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Init(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Plan(ctx, "plan.tfplan", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Show(ctx, "plan.tfplan"); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+e.rc, "TF_PLUGIN_CACHE_DIR="+e.cache,
		"TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1")
	byHand := func(dir string) time.Duration {
		start := time.Now()
		run := func(args ...string) []byte {
			cmd := exec.CommandContext(ctx, e.bin, args...)
			cmd.Dir, cmd.Env = dir, env
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("terraform %v: %v", args, err)
			}
			return out
		}
		run("init", "-no-color", "-input=false", "-backend-config=backend.hcl")
		run("plan", "-no-color", "-input=false", "-out=plan.tfplan")
		var p tfjson.Plan
		if err := json.Unmarshal(run("show", "-json", "plan.tfplan"), &p); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}

	viaWorkspace(fresh()) // warm the page cache for the binary
	var ws, cli []time.Duration
	for i := range iter {
		a, b := fresh(), fresh()
		if i%2 == 0 { // alternate which goes first
			ws, cli = append(ws, viaWorkspace(a)), append(cli, byHand(b))
		} else {
			cli, ws = append(cli, byHand(b)), append(ws, viaWorkspace(a))
		}
	}

	var alone, parallel []time.Duration
	var cpuAlone, cpuParallel, wallAlone, wallParallel time.Duration
	for range iter {
		slowest := time.Duration(0)
		c0 := childCPU()
		for range 3 {
			d := viaWorkspace(fresh())
			slowest = max(slowest, d)
			wallAlone += d
		}
		cpuAlone += childCPU() - c0
		alone = append(alone, slowest)
		dirs := []string{fresh(), fresh(), fresh()}
		c0 = childCPU()
		start := time.Now()
		var wg sync.WaitGroup
		for _, d := range dirs {
			wg.Go(func() { viaWorkspace(d) })
		}
		wg.Wait()
		wallParallel += time.Since(start)
		cpuParallel += childCPU() - c0
		parallel = append(parallel, time.Since(start))
	}

	mw, mc, ma, mp := median(ws), median(cli), median(alone), median(parallel)
	t.Logf("\n%-44s %10s %10s %10s\n%-44s %10s %10s %10s\n%-44s %10s %10s %10s\n%-44s %10.2fx (target <= 1.10x)\n%-44s %10s %10s %10s\n%-44s %10s %10s %10s\n%-44s %10.2fx (target <= 1.30x)",
		fmt.Sprintf("init+plan+show, %d iterations", iter), "median", "min", "max",
		"  Workspace (terraform-exec)", ms(mw), ms(slices.Min(ws)), ms(slices.Max(ws)),
		"  by hand (os/exec)", ms(mc), ms(slices.Min(cli)), ms(slices.Max(cli)),
		"  ratio Workspace / by hand", float64(mw)/float64(mc),
		"  slowest of 3 environments alone", ms(ma), ms(slices.Min(alone)), ms(slices.Max(alone)),
		"  3 environments in parallel", ms(mp), ms(slices.Min(parallel)), ms(slices.Max(parallel)),
		"  ratio parallel / slowest alone", float64(mp)/float64(ma))
	// Terraform's CPU time over wall time: how many CPUs the commands actually got. If running three at
	// once does not raise it, the machine (not the runner) serialised them.
	t.Logf("CPUs used by Terraform: %.2f one environment at a time, %.2f three at once (%d CPUs, load %s)",
		float64(cpuAlone)/float64(wallAlone), float64(cpuParallel)/float64(wallParallel), runtime.NumCPU(), loadavg())
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// childCPU is the user+system time of all waited-for child processes so far.
func childCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:min(3, len(strings.Fields(string(b))))], " ")
}

func ms(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }
