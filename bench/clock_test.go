package bench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// commandClock stands in for the terraform binary: a bash script that runs the
// real one and appends the command's start and end (EPOCHREALTIME, no fork),
// working directory and first argument to a file. The runner and the hand run
// both go through it, so the time spent inside Terraform can be told apart from
// the time the runner adds around it (queue, checkout, locks, GitHub posts).
type commandClock struct {
	bin string // the script: what the runner and the hand run execute
	log string
	dir string // holds both (and the real binary when it had to be copied): the sandbox must see it
}

// tfCommand is one Terraform invocation seen by the clock.
type tfCommand struct {
	dir, verb  string
	start, end time.Time
}

func (c tfCommand) took() time.Duration { return c.end.Sub(c.start) }

func newCommandClock(b *testing.B, realBin string) *commandClock {
	b.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		b.Skipf("bash not found: the Terraform command clock needs it (%v)", err)
	}
	// The runner's sandbox runs Terraform as another user, with a private /tmp: that user must reach the
	// clock, its log and the real binary, so they live in a directory others can search (b.TempDir's are
	// private) that the runner is told to show its sandbox (dir), and a binary under a private home (/root)
	// is copied there.
	dir, err := os.MkdirTemp("", "terraform-clock-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if !othersCanRun(realBin) {
		copied := filepath.Join(dir, "terraform-real")
		if err := copyFile(realBin, copied, 0o755); err != nil {
			b.Fatal(err)
		}
		realBin = copied
	}
	c := &commandClock{bin: filepath.Join(dir, "terraform"), log: filepath.Join(dir, "commands.log"), dir: dir}
	if err := os.WriteFile(c.log, nil, 0o666); err != nil {
		b.Fatal(err)
	}
	if err := os.Chmod(c.log, 0o666); err != nil { // past the umask: the sandbox's user appends to it
		b.Fatal(err)
	}
	script := fmt.Sprintf(`#!/usr/bin/env bash
s=$EPOCHREALTIME
%q "$@"
rc=$?
printf '%%s %%s %%s\t%%s\n' "$s" "$EPOCHREALTIME" "$1" "$PWD" >> %q
exit $rc
`, realBin, c.log)
	if err := os.WriteFile(c.bin, []byte(script), 0o755); err != nil {
		b.Fatal(err)
	}
	return c
}

// othersCanRun tells whether users other than the owner can read and run file where it is.
func othersCanRun(file string) bool {
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm()&0o005 != 0o005 {
		return false
	}
	for p := filepath.Dir(file); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}

// commands returns every command logged so far.
func (c *commandClock) commands(b *testing.B) []tfCommand {
	b.Helper()
	f, err := os.Open(c.log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var out []tfCommand
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		head, dir, ok := strings.Cut(sc.Text(), "\t")
		fields := strings.Fields(head)
		if !ok || len(fields) != 3 {
			b.Fatalf("command clock: malformed line %q", sc.Text())
		}
		out = append(out, tfCommand{dir: dir, verb: fields[2], start: epoch(b, fields[0]), end: epoch(b, fields[1])})
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}

// inside is the wall time covered by the commands logged after the first skip
// whose directory contains part (overlapping commands count once), `version`
// left out: asking Terraform its version is not Terraform's work on the plan but
// a cost the runner adds (see versions).
func (c *commandClock) inside(b *testing.B, skip int, part string) (time.Duration, int) {
	b.Helper()
	all := c.commands(b)
	cmds := slices.Clone(all[min(skip, len(all)):])
	slices.SortFunc(cmds, func(x, y tfCommand) int { return x.start.Compare(y.start) })
	var total time.Duration
	var reach time.Time
	for _, cmd := range cmds {
		if !strings.Contains(cmd.dir, part) || cmd.verb == "version" {
			continue
		}
		start := cmd.start
		if start.Before(reach) {
			start = reach
		}
		if cmd.end.After(start) {
			total += cmd.end.Sub(start)
			reach = cmd.end
		}
	}
	return total, len(all)
}

// versions counts the `terraform version` commands logged after the first skip,
// wherever they ran, and the time they took.
func (c *commandClock) versions(b *testing.B, skip int) (int, time.Duration) {
	b.Helper()
	all := c.commands(b)
	n, took := 0, time.Duration(0)
	for _, cmd := range all[min(skip, len(all)):] {
		if cmd.verb == "version" {
			n, took = n+1, took+cmd.took()
		}
	}
	return n, took
}

func epoch(b *testing.B, s string) time.Time {
	b.Helper()
	sec, frac, _ := strings.Cut(s, ".")
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		b.Fatalf("command clock: time %q: %v", s, err)
	}
	frac = (frac + "000000000")[:9]
	nanos, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		b.Fatalf("command clock: time %q: %v", s, err)
	}
	return time.Unix(secs, nanos)
}
