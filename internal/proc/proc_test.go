package proc_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/proc"
)

// A cancelled command gets SIGINT first; one that ignores it is killed after
// the grace period; a child it started does not outlive it.
func TestCancellation(t *testing.T) {
	tests := []struct {
		name      string
		script    string
		wantAfter time.Duration // at least this long after cancel
	}{
		{"stops on interrupt", `trap 'echo got-int; exit 3' INT; sleep 30 & echo $! > child; wait`, 0},
		{"ignores interrupt, killed after grace", `trap '' INT; sleep 30 & echo $! > child; while true; do sleep 0.1; done`, 400 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			cmd := proc.Command(ctx, 500*time.Millisecond, "sh", "-c", tc.script)
			cmd.Dir = dir
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			childFile := filepath.Join(dir, "child")
			deadline := time.Now().Add(10 * time.Second)
			for {
				if b, err := os.ReadFile(childFile); err == nil && strings.TrimSpace(string(b)) != "" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("script never started its child")
				}
				time.Sleep(10 * time.Millisecond)
			}
			start := time.Now()
			cancel()
			_ = cmd.Wait()
			proc.Reap(cmd)
			if took := time.Since(start); took < tc.wantAfter || took > 5*time.Second {
				t.Fatalf("stopped after %s, want between %s and 5s", took, tc.wantAfter)
			}
			b, _ := os.ReadFile(childFile)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			deadline = time.Now().Add(5 * time.Second)
			for syscall.Kill(pid, 0) == nil {
				if time.Now().After(deadline) {
					t.Fatalf("child %d outlived the command", pid)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
