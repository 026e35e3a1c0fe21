package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gitops-runner/runner/internal/store"
)

// errLockLost cancels work whose environment lock expired and went to another holder.
var errLockLost = errors.New("environment lock lost (lease expired)")

// lockEnv takes the environment's lock for this run, waiting (and showing the
// stage as waiting, with the holder) while another run has it. The returned
// context is cancelled if the lease is lost; release gives the lock back.
//
// maxWait > 0 bounds the wait: past it lockEnv returns a *WaitingError, so the
// caller can give its worker back and try again later instead of holding it.
func (w *work) lockEnv(ctx context.Context, env string, shown store.StageKey, maxWait time.Duration) (context.Context, func(), error) {
	st := w.e.deps.Store
	repo := w.run.Event.Repo
	holder := w.lockHolder()
	lease := w.e.opts.LockLease
	waitingShown := ""
	start := time.Now()
	var renewed time.Time // the lease runs at least until renewed+lease
	for {
		renewed = time.Now()
		ok, cur, err := st.TryLock(ctx, repo, env, holder, w.run.ID, lease)
		if err != nil {
			return nil, nil, fmt.Errorf("lock %s: %w", env, err)
		}
		if ok {
			break
		}
		what := fmt.Sprintf("environment lock %s held by run %d (until %s)", env, cur.RunID, cur.Expires.Format(time.RFC3339))
		if what != waitingShown {
			// A resumed run may wait for an environment whose plan already succeeded: that stage keeps its
			// outcome (and is not run again for being left "waiting"); the log says what the run waits for.
			if s, found := w.stage(shown); found && s.Status != store.StageSucceeded && s.Status != store.StageSkipped {
				_ = st.WaitStage(ctx, s.ID, what)
				w.setStage(shown, store.StageWaiting, what)
			}
			w.log.Info("waiting for environment lock", "env", env, "holder_run", cur.RunID)
			waitingShown = what
		}
		if maxWait > 0 && time.Since(start) >= maxWait {
			return nil, nil, &WaitingError{Reason: what, After: w.e.opts.LockPoll * 5}
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(w.e.opts.LockPoll):
		}
	}
	acquired := time.Now()
	lctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				at := time.Now()
				err := st.RenewLock(lctx, repo, env, holder, lease)
				switch {
				case err == nil:
					renewed = at
				case errors.Is(err, store.ErrLockLost):
					w.log.Error("environment lock lost", "env", env)
					cancel(errLockLost)
					return
				case time.Since(renewed) >= lease-lease/3:
					// Unrenewed, the lease ends within a tick and another run may take
					// the lock: stop while it is still ours.
					w.log.Error("environment lock lost: lease could not be renewed", "env", env, "err", err)
					cancel(errLockLost)
					return
				default:
					w.log.Warn("renew environment lock", "env", env, "err", err)
				}
			}
		}
	}()
	release := func() {
		close(done)
		cancel(nil)
		w.e.deps.Observer.LockReleased(env, acquired.Sub(start), time.Since(acquired))
		if _, err := st.ReleaseLock(context.WithoutCancel(ctx), repo, env, holder, "released by holder"); err != nil && !errors.Is(err, store.ErrLockLost) && !errors.Is(err, store.ErrNotFound) {
			w.log.Warn("release environment lock", "env", env, "err", err)
		}
	}
	return lctx, release, nil
}

// lockHolder names this run on this process as a lock holder.
func (w *work) lockHolder() string {
	return fmt.Sprintf("run %d on %s", w.run.ID, w.e.opts.Holder)
}

// checkLock renews env's lease now and says whether this run still holds it, so
// an irreversible step (apply) never starts on a lock that went to another run
// since the last periodic renewal.
func (w *work) checkLock(ctx context.Context, env string) error {
	err := w.e.deps.Store.RenewLock(ctx, w.run.Event.Repo, env, w.lockHolder(), w.e.opts.LockLease)
	if errors.Is(err, store.ErrLockLost) {
		return fmt.Errorf("%w: %w", errLockLost, err)
	}
	return err
}

// WaitingError says a run cannot go on yet (an environment lock is held by
// another run) and should be tried again after a while; the queue gives the
// worker back meanwhile instead of blocking it.
type WaitingError struct {
	Reason string
	After  time.Duration
}

func (e *WaitingError) Error() string { return "waiting: " + e.Reason }

// SnoozeFor is how long to wait before trying again.
func (e *WaitingError) SnoozeFor() time.Duration { return e.After }
