package queue

import (
	"context"
	"database/sql"
	"sync/atomic"

	"github.com/riverqueue/river/riverdriver"
)

// On SQLite River emulates LISTEN/NOTIFY: a notification is a row of river_notification, and its listener
// looks for new rows every 50 ms (a fixed interval). A run's job inserted by this process would thus wait
// 25 ms on average, and up to 50, before a worker of this same process hears of it. kickDriver is River's
// driver with a listener that the queue can wake: once the transaction that inserted a job (and its
// notification) has committed, kick makes the listener look at once instead of at its next poll.

// kickDriver wraps River's SQLite driver; everything but the listener is River's own.
type kickDriver struct {
	riverdriver.Driver[*sql.Tx]
	kicks chan struct{}
	cut   atomic.Int64 // waits a kick cut short
}

func newKickDriver(d riverdriver.Driver[*sql.Tx]) *kickDriver {
	return &kickDriver{Driver: d, kicks: make(chan struct{}, 1)}
}

// GetListener is River's listener, wakeable by kick.
func (d *kickDriver) GetListener(params *riverdriver.GetListenenerParams) riverdriver.Listener {
	return &kickListener{Listener: d.Driver.GetListener(params), kicks: d.kicks, cut: &d.cut}
}

// kick wakes the listener (at most one wake-up waits: more would find the same rows).
func (d *kickDriver) kick() {
	select {
	case d.kicks <- struct{}{}:
	default:
	}
}

// kickListener is River's listener whose wait for the next poll a kick cuts short.
type kickListener struct {
	riverdriver.Listener
	kicks <-chan struct{}
	cut   *atomic.Int64 // counts the waits a kick cut short (nil: not counted)
}

// WaitForNotification is River's, started again at once (it reads the table before it sleeps) when kicked.
// River's listener keeps its cursor only on a successful read, so an interrupted read or sleep loses
// nothing.
func (l *kickListener) WaitForNotification(ctx context.Context) (*riverdriver.Notification, error) {
	for {
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			select {
			case <-l.kicks:
				cancel()
			case <-done:
			}
		}()
		n, err := l.Listener.WaitForNotification(wctx)
		close(done)
		kicked := wctx.Err() != nil && ctx.Err() == nil
		cancel()
		if err != nil && kicked {
			if l.cut != nil {
				l.cut.Add(1)
			}
			continue
		}
		return n, err
	}
}
