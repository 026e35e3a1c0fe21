package tf

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// marker tags every process a test starts (Terraform and its children inherit it), so the test can
// check that none outlive a cancelled command.
func marker(t *testing.T) (key, value string) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "RUNNER_TF_TEST_MARKER", hex.EncodeToString(b)
}

// processesWith returns the ids of live processes whose environment contains key=value.
func processesWith(t *testing.T, key, value string) []string {
	t.Helper()
	needle := []byte(key + "=" + value + "\x00")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []string
	for _, d := range dirs {
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil {
			continue // exited meanwhile, or not ours to read
		}
		if stat, err := os.ReadFile(filepath.Join(d, "stat")); err == nil && bytes.Contains(stat, []byte(") Z ")) {
			continue // zombie: exited, awaiting its parent
		}
		if bytes.Contains(env, needle) {
			pids = append(pids, filepath.Base(d))
		}
	}
	return pids
}

// TestInterruptedCommandReleasesState starts an apply whose provisioner runs for 30 s and stops it, by
// cancelling the caller's context or by the per-command timeout. Terraform must get the interrupt,
// exit well within the grace period, leave no process behind and leave the state unlocked: a plan
// with a near-zero lock timeout right after succeeds.
func TestInterruptedCommandReleasesState(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("process checks read /proc")
	}
	tests := []struct {
		name    string
		timeout time.Duration // per-command timeout; 0 = cancel the context once the provisioner runs
		wantErr error
	}{
		{name: "caller cancels", wantErr: context.Canceled},
		{name: "command timeout", timeout: 3 * time.Second, wantErr: ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			key, value := marker(t)
			w, log := e.workspace(t, "slow", func(o *Options) {
				o.Env[key] = value
				o.LockTimeout = time.Millisecond
				if tt.timeout > 0 {
					o.CommandTimeout = tt.timeout
				}
			})
			ctx := context.Background()
			if err := w.Init(ctx); err != nil {
				t.Fatalf("init: %v\n%s", err, log)
			}
			planFile := filepath.Join(t.TempDir(), "plan")
			if _, err := w.Plan(ctx, planFile, nil); err != nil {
				t.Fatalf("plan: %v\n%s", err, log)
			}

			applyCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- w.Apply(applyCtx, planFile) }()
			eventually(t, time.Minute, "the provisioner to start", func() bool { return log.Contains("provisioner-started") })
			if tt.timeout == 0 {
				cancel()
			}

			var err error
			select {
			case err = <-done:
			case <-time.After(15 * time.Second):
				t.Fatalf("apply still running 15s after it was stopped\n%s", log)
			}
			elapsed := time.Since(start)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("apply error = %v, want %v", err, tt.wantErr)
			}
			if elapsed > 25*time.Second {
				t.Errorf("apply took %s; the 30s provisioner was not stopped", elapsed)
			}
			if !log.Contains("Interrupt received") {
				t.Errorf("Terraform did not log the interrupt (killed instead of interrupted?)\n%s", log)
			}
			if !waitUntil(10*time.Second, func() bool { return len(processesWith(t, key, value)) == 0 }) {
				for _, pid := range processesWith(t, key, value) {
					cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline")
					t.Errorf("process left behind: %s %q", pid, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
				}
			}

			planCtx, cancelPlan := context.WithTimeout(ctx, 30*time.Second)
			defer cancelPlan()
			if _, err := w.Plan(planCtx, filepath.Join(t.TempDir(), "plan2"), nil); err != nil {
				t.Fatalf("plan after the interrupted apply: %v\n%s", err, log)
			}
		})
	}
}
