package bench

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSample is the CPU time used so far by this process (the runners and the load client), by its
// child processes that ended (git http-backend, git, Terraform) and by the PostgreSQL server (its
// postmaster and every backend), and how long some runnable task of the machine waited for a core
// (Linux's CPU pressure, /proc/pressure/cpu "some"). Two samples around a measurement say what competed
// for the cores during it. (The machine's own busy time from /proc/stat is not used: it is sampled at
// the timer tick and under-counts this process's short, timer-aligned bursts by up to 4x here.)
type cpuSample struct {
	at                         time.Time
	self, children, pg, waited time.Duration
}

// clockTick is USER_HZ, the unit of /proc's CPU times (100 on Linux everywhere that matters here).
const clockTick = 10 * time.Millisecond

func sampleCPU(db database) cpuSample {
	s := cpuSample{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = rusageTime(ru)
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		s.children = rusageTime(ru)
	}
	if db.pg != nil {
		s.pg = postgresCPU(db)
	}
	if raw, err := os.ReadFile("/proc/pressure/cpu"); err == nil {
		// some avg10=0.00 avg60=0.00 avg300=0.00 total=<microseconds>
		line, _, _ := strings.Cut(string(raw), "\n")
		if _, total, ok := strings.Cut(line, "total="); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(total), 10, 64)
			s.waited = time.Duration(n) * time.Microsecond
		}
	}
	return s
}

func rusageTime(ru syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postgresCPU is the CPU time of db's server: its postmaster (found by its port), the backends it
// reaped (the postmaster's children's time) and the live ones.
func postgresCPU(db database) time.Duration {
	u, err := url.Parse(db.pg.URL("postgres"))
	if err != nil {
		return 0
	}
	port := u.Port()
	procs, _ := filepath.Glob("/proc/[0-9]*")
	// A backend just forked still shows the postmaster's command line: the postmaster is the match
	// whose parent is not one.
	matches := map[string][]string{} // pid -> stat fields
	for _, p := range procs {
		raw, err := os.ReadFile(filepath.Join(p, "cmdline"))
		if err != nil {
			continue
		}
		argv := strings.Split(string(raw), "\x00")
		if filepath.Base(argv[0]) != "postgres" {
			continue
		}
		for i := 0; i+1 < len(argv); i++ {
			if argv[i] == "-p" && argv[i+1] == port {
				if st, ok := procStat(p); ok {
					matches[filepath.Base(p)] = st
				}
			}
		}
	}
	var master string
	for pid, st := range matches {
		if _, forked := matches[st[4-3]]; !forked {
			master = pid
		}
	}
	if master == "" {
		return 0
	}
	var total time.Duration
	for _, p := range procs {
		st, ok := procStat(p)
		if !ok {
			continue
		}
		// Fields after the command: 4 ppid ... 14 utime 15 stime 16 cutime 17 cstime (1-based, as proc(5)).
		switch {
		case filepath.Base(p) == master:
			total += ticks(st, 14, 15, 16, 17)
		case st[4-3] == master:
			total += ticks(st, 14, 15)
		}
	}
	return total
}

// procStat returns /proc/PID/stat's fields after "(comm)", so that field n of proc(5) is at index n-3.
func procStat(dir string) ([]string, bool) {
	raw, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return nil, false
	}
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return nil, false
	}
	f := strings.Fields(string(raw[i+1:]))
	return f, len(f) >= 15
}

func ticks(st []string, fields ...int) time.Duration {
	var d time.Duration
	for _, n := range fields {
		v, _ := strconv.ParseInt(st[n-3], 10, 64)
		d += time.Duration(v) * clockTick
	}
	return d
}

// cpuUse is what was used between two samples.
type cpuUse struct {
	wall, self, children, pg, waited time.Duration
}

func (a cpuSample) until(b cpuSample) cpuUse {
	return cpuUse{wall: b.at.Sub(a.at), self: b.self - a.self, children: b.children - a.children, pg: b.pg - a.pg, waited: b.waited - a.waited}
}

// cores is d as a share of the wall time: how many cores it kept busy on average.
func (u cpuUse) cores(d time.Duration) float64 {
	if u.wall <= 0 {
		return 0
	}
	return float64(d) / float64(u.wall)
}

func (u cpuUse) String() string {
	return fmt.Sprintf("cores busy on average over %s: this process %.2f, its child processes %.2f, postgres %.2f (of %d); "+
		"some runnable task waited for a core %.0f%% of the time",
		u.wall.Round(100*time.Millisecond), u.cores(u.self), u.cores(u.children), u.cores(u.pg), runtime.NumCPU(), 100*u.cores(u.waited))
}
