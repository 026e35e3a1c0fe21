package tf

import (
	"bytes"
	"fmt"
	"regexp"
	"time"
)

// ApplyOption tunes Apply.
type ApplyOption interface{ applyOption(*applyConfig) }

type applyConfig struct {
	planned int
	every   time.Duration
	now     func() time.Time
}

type plannedOption int

func (o plannedOption) applyOption(c *applyConfig) { c.planned = int(o) }

// Planned is how many resource instances the saved plan creates, updates, replaces or destroys
// (Summary.Changes): apply progress then reads "apply: 12/40 resources".
func Planned(n int) ApplyOption { return plannedOption(n) }

type progressEveryOption time.Duration

func (o progressEveryOption) applyOption(c *applyConfig) { c.every = time.Duration(o) }

// ProgressEvery is the longest time between two progress lines while resources complete (default 5s);
// a line is also written at each tenth of the plan and at the end.
func ProgressEvery(d time.Duration) ApplyOption { return progressEveryOption(d) }

// Changes is the number of resource instances the plan acts on: what Planned wants.
func (s Summary) Changes() int { return s.Add + s.Change + s.Destroy + s.Replace }

// completeLine matches Terraform's line for one resource instance done: "ADDRESS: Creation complete
// after 2s [id=...]" (also Modifications and Destruction). A replaced instance reports twice; it is
// counted once by its address.
var completeLine = regexp.MustCompile(`^(?:\x1b\[[0-9;]*m)*([^\s#].*?): (?:Creation|Modifications|Destruction) complete after `)

// applyProgress counts resource instances done in Terraform's apply output and writes throttled
// progress lines to the stage log. Only counts are written: addresses come from the configuration.
type applyProgress struct {
	log      *stageLog
	cfg      applyConfig
	done     map[string]bool
	last     time.Time
	lastTens int // tenths of the plan reported so far
	reported int
}

func newApplyProgress(log *stageLog, cfg applyConfig) *applyProgress {
	if cfg.every <= 0 {
		cfg.every = 5 * time.Second
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	return &applyProgress{log: log, cfg: cfg, done: map[string]bool{}, last: cfg.now()}
}

// line sees one line of apply's stdout.
func (p *applyProgress) line(l []byte) {
	m := completeLine.FindSubmatch(bytes.TrimRight(l, "\r\n"))
	if m == nil || p.done[string(m[1])] {
		return
	}
	p.done[string(m[1])] = true
	n, now := len(p.done), p.cfg.now()
	due := now.Sub(p.last) >= p.cfg.every
	if p.cfg.planned > 0 {
		tens := n * 10 / p.cfg.planned
		due = due || tens > p.lastTens || n >= p.cfg.planned
		if due {
			p.lastTens = tens
		}
	}
	if due {
		p.write(n, now)
	}
}

// finish writes the final count if the last line did not.
func (p *applyProgress) finish() {
	if n := len(p.done); n > 0 && n != p.reported {
		p.write(n, p.cfg.now())
	}
}

func (p *applyProgress) write(n int, now time.Time) {
	if p.cfg.planned > 0 {
		p.log.writeLine(fmt.Appendf(nil, "apply: %d/%d resources\n", n, p.cfg.planned))
	} else {
		p.log.writeLine(fmt.Appendf(nil, "apply: %d resources done\n", n))
	}
	p.last, p.reported = now, n
}
