package demo

import (
	"context"
	"sync"
	"time"
)

// defaultHeartbeat is how often a long, otherwise silent step says it is still working: often enough
// that a newcomer never wonders whether the demo hung, rarely enough not to drown the story.
const defaultHeartbeat = 15 * time.Second

// heartbeat prints "... still <what> (elapsed)" through the printer whenever the story has been silent
// for `every`, until end is called. What is happening can change while it runs (set), so one heartbeat
// covers all the stages of a run.
type heartbeat struct {
	p     *printer
	every time.Duration
	start time.Time
	mu    sync.Mutex
	what  string
	stop  context.CancelFunc
	done  chan struct{}
}

// startHeartbeat starts the ticker goroutine; the caller must call end.
func startHeartbeat(ctx context.Context, p *printer, every time.Duration, what string) *heartbeat {
	if every <= 0 {
		every = defaultHeartbeat
	}
	ctx, cancel := context.WithCancel(ctx)
	h := &heartbeat{p: p, every: every, start: time.Now(), what: what, stop: cancel, done: make(chan struct{})}
	go h.loop(ctx)
	return h
}

func (h *heartbeat) loop(ctx context.Context) {
	defer close(h.done)
	// Ticking at a fraction of the interval lets a beat follow the story's last line by about `every`.
	t := time.NewTicker(h.every / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.mu.Lock()
			what := h.what
			h.mu.Unlock()
			h.p.beat(now, h.every, "... still %s (%s elapsed)", what, now.Sub(h.start).Round(time.Second))
		}
	}
}

// set says what is happening now.
func (h *heartbeat) set(what string) {
	h.mu.Lock()
	h.what = what
	h.mu.Unlock()
}

// end stops the ticker and waits for its goroutine, so nothing is printed after it returns.
func (h *heartbeat) end() {
	h.stop()
	<-h.done
}
