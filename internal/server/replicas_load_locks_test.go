//go:build e2e

package server_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/store"
)

// lockSeen is what the sampler saw of one holder's lock.
type lockSeen struct {
	env         string
	run         int64
	pid         int
	first, last time.Time // samples that showed it
	maxExpires  time.Time
}

type lockObservations struct {
	holders map[string]*lockSeen
	samples int
	errs    int
}

// watchLocks samples the lock table every 200 ms until ctx ends, then sends what it saw.
func watchLocks(ctx context.Context, st *store.Store) <-chan lockObservations {
	out := make(chan lockObservations, 1)
	go func() {
		obs := lockObservations{holders: map[string]*lockSeen{}}
		defer func() { out <- obs }()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			locks, err := st.Locks(ctx)
			now := time.Now()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				obs.errs++
			}
			obs.samples++
			for _, l := range locks {
				key := l.Holder + " " + l.Env
				s := obs.holders[key]
				if s == nil {
					s = &lockSeen{env: l.Env, run: l.RunID, pid: holderPID(l.Holder), first: now}
					obs.holders[key] = s
				}
				s.last = now
				if l.Expires.After(s.maxExpires) {
					s.maxExpires = l.Expires
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// holderPID reads the process id out of a lock holder ("run 12 on host/4711").
func holderPID(holder string) int {
	i := strings.LastIndexByte(holder, '/')
	pid, _ := strconv.Atoi(holder[i+1:])
	return pid
}

// deadLife is the killed process of a lock holder, or nil.
func deadLife(reps []*replica, pid int) *life {
	for _, r := range reps {
		for _, l := range r.lives {
			if l.pid == pid && !l.killed.IsZero() {
				return l
			}
		}
	}
	return nil
}

// dead counts the locks of killed holders the sampler saw, and the longest one was still seen after its
// lease ended.
func (o lockObservations) dead(reps []*replica) (int, time.Duration) {
	var (
		n     int
		worst time.Duration
	)
	for _, s := range o.holders {
		if l := deadLife(reps, s.pid); l == nil || !s.last.After(l.killed) {
			continue // its holder lived, or released it before it was killed
		}
		n++
		worst = max(worst, s.last.Sub(s.maxExpires))
	}
	return n, worst
}

// lockMargin is how long past its lease a dead holder's lock may still be seen: the lock is taken from it
// when its run, given back to the queue a lease after the replica's last heartbeat, comes to that
// environment again, or when another run asks for the environment.
const lockMargin = 2 * loadLease

// checkLocks: a killed holder's lock was never renewed after the kill and was gone (or taken by another)
// within its lease and lockMargin; no lock is left once every run finished.
func checkLocks(t *testing.T, ctx context.Context, st *store.Store, obs lockObservations, reps []*replica) {
	t.Helper()
	if obs.errs > obs.samples/10 {
		t.Errorf("lock sampler: %d of %d samples failed", obs.errs, obs.samples)
	}
	for holder, s := range obs.holders {
		l := deadLife(reps, s.pid)
		if l == nil || !s.last.After(l.killed) {
			continue
		}
		if s.maxExpires.After(l.killed.Add(loadLease + time.Second)) {
			t.Errorf("lock of %s renewed after its holder was killed at %s: expires %s", holder, l.killed.Format(time.StampMilli), s.maxExpires.Format(time.StampMilli))
		}
		if s.last.After(s.maxExpires.Add(lockMargin)) {
			t.Errorf("lock of %s (run %d) still held %s after its lease ended (its holder was killed at %s)",
				holder, s.run, s.last.Sub(s.maxExpires).Round(time.Millisecond), l.killed.Format(time.StampMilli))
		}
	}
	left, err := st.Locks(ctx)
	if err != nil || len(left) != 0 {
		t.Errorf("locks left after every run finished: %+v, %v", left, err)
	}
}
