package bigrepo

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// people author the commits; merges are committed by GitHub, as its merge button does.
var people = []string{
	"Dana Dev <dana@example.com>", "Sam Ops <sam@example.com>", "Ari Lee <ari@example.com>",
	"Kim Park <kim@example.com>", "Noor Haddad <noor@example.com>", "Lena Vogel <lena@example.com>",
	"Tomas Silva <tomas@example.com>", "Priya Rao <priya@example.com>", "Jonas Berg <jonas@example.com>",
	"Mei Chen <mei@example.com>", "Olu Adeyemi <olu@example.com>", "Rosa Diaz <rosa@example.com>",
	"Ivan Petrov <ivan@example.com>", "Hana Sato <hana@example.com>", "Elif Kaya <elif@example.com>",
	"Marc Dubois <marc@example.com>", "Zoe Clark <zoe@example.com>", "Yusuf Ali <yusuf@example.com>",
	"Greta Holm <greta@example.com>", "Luis Ortega <luis@example.com>",
}

const (
	githubCommitter = "GitHub <noreply@github.com>"
	startTime       = 1609750800 // 2021-01-04 09:00:00 UTC
)

// pr is one pull request: commits on refs/pull/N/head from main at step created, merged with a merge
// commit at step merged (0: never, it stays open or was closed).
type pr struct {
	n       int
	created int
	merged  int
	branch  string
	files   []int // layout indexes it changes
	commits int
	head    int         // mark of its last commit
	blobs   map[int]int // layout index -> blob mark of the PR's last version
	order   []int       // the files in blobs, in the order first changed
}

// history writes the fast-import stream of the whole repository to w.
type history struct {
	o    Options
	r    *rand.Rand
	l    *layout
	w    *bufio.Writer
	mark int   // last mark used
	when int64 // the clock of the history, seconds
	buf  []byte
	// hot is the churn order of the changeable files: the first ones change most often.
	hot []int
}

func writeHistory(ctx context.Context, w io.Writer, o Options, progress io.Writer) error {
	r := rand.New(rand.NewPCG(o.Seed, 0x6769746f70732d31)) // "gitops-1"
	l := newLayout(o.Files, r)
	h := &history{o: o, r: r, l: l, w: bufio.NewWriterSize(w, 1<<20), when: startTime, mark: o.Commits}
	for _, i := range r.Perm(len(l.files)) {
		if l.files[i].changeable() {
			h.hot = append(h.hot, i)
		}
	}
	prs, mergeAt, createAt := h.plan()
	h.printf("feature done\n")
	h.initial()
	tagEvery := max((o.Commits-1)/max(o.Tags, 1), 1)
	tags := 0
	started := time.Now()
	for i := 1; i < o.Commits; i++ {
		if i%2000 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if progress != nil {
				fmt.Fprintf(progress, "bigrepo: %d/%d commits on main streamed (%s)\n", i, o.Commits, time.Since(started).Round(time.Second))
			}
		}
		h.when += 300 + int64(h.r.IntN(3300))
		for _, p := range createAt[i] {
			h.pullRequest(p, i)
		}
		if p := mergeAt[i]; p != nil {
			h.merge(p, i)
		} else {
			h.change(i)
		}
		if tags < o.Tags && i%tagEvery == 0 {
			tags++
			h.printf("tag v%d.%d.%d\nfrom :%d\ntagger %s %d +0000\n", 1+tags/100, (tags/10)%10, tags%10, i+1, h.person(), h.when)
			h.data([]byte(fmt.Sprintf("Release v%d.%d.%d\n", 1+tags/100, (tags/10)%10, tags%10)))
		}
	}
	h.branches(prs)
	h.printf("done\n")
	return h.w.Flush()
}

// plan draws the pull requests: their creation steps (numbered in that order, as GitHub numbers
// them), seven in ten merged 1-40 steps later (one merge per step), and the files each changes.
func (h *history) plan() (prs []*pr, mergeAt map[int]*pr, createAt map[int][]*pr) {
	o := h.o
	steps := make([]int, o.PRs)
	for i := range steps {
		steps[i] = 1 + h.r.IntN(max(o.Commits-1, 1))
	}
	sort.Ints(steps)
	mergeAt, createAt = map[int]*pr{}, map[int][]*pr{}
	for i, s := range steps {
		p := &pr{n: i + 1, created: s, commits: 1 + h.r.IntN(3), blobs: map[int]int{}}
		area := h.prArea()
		files := h.l.byArea[area]
		var changeable []int
		for _, f := range files {
			if h.l.files[f].changeable() {
				changeable = append(changeable, f)
			}
		}
		for j := 0; j < 1+h.r.IntN(3) && len(changeable) > 0; j++ {
			p.files = append(p.files, changeable[h.r.IntN(len(changeable))])
		}
		p.branch = fmt.Sprintf("%s/%s-%s-%d", []string{"feature", "fix", "chore"}[h.r.IntN(3)], topic(area), words[h.r.IntN(len(words))], p.n)
		if h.r.IntN(10) < 7 {
			m := s + 1 + h.r.IntN(40)
			for mergeAt[m] != nil {
				m++
			}
			if m < o.Commits {
				p.merged = m
				mergeAt[m] = p
			}
		}
		createAt[s] = append(createAt[s], p)
		prs = append(prs, p)
	}
	return prs, mergeAt, createAt
}

// prArea picks where a pull request works: mostly environments and modules, as in an infrastructure
// monorepo, then apps and docs.
func (h *history) prArea() string {
	l := h.l
	switch v := h.r.IntN(10); {
	case v < 4:
		return "env:" + l.envs[h.r.IntN(len(l.envs))]
	case v < 6:
		return "module:" + l.modules[h.r.IntN(len(l.modules))]
	case v < 9:
		for {
			if a := l.areas[h.r.IntN(len(l.areas))]; strings.HasPrefix(a, "app:") {
				return a
			}
		}
	}
	return "docs"
}

// initial is main's first commit: every file of the layout.
func (h *history) initial() {
	h.printf("commit refs/heads/main\nmark :1\nauthor %s %d +0000\ncommitter %s %d +0000\n", people[0], h.when, people[0], h.when)
	h.data([]byte("Initial import of the platform repository\n"))
	for _, f := range h.l.files {
		h.printf("M 100644 inline %s\n", f.path)
		h.data(h.text(f, 200+h.r.IntN(2300)))
	}
	h.printf("\n")
}

// change is a commit on main that rewrites one to three files (the hot ones most often).
func (h *history) change(step int) {
	n := 1 + h.r.IntN(2) + h.r.IntN(2)*h.r.IntN(2)
	files := make([]int, n)
	for j := range files {
		u := h.r.Float64()
		files[j] = h.hot[int(u*u*float64(len(h.hot)))]
	}
	f := h.l.files[files[0]]
	who := h.person()
	h.printf("commit refs/heads/main\nmark :%d\nauthor %s %d +0000\ncommitter %s %d +0000\n", step+1, who, h.when, who, h.when)
	h.data([]byte(fmt.Sprintf("%s: %s %s in %s\n", topic(f.area), verbs[h.r.IntN(len(verbs))], words[h.r.IntN(len(words))], f.path)))
	for _, i := range files {
		h.printf("M 100644 inline %s\n", h.l.files[i].path)
		h.data(h.text(h.l.files[i], h.churnSize()))
	}
	h.printf("\n")
}

// pullRequest writes the commits of p on refs/pull/N/head, from main's commit before step.
func (h *history) pullRequest(p *pr, step int) {
	who := h.person()
	for c := 0; c < p.commits && len(p.files) > 0; c++ {
		i := p.files[c%len(p.files)]
		f := h.l.files[i]
		h.mark++
		blob := h.mark
		h.printf("blob\nmark :%d\n", blob)
		h.data(h.text(f, h.churnSize()))
		if _, ok := p.blobs[i]; !ok {
			p.order = append(p.order, i)
		}
		p.blobs[i] = blob
		h.mark++
		p.head = h.mark
		h.printf("commit refs/pull/%d/head\nmark :%d\nauthor %s %d +0000\ncommitter %s %d +0000\n", p.n, p.head, who, h.when, who, h.when)
		h.data([]byte(fmt.Sprintf("%s: %s %s\n", topic(f.area), verbs[h.r.IntN(len(verbs))], words[h.r.IntN(len(words))])))
		if c == 0 {
			h.printf("from :%d\n", step) // main's tip: the mark of step-1 is step
		}
		h.printf("M 100644 :%d %s\n\n", blob, f.path)
	}
}

// merge is GitHub's merge commit of p on main: main's tree with the pull request's files.
func (h *history) merge(p *pr, step int) {
	who := h.person()
	h.printf("commit refs/heads/main\nmark :%d\nauthor %s %d +0000\ncommitter %s %d +0000\n", step+1, who, h.when, githubCommitter, h.when)
	h.data([]byte(fmt.Sprintf("Merge pull request #%d from acme/%s\n", p.n, p.branch)))
	if p.head != 0 {
		h.printf("merge :%d\n", p.head)
	}
	for _, i := range p.order {
		h.printf("M 100644 :%d %s\n", p.blobs[i], h.l.files[i].path)
	}
	h.printf("\n")
}

// branches points refs/heads/* at release points of main and at the open pull requests' heads.
func (h *history) branches(prs []*pr) {
	var open []*pr
	for _, p := range prs {
		if p.merged == 0 && p.head != 0 {
			open = append(open, p)
		}
	}
	features := min(h.o.Branches/2, len(open))
	for j := 0; j < features; j++ {
		p := open[len(open)-1-j] // the most recent open ones, as a real repository keeps
		h.printf("reset refs/heads/%s\nfrom :%d\n\n", p.branch, p.head)
	}
	releases := h.o.Branches - features
	for j := 1; j <= releases; j++ {
		at := j * h.o.Commits / (releases + 1)
		h.printf("reset refs/heads/release/r%03d\nfrom :%d\n\n", j, at+1)
	}
}

// churnSize is how many bytes of fresh text a rewrite gets: 2-8 KB, 5 KB on average.
func (h *history) churnSize() int { return 2000 + h.r.IntN(6000) }

func (h *history) person() string { return people[h.r.IntN(len(people))] }

func (h *history) printf(format string, args ...any) { fmt.Fprintf(h.w, format, args...) }

func (h *history) data(b []byte) {
	fmt.Fprintf(h.w, "data %d\n", len(b))
	h.w.Write(b)
	h.w.WriteByte('\n')
}

// printable is what the random text is made of: the 95 printable ASCII characters, so the text
// compresses poorly (about 6.6 bits a character) and two versions of a file share nothing to delta.
const printable = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"

// text is f's fixed header followed by size bytes of random lines, commented the way f's kind needs
// to stay valid (HCL, Go and YAML comments; plain paragraphs in Markdown).
func (h *history) text(f file, size int) []byte {
	b := append(h.buf[:0], f.header...)
	prefix := ""
	switch f.kind {
	case kindHCL, kindYAML:
		prefix = "# "
	case kindGo:
		prefix = "// "
	case kindStatic:
		h.buf = b
		return b
	}
	end := len(b) + size
	var bits uint64
	left := 0
	for len(b) < end {
		n := 20 + h.r.IntN(80)
		b = append(b, prefix...)
		for k := 0; k < n; k++ {
			for {
				if left == 0 {
					bits, left = h.r.Uint64(), 8
				}
				c := byte(bits)
				bits >>= 8
				left--
				if c < 190 { // 2 x 95: uniform over the alphabet
					b = append(b, printable[c%95])
					break
				}
			}
		}
		b = append(b, '\n')
	}
	h.buf = b
	return b
}
