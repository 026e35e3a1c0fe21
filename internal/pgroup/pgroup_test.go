package pgroup

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
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    stat
		wantErr bool
	}{
		{name: "plain", in: "123 (sleep) S 1 123 7 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 4567 1000 10",
			want: stat{ppid: 1, pgrp: 123, start: 4567}},
		{name: "command name with spaces and parentheses", in: "9 (a) b (c)) R 2 3 4 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0",
			want: stat{ppid: 2, pgrp: 3, start: 99}},
		{name: "no command name", in: "9 a R 2 3", wantErr: true},
		{name: "too few fields", in: "9 (a) R 2 3 4", wantErr: true},
		{name: "not a number", in: "9 (a) R x 3 4 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.in))
			if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
				t.Fatalf("parseStat = %+v, %v; want %+v (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	want := []Leader{{PID: 42, Start: 7}, {PID: 43, Start: 8}}
	for _, l := range want {
		if err := Record(dir, l); err != nil {
			t.Fatal(err)
		}
	}
	// A record cut short names nothing.
	if err := os.WriteFile(filepath.Join(dir, "44.json"), []byte(`{"pid":4`), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Records(dir)
	if err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Records = %+v, %v; want %+v", got, err, want)
	}
	if got, err := Records(filepath.Join(t.TempDir(), "missing")); err != nil || got != nil {
		t.Fatalf("Records of a missing dir = %+v, %v", got, err)
	}
}

// startGroup starts sh -c 'sleep 300 & echo $! > child; sleep 300' in a group of its own, as the
// launcher's commands are, and returns the leader and the background child's pid.
func startGroup(t *testing.T) (*exec.Cmd, Leader, int) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", "sleep 300 & echo $! > child; exec sleep 300")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_, _ = cmd.Process.Wait()
	})
	s, err := readStat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	var child int
	deadline := time.Now().Add(10 * time.Second)
	for child == 0 {
		if b, err := os.ReadFile(filepath.Join(dir, "child")); err == nil {
			child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if time.Now().After(deadline) {
			t.Fatal("the group never started its child")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd, Leader{PID: cmd.Process.Pid, Start: s.start}, child
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil && !isZombie(pid) }

func TestKillKillsTheWholeGroup(t *testing.T) {
	cmd, l, child := startGroup(t)
	if got := Members(l); len(got) != 2 {
		t.Fatalf("members = %v, want the leader and its child", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := Kill(ctx, l)
	if err != nil || n != 2 {
		t.Fatalf("Kill = %d, %v; want 2 killed", n, err)
	}
	_, _ = cmd.Process.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for alive(child) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d outlived the kill of its group", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKillSparesAReusedPID(t *testing.T) {
	_, l, child := startGroup(t)
	// The record names the same pid with another start time: the process is not the one recorded.
	stale := Leader{PID: l.PID, Start: l.Start + 1}
	if got := Members(stale); got != nil {
		t.Fatalf("members of a reused pid = %v, want none", got)
	}
	n, err := Kill(context.Background(), stale)
	if err != nil || n != 0 {
		t.Fatalf("Kill of a reused pid = %d, %v; want nothing killed", n, err)
	}
	if !alive(l.PID) || !alive(child) {
		t.Fatal("a process of a group whose leader's start time differs was killed")
	}
}

func TestKillMarked(t *testing.T) {
	cmd := exec.Command("sleep", "300")
	cmd.Env = append(os.Environ(), "PGROUP_TEST_MARK=rs1a1-abc.123")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	if n := KillMarked("PGROUP_TEST_MARK", "rs1a2-"); n != 0 {
		t.Fatalf("another attempt's prefix killed %d", n)
	}
	if n := KillMarked("PGROUP_TEST_MARK", "rs1a1-"); n != 1 {
		t.Fatalf("KillMarked = %d, want 1", n)
	}
	if st, err := cmd.Process.Wait(); err != nil || st.Success() {
		t.Fatalf("marked process: %v, %v; want killed", st, err)
	}
}

func TestThisHost(t *testing.T) {
	h, err := ThisHost()
	if err != nil {
		t.Skipf("no boot id here: %v", err)
	}
	if !h.Same(h) || h.Same(Host{Name: h.Name, Boot: "other"}) || (Host{}).Same(Host{}) {
		t.Fatalf("Same is wrong for %+v", h)
	}
}
