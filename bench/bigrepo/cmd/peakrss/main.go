// Command peakrss runs a command and writes to FILE, as JSON, how much memory it took:
//
//		peakrss FILE command [args...]
//
//	  - max_rss_kb: the peak resident set size of the largest process among the command and the
//	    descendants it waited for (the ru_maxrss of its wait4), exact;
//	  - tree_kb and tree_anon_kb: the largest sum over the command's process tree of the resident set,
//	    and of its anonymous part alone (without mapped files such as packs), sampled every 50 ms.
//
// The benchmarks cannot measure their own children directly: Go starts a child with vfork, and at exec
// Linux carries the parent's peak RSS into the child's ru_maxrss, so every child of a 60 MB benchmark
// would report at least 60 MB. Started from peakrss, a command's figure can only be raised to
// peakrss's own few MB. Signals that stop peakrss are passed on to the command.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Usage is what FILE holds.
type Usage struct {
	MaxRSSKB   int64 `json:"max_rss_kb"`
	TreeKB     int64 `json:"tree_kb"`
	TreeAnonKB int64 `json:"tree_anon_kb"`
}

// sampleEvery is often enough to see index-pack's peak, rarely enough to cost little of 2 cores
// (a /proc read per process of the machine each time).
const sampleEvery = 50 * time.Millisecond

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: peakrss FILE command [args...]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	done := make(chan struct{})
	sampled := make(chan Usage)
	go func() { sampled <- sample(cmd.Process.Pid, done) }()
	err := cmd.Wait()
	close(done)
	u := <-sampled
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		fail(err)
	}
	u.MaxRSSKB = cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	u.TreeKB = max(u.TreeKB, u.MaxRSSKB)
	data, err := json.Marshal(u)
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(os.Args[1], data, 0o644); err != nil {
		fail(err)
	}
	os.Exit(cmd.ProcessState.ExitCode())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "peakrss:", err)
	os.Exit(127)
}

// sample returns the largest sums seen over pid's process tree until done is closed.
func sample(pid int, done <-chan struct{}) Usage {
	var peak Usage
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		rss, anon := treeRSS(pid)
		peak.TreeKB, peak.TreeAnonKB = max(peak.TreeKB, rss), max(peak.TreeAnonKB, anon)
		select {
		case <-done:
			return peak
		case <-t.C:
		}
	}
}

// treeRSS sums the resident set of pid and its descendants, and its anonymous part, in KB: the tree
// from the ppid of /proc/*/stat, the sizes from /proc/<pid>/statm (resident minus shared is anonymous).
func treeRSS(pid int) (rss, anon int64) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0
	}
	children := map[int][]int{}
	for _, d := range entries {
		p, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')') // the command name may hold spaces and parentheses
		if f := strings.Fields(s[i+1:]); i >= 0 && len(f) > 1 {
			ppid, _ := strconv.Atoi(f[1])
			children[ppid] = append(children[ppid], p)
		}
	}
	page := int64(os.Getpagesize() / 1024)
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		p := queue[0]
		queue = append(queue, children[p]...)
		data, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/statm")
		if err != nil {
			continue
		}
		f := strings.Fields(string(data))
		if len(f) < 3 {
			continue
		}
		resident, _ := strconv.ParseInt(f[1], 10, 64)
		shared, _ := strconv.ParseInt(f[2], 10, 64)
		rss += resident * page
		anon += (resident - shared) * page
	}
	return rss, anon
}
