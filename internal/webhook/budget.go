package webhook

import (
	"context"
	"sync"
)

// budget bounds the bytes that bodies not yet verified may hold, across all
// requests. Unlike a FIFO semaphore it lets any waiter through whose bytes fit:
// a small delivery never queues behind a large one, so GitHub's ordinary
// payloads (kilobytes) get in while large unsigned bodies wait their turn.
type budget struct {
	total int64

	mu      sync.Mutex
	held    int64
	peak    int64
	waiting int           // acquirers waiting for bytes to be released
	freed   chan struct{} // closed (and replaced) whenever bytes are released
}

func newBudget(total int64) *budget {
	return &budget{total: total, freed: make(chan struct{})}
}

// acquire takes n bytes, waiting until they fit or ctx ends. n must not exceed
// the total.
func (b *budget) acquire(ctx context.Context, n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.held+n > b.total {
		freed := b.freed
		b.waiting++
		b.mu.Unlock()
		var err error
		select {
		case <-freed:
		case <-ctx.Done():
			err = ctx.Err()
		}
		b.mu.Lock()
		b.waiting--
		if err != nil {
			return err
		}
	}
	b.held += n
	b.peak = max(b.peak, b.held)
	return nil
}

// tryAcquire takes n bytes if they fit now.
func (b *budget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held+n > b.total {
		return false
	}
	b.held += n
	b.peak = max(b.peak, b.held)
	return true
}

func (b *budget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held -= n
	close(b.freed)
	b.freed = make(chan struct{})
}

func (b *budget) gauge() (held, peak int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held, b.peak
}

func (b *budget) waiters() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.waiting
}
