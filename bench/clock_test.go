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
	dir := b.TempDir()
	c := &commandClock{bin: filepath.Join(dir, "terraform"), log: filepath.Join(dir, "commands.log")}
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
// whose directory contains part (overlapping commands count once).
func (c *commandClock) inside(b *testing.B, skip int, part string) (time.Duration, int) {
	b.Helper()
	all := c.commands(b)
	cmds := slices.Clone(all[min(skip, len(all)):])
	slices.SortFunc(cmds, func(x, y tfCommand) int { return x.start.Compare(y.start) })
	var total time.Duration
	var reach time.Time
	for _, cmd := range cmds {
		if !strings.Contains(cmd.dir, part) {
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
