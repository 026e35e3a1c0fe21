// Package pgroup records the process groups a stage's commands lead, so that a later attempt of the
// stage (after the runner that started them was killed) can kill what is left of them on the same host.
//
// A record is written by the launcher itself, before it executes the real program: a record exists
// before the program can do anything. A group leader is named by its pid and its start time (field 22 of
// /proc/<pid>/stat, clock ticks since boot), and a host by its name and kernel boot id, so that a reused
// pid, or a record read on another machine or after a reboot, never leads to killing a stranger.
package pgroup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Leader is the first process of a group: the group's id is its pid.
type Leader struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"` // clock ticks after boot
}

// Host names a machine for one boot: processes are reachable only from the same host and boot.
type Host struct {
	Name string `json:"name"`
	Boot string `json:"boot"`
}

// ThisHost is the host the caller runs on.
func ThisHost() (Host, error) {
	name, err := os.Hostname()
	if err != nil {
		return Host{}, fmt.Errorf("host name: %w", err)
	}
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return Host{}, fmt.Errorf("boot id: %w", err)
	}
	return Host{Name: name, Boot: strings.TrimSpace(string(b))}, nil
}

// Same reports whether h and o are the same machine in the same boot.
func (h Host) Same(o Host) bool { return h.Name != "" && h.Boot != "" && h == o }

// stat is what pgroup reads of /proc/<pid>/stat.
type stat struct {
	ppid, pgrp int
	start      uint64
}

// readStat parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may hold spaces
// and parentheses itself: the fields after it start after the last ')'.
func readStat(pid int) (stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, err
	}
	return parseStat(b)
}

func parseStat(b []byte) (stat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, errors.New("malformed stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): field n is f[n-3].
	if len(f) < 20 {
		return stat{}, errors.New("malformed stat: too few fields")
	}
	var s stat
	var err error
	if s.ppid, err = strconv.Atoi(f[1]); err != nil {
		return stat{}, fmt.Errorf("malformed stat: ppid: %w", err)
	}
	if s.pgrp, err = strconv.Atoi(f[2]); err != nil {
		return stat{}, fmt.Errorf("malformed stat: pgrp: %w", err)
	}
	if s.start, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return stat{}, fmt.Errorf("malformed stat: start time: %w", err)
	}
	return s, nil
}

// Self is the calling process as a group leader (whether or not it leads its group yet).
func Self() (Leader, error) { return Of(os.Getpid()) }

// Of is process pid as a group leader.
func Of(pid int) (Leader, error) {
	s, err := readStat(pid)
	if err != nil {
		return Leader{}, fmt.Errorf("read the start time of process %d: %w", pid, err)
	}
	return Leader{PID: pid, Start: s.start}, nil
}

// Record writes l into dir (created when missing) as <pid>.json, synced to disk.
func Record(dir string, l Leader) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("record process group: %w", err)
	}
	b, _ := json.Marshal(l) // ints only: never fails
	p := filepath.Join(dir, strconv.Itoa(l.PID)+".json")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("record process group: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("record process group %s: %w", p, err)
	}
	return nil
}

// Records reads the leaders recorded in dir; a missing dir has none.
func Records(dir string) ([]Leader, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read process records: %w", err)
	}
	var out []Leader
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return out, fmt.Errorf("read process record: %w", err)
		}
		var l Leader
		if err := json.Unmarshal(b, &l); err != nil || l.PID <= 1 {
			continue // a record cut short by a crash names nothing we may kill
		}
		out = append(out, l)
	}
	return out, nil
}

// Members lists the live processes of l's group that started no earlier than l: the leader itself while
// it lives, and what it started. A pid is freed only once no process and no group uses it, so while any
// member of the group lives, no new process can have l's pid; once the group is empty and the pid is
// reused, the new process started later than l but leads (or joins) no group of ours unless its start
// time matches: the start time check on the leader and the "not before l" check on members keep
// strangers out.
func Members(l Leader) []int {
	if s, err := readStat(l.PID); err == nil && s.start != l.Start {
		return nil // the pid was reused: the group we recorded is gone
	}
	self := os.Getpid()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == self {
			continue
		}
		s, err := readStat(pid)
		if err != nil || s.pgrp != l.PID || s.start < l.Start {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// Kill kills every member of l's group with SIGKILL, again until none is left (a member may fork while
// it is being killed) or ctx ends, and returns how many processes it killed.
func Kill(ctx context.Context, l Leader) (int, error) {
	killed := map[int]bool{}
	for {
		members := Members(l)
		alive := 0
		for _, pid := range members {
			if isZombie(pid) {
				continue // dead, waiting for its parent to reap it
			}
			alive++
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed[pid] = true
			}
		}
		if alive == 0 {
			return len(killed), nil
		}
		select {
		case <-ctx.Done():
			return len(killed), fmt.Errorf("process group %d: %d process(es) still alive: %w", l.PID, alive, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// isZombie reports whether pid has exited and waits to be reaped.
func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
}

// KillMarked kills the processes whose environment holds key=<value> with value starting with prefix:
// what a command started and that left its group (setsid) but kept the environment it inherited.
func KillMarked(key, prefix string) int {
	if prefix == "" {
		return 0
	}
	needle := []byte("\x00" + key + "=" + prefix)
	self := os.Getpid()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	killed := 0
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !(bytes.Contains(env, needle) || bytes.HasPrefix(env, needle[1:])) {
			continue
		}
		if !isZombie(pid) && syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed++
		}
	}
	return killed
}
