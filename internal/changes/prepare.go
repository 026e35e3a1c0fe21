package changes

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// prepare parses, several folders at once, what detection for the projects in roots will ask of g: the
// modules they reach (level by level of the call graph) and what each of those folders reads for its
// root. Parsing (HCL's lexer, run by tfconfig and by Reads) is most of what detection costs, and each
// folder's is independent; the answers are the ones the sequential code would get, which then finds
// them done. On one core it does nothing.
func (g *graph) prepare(roots []string) {
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || len(roots) == 0 {
		return
	}
	seen := map[string]bool{}
	var frontier []string
	for _, r := range roots {
		if !seen[r] {
			seen[r] = true
			frontier = append(frontier, r)
		}
	}
	for len(frontier) > 0 {
		var todo []string
		for _, d := range frontier {
			if _, ok := g.modules[d]; !ok {
				todo = append(todo, d)
			}
		}
		for i, m := range inParallel(workers, todo, g.loadModule) {
			g.modules[todo[i]] = m
		}
		var next []string
		for _, d := range frontier {
			for _, c := range g.modules[d].calls {
				if !seen[c.dir] {
					seen[c.dir] = true
					next = append(next, c.dir)
				}
			}
		}
		frontier = next
	}
	var pairs [][2]string // (folder, root)
	queued := map[[2]string]bool{}
	for _, r := range roots {
		for _, d := range append([]string{r}, g.reachableDirs(r)...) {
			k := [2]string{d, r}
			if _, done := g.read[k]; !done && !queued[k] {
				queued[k] = true
				pairs = append(pairs, k)
			}
		}
	}
	for i, rs := range inParallel(workers, pairs, func(k [2]string) *readSet { return g.readModule(k[0], k[1]) }) {
		g.read[pairs[i]] = rs
	}
}

// inParallel returns f of each of in, in order, running at most workers at once.
func inParallel[In, Out any](workers int, in []In, f func(In) Out) []Out {
	out := make([]Out, len(in))
	if len(in) == 0 {
		return out
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, len(in)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(in) {
					return
				}
				out[i] = f(in[i])
			}
		})
	}
	wg.Wait()
	return out
}
