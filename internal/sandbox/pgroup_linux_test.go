package sandbox

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/pgroup"
)

// A command started through the launcher leads a process group that it recorded before the program
// ran; killing that group leaves nothing of the command, its background children included, in every
// mode.
func TestLauncherRecordsItsProcessGroup(t *testing.T) {
	for _, want := range []string{WantOff, WantUser, WantNamespaces} {
		t.Run(want, func(t *testing.T) {
			if want != WantOff {
				needRoot(t)
			}
			data := openTemp(t)
			sb := newSandbox(t, want, data)
			work := filepath.Join(data, "work")
			if err := os.MkdirAll(work, 0o755); err != nil {
				t.Fatal(err)
			}
			records := filepath.Join(data, "records", "rs1a1")
			env, release, err := sb.Enter(context.Background(), Command{Program: "/bin/sh", WorkTree: work, Records: records})
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			// The launcher is started without a group of its own: it makes one itself.
			cmd := exec.Command(sb.Launcher(), "-c", "sleep 300 & echo started > started; sleep 300")
			cmd.Dir = work
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _, _ = cmd.Process.Wait() })
			deadline := time.Now().Add(20 * time.Second)
			for {
				if _, err := os.Stat(filepath.Join(work, "started")); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the command never started")
				}
				time.Sleep(10 * time.Millisecond)
			}
			leaders, err := pgroup.Records(records)
			if err != nil || len(leaders) != 1 || leaders[0].PID != cmd.Process.Pid {
				t.Fatalf("records = %+v, %v; want the launcher %d", leaders, err, cmd.Process.Pid)
			}
			// "started" is written between the two sleeps: the shell may not have executed either yet.
			var members []int
			sleeps := 0
			for wait := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				members, sleeps = pgroup.Members(leaders[0]), 0
				for _, pid := range members {
					if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm"); strings.TrimSpace(string(b)) == "sleep" {
						sleeps++
					}
				}
				if sleeps >= 2 || time.Now().After(wait) {
					break
				}
			}
			if sleeps != 2 {
				t.Fatalf("group %d has %d sleep processes (%v), want 2", leaders[0].PID, sleeps, members)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := pgroup.Kill(ctx, leaders[0]); err != nil {
				t.Fatal(err)
			}
			_, _ = cmd.Process.Wait()
			for _, pid := range members {
				deadline := time.Now().Add(5 * time.Second)
				for syscall.Kill(pid, 0) == nil {
					if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); strings.Contains(string(b), ") Z") {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("process %d outlived the kill of its group", pid)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
}

// In namespaces mode the command sees the host name it was given.
func TestHostnamePerCommand(t *testing.T) {
	needRoot(t)
	data := openTemp(t)
	sb := newSandbox(t, WantNamespaces, data)
	work := filepath.Join(data, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, want string }{{"", "sandbox"}, {"rs12a3-0f1e2d3c", "rs12a3-0f1e2d3c"}} {
		env, release, err := sb.Enter(context.Background(), Command{Program: "/bin/sh", WorkTree: work, Hostname: tt.name})
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(sb.Launcher(), "-c", "cat /proc/sys/kernel/hostname")
		cmd.Dir = work
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		release()
		if err != nil || strings.TrimSpace(string(out)) != tt.want {
			t.Fatalf("host name %q: got %q, %v; want %q", tt.name, out, err, tt.want)
		}
	}
	for _, bad := range []string{"Upper", "-dash", "a.b", strings.Repeat("a", 64), "a b"} {
		if _, _, err := sb.Enter(context.Background(), Command{Program: "/bin/sh", WorkTree: work, Hostname: bad}); err == nil {
			t.Errorf("host name %q accepted", bad)
		}
	}
}
