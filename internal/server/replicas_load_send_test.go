//go:build e2e

package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/testenv/ghwebhook"
)

// loadRun sends the deliveries and keeps what the senders saw.
type loadRun struct {
	reps   []*replica
	ds     []loadDelivery
	out    []loadOutcome // out[i] is written by the sender of delivery i only, read after the senders end
	client *http.Client
}

// send starts the feeder and the senders; the returned channel closes when every delivery was sent.
func (l *loadRun) send(ctx context.Context, start time.Time) <-chan struct{} {
	jobs := make(chan int)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range loadSenders {
		wg.Go(func() {
			for i := range jobs {
				l.deliver(ctx, i)
			}
		})
	}
	go func() {
		defer close(done)
		defer wg.Wait()
		defer close(jobs)
		for i := range l.ds {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(start.Add(time.Duration(i) * time.Second / loadRate))):
			}
			select {
			case <-ctx.Done():
				return
			case jobs <- i:
			}
		}
	}()
	return done
}

// deliver sends delivery i round robin and, for duplicates, again to another replica.
func (l *loadRun) deliver(ctx context.Context, i int) {
	d, o := &l.ds[i], &l.out[i]
	to := i % len(l.reps)
	switch d.dup {
	case dupConcurrent:
		var (
			wg      sync.WaitGroup
			resends int
			err     error
		)
		wg.Go(func() { o.second, o.secondBy, resends, err = l.post(ctx, d, (to+1)%len(l.reps), -1) })
		o.first, o.firstBy, o.resends, o.err = l.post(ctx, d, to, -1)
		wg.Wait()
		o.resends += resends
		o.err = errors.Join(o.err, err)
	case dupAfter:
		o.first, o.firstBy, o.resends, o.err = l.post(ctx, d, to, -1)
		if o.err == nil {
			var resends int
			o.second, o.secondBy, resends, o.err = l.post(ctx, d, (o.firstBy+1)%len(l.reps), o.firstBy)
			o.resends += resends
		}
	default:
		o.first, o.firstBy, o.resends, o.err = l.post(ctx, d, to, -1)
	}
}

// post sends d to replica `to`; when that one does not answer or answers 503 (killed, restarting) it goes
// on to the next replica, skipping `avoid`, for at most 40 sends and 45 s. It returns the 2xx answer and
// which replica gave it.
func (l *loadRun) post(ctx context.Context, d *loadDelivery, to, avoid int) (ghwebhook.Reply, int, int, error) {
	deadline := time.Now().Add(45 * time.Second)
	var last error
	for try := 0; try < 40 && time.Now().Before(deadline); try++ {
		idx := (to + try) % len(l.reps)
		if idx == avoid {
			continue
		}
		if try > 0 && try%len(l.reps) == 0 {
			// Every replica refused once: give a restarting one a moment.
			select {
			case <-ctx.Done():
				return ghwebhook.Reply{}, 0, try, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		s := &ghwebhook.Sender{URL: "http://" + l.reps[idx].addr, Secret: testSecret, Client: l.client}
		r, err := s.SendRaw(ctx, d.event, d.id, d.body)
		switch {
		case err != nil:
			last = err
			continue
		case r.Status == http.StatusServiceUnavailable:
			last = fmt.Errorf("%s answered 503: %s", l.reps[idx].name, r.Error)
			continue
		case (r.Status == http.StatusAccepted || r.Status == http.StatusOK && r.Duplicate) && r.Run != 0:
			return r, idx, try, nil
		default:
			return r, idx, try, fmt.Errorf("%s answered %d: %+v", l.reps[idx].name, r.Status, r)
		}
	}
	return ghwebhook.Reply{}, 0, 40, fmt.Errorf("delivery %s reached no replica: %w", d.id, last)
}

// pickVictim waits from notBefore (for at most within) for an apply that has run for a second on a live
// replica, and returns that replica; without one it falls back to replica k.
func (l *loadRun) pickVictim(tfLog string, notBefore time.Time, within time.Duration, k int) (int, bool) {
	time.Sleep(time.Until(notBefore))
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		cmds, _ := readTerraformLog(tfLog)
		candidate := -1
		for _, c := range cmds {
			if c.verb != "apply" || c.ended || time.Since(time.Unix(0, c.start)) < time.Second {
				continue
			}
			for i, r := range l.reps {
				if r.name != c.replica || r.lifeAt(c.start) != r.lives[len(r.lives)-1] {
					continue
				}
				if len(r.lives) == 1 {
					return i, true // a replica not killed yet
				}
				candidate = i
			}
		}
		if candidate >= 0 {
			return candidate, true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return k % len(l.reps), false
}

// checkAnswers: every delivery was answered 2xx with a run; a second send named the same run, one sent
// after the first's answer was answered as a duplicate, and none as a replay (a new delivery id).
func (l *loadRun) checkAnswers(t *testing.T) {
	t.Helper()
	bad := 0
	for i, o := range l.out {
		d := l.ds[i]
		var problem string
		switch {
		case o.err != nil:
			problem = o.err.Error()
		case d.dup == dupAfter && !(o.second.Status == http.StatusOK && o.second.Duplicate && o.second.Run == o.first.Run):
			problem = fmt.Sprintf("sent again to %s after run %d: %+v", l.reps[o.secondBy].name, o.first.Run, o.second)
		case d.dup == dupConcurrent && o.second.Run != o.first.Run:
			problem = fmt.Sprintf("sent to two replicas at once: runs %d and %d", o.first.Run, o.second.Run)
		case o.first.Replay || o.second.Replay:
			// Every delivery of the load has content of its own: a replay answer misnames a redelivery.
			problem = fmt.Sprintf("answered as a replay of another delivery: %+v, %+v", o.first, o.second)
		}
		if problem != "" {
			if bad++; bad <= 10 {
				t.Errorf("delivery %s (%s): %s", d.id, d.kind, problem)
			}
		}
	}
	if bad > 10 {
		t.Errorf("... %d deliveries answered wrongly in all", bad)
	}
}
