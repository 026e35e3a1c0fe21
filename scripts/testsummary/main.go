// Command testsummary reads the test2json files gotestsum writes (--jsonfile) and prints one line of
// totals, "N tests: P passed, F failed, S skipped", then each skipped test with why it was skipped.
// It exits 1 when a test failed. Usage: go run ./scripts/testsummary FILE...
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	s := newSummary()
	for _, name := range os.Args[1:] {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
			os.Exit(2)
		}
		err = s.read(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "testsummary: read %s: %v\n", name, err)
			os.Exit(2)
		}
	}
	s.print(os.Stdout)
	if s.failed > 0 {
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type key struct{ pkg, test string }

type summary struct {
	passed, failed, skipped int
	output                  map[key][]string // a running test's log lines, until it ends
	skips                   []skip
}

type skip struct {
	key
	reason string
}

func newSummary() *summary { return &summary{output: map[key][]string{}} }

func (s *summary) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Test == "" {
			continue // a package's own events, or a line go test printed that is not JSON
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output":
			s.output[k] = append(s.output[k], e.Output)
		case "pass":
			s.passed++
			delete(s.output, k)
		case "fail":
			s.failed++
			delete(s.output, k)
		case "skip":
			s.skipped++
			s.skips = append(s.skips, skip{k, reason(s.output[k])})
			delete(s.output, k)
		}
	}
	return sc.Err()
}

// reason is what the test logged (t.Skip's message among it), without go test's own framing lines.
func reason(lines []string) string {
	var msgs []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		msgs = append(msgs, strings.Map(printable, t))
	}
	if len(msgs) == 0 {
		return "(no message)"
	}
	return strings.Join(msgs, " / ")
}

// printable drops control characters a test may have logged, so the summary stays one line per skip.
func printable(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return -1
	}
	return r
}

func (s *summary) print(w io.Writer) {
	fmt.Fprintf(w, "%d tests: %d passed, %d failed, %d skipped\n", s.passed+s.failed+s.skipped, s.passed, s.failed, s.skipped)
	sort.Slice(s.skips, func(i, j int) bool {
		if s.skips[i].pkg != s.skips[j].pkg {
			return s.skips[i].pkg < s.skips[j].pkg
		}
		return s.skips[i].test < s.skips[j].test
	})
	for _, sk := range s.skips {
		fmt.Fprintf(w, "  skipped %s %s: %s\n", sk.pkg, sk.test, sk.reason)
	}
}
