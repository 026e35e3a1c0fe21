package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gitops-runner/runner/internal/pgroup"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/tf"
)

// Stage attempts, and what a dead one leaves behind.
//
// A runner killed outright (kill -9, a lost machine) takes Terraform with it: terraform-exec starts it
// with a parent-death signal, so it never releases the state lock it holds, and in user and none sandbox
// modes the processes it started (local-exec) live on as orphans. The stage stays "running" in the
// store, and the run resumes later, here or on another replica.
//
// So each stage attempt is recorded before its commands start (store.Attempt): an identity
// ("rs<stage>a<attempt>-<random>", the sandbox's host name for its commands in namespaces mode, and so
// the host part of the Who of every state lock its Terraform takes), the sandbox mode, the replica, the
// host and its boot id, and a directory where each command's launcher records the process group it
// leads before the program starts (internal/pgroup). An attempt that ends in any way is marked ended; one
// still open when its run's next execution starts was cut short by a dead runner.
//
// At the start of an execution, the open attempts of the run are read (dead). Those of this host and boot
// have what is left of their process groups killed (and what still carries their command marker), each
// noted in its stage's log; a replica on another host cannot reach them (in namespaces mode they died with
// the PID namespace anyway; in the other modes they live until their host ends them).
//
// When a Terraform command of this execution then fails on a held state lock, the lock is released only
// when a dead attempt of this run, for the same environment, took it (leftBy):
//   - namespaces mode (strong): the lock's Who ends in "@<identity of the dead attempt>", a random name no
//     other process has.
//   - user and none modes (weak): Who is "<user>@<real host name>", shared by every Terraform of the host;
//     the lock must also have been created during the dead attempt (after it started, before this
//     execution began). Another Terraform on the same host taking the same state in that window (a person's
//     or another runner's, outside the runner's environment locks) would be taken for the dead attempt.
type stageAttempt = store.Attempt

// attemptKey carries the stage attempt in the context of the stage's work.
type attemptKey struct{}

func withAttempt(ctx context.Context, a *stageAttempt) context.Context {
	return context.WithValue(ctx, attemptKey{}, a)
}

// clockSkew is how much earlier than its attempt's recorded start a lock may say it was created (clocks of
// the runner and of Terraform's host are one clock, but the store keeps times at microseconds).
const clockSkew = 2 * time.Second

// beginAttempt records the start of attempt n of stage st before any of its commands starts.
func (w *work) beginAttempt(ctx context.Context, st store.Stage, n int) (*stageAttempt, error) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	id := fmt.Sprintf("rs%da%d-%s", st.ID, n, hex.EncodeToString(b))
	a := &stageAttempt{
		StageID: st.ID, RunID: st.RunID, Attempt: n, Env: st.Env, Stage: st.Name, Identity: id,
		Mode: w.e.opts.Isolation.Mode, Replica: w.e.opts.Holder, Host: w.e.host.Name, BootID: w.e.host.Boot,
		Records: filepath.Join(w.e.recordsDir(), id), Started: time.Now().UTC(),
	}
	if err := w.e.deps.Store.StartAttempt(ctx, *a); err != nil {
		return nil, err
	}
	return a, nil
}

// endAttempt marks the attempt ended; its process records are of no more use.
func (w *work) endAttempt(ctx context.Context, a *stageAttempt) {
	if err := w.e.deps.Store.EndAttempt(ctx, a.StageID, a.Attempt); err != nil {
		w.log.Warn("end a stage attempt", "stage", a.Stage, "env", a.Env, "err", err)
	}
	_ = os.RemoveAll(a.Records)
}

// recordsDir holds the process records of attempts, outside every run's work tree (sandboxed commands
// must not write records the runner acts on).
func (e *Engine) recordsDir() string { return filepath.Join(e.opts.WorkDir, ".procs") }

// tfAttempt is what Terraform is told of the stage attempt running in ctx, for env.
func (w *work) tfAttempt(ctx context.Context, env string) tf.Attempt {
	a, _ := ctx.Value(attemptKey{}).(*stageAttempt)
	if a == nil {
		return tf.Attempt{}
	}
	out := tf.Attempt{Hostname: a.Identity, Records: a.Records, Marker: a.Identity}
	for _, d := range w.dead {
		if d.Env == env {
			out.Stale = staleLocks{w: w, env: env}
			break
		}
	}
	return out
}

// recoverDead reads the run's attempts that a dead runner cut short, and kills what is left of their
// processes on this host. Call it before the execution starts any stage.
func (w *work) recoverDead(ctx context.Context) {
	dead, err := w.e.deps.Store.OpenAttempts(ctx, w.run.ID)
	if err != nil {
		w.log.Warn("read the run's unfinished stage attempts", "err", err)
		return
	}
	w.dead, w.resumedAt = dead, time.Now().UTC()
	for _, a := range dead {
		log := stageLog{w: w, id: a.StageID}
		here := w.e.host.Same(pgroup.Host{Name: a.Host, Boot: a.BootID})
		if !here {
			fmt.Fprintf(log, "attempt %d of this stage died with replica %s on host %s: its processes cannot be reached from here (%s); a state lock it left is released when a command meets it\n",
				a.Attempt, a.Replica, a.Host, w.e.host.Name)
			continue
		}
		leaders, err := pgroup.Records(a.Records)
		if err != nil {
			w.log.Warn("read a dead attempt's process records", "stage", a.Stage, "env", a.Env, "err", err)
		}
		kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		killed := 0
		for _, l := range leaders {
			n, err := pgroup.Kill(kctx, l)
			killed += n
			if err != nil {
				fmt.Fprintf(log, "warning: %v\n", err)
			}
		}
		cancel()
		killed += pgroup.KillMarked(tf.CommandMarker, a.Identity+".")
		if killed > 0 {
			fmt.Fprintf(log, "killed %d process(es) left by attempt %d of this stage (replica %s died)\n", killed, a.Attempt, a.Replica)
		}
		w.log.Info("dead stage attempt found", "stage", a.Stage, "env", a.Env, "attempt", a.Attempt, "replica", a.Replica, "killed", killed)
		_ = os.RemoveAll(a.Records)
	}
}

// staleLocks recognises the state locks that dead attempts of the run left for env (tf.StaleLocks).
type staleLocks struct {
	w   *work
	env string
}

var _ tf.StaleLocks = staleLocks{}

func (s staleLocks) match(lock tf.LockInfo) (store.Attempt, bool) {
	for _, a := range s.w.dead {
		if a.Env == s.env && leftBy(lock, a, s.w.resumedAt) {
			return a, true
		}
	}
	return store.Attempt{}, false
}

func (s staleLocks) LeftBy(lock tf.LockInfo) string {
	a, ok := s.match(lock)
	if !ok {
		return ""
	}
	return fmt.Sprintf("attempt %d of stage %s (replica %s died)", a.Attempt, stageName(a), a.Replica)
}

func (s staleLocks) Released(ctx context.Context, lock tf.LockInfo) {
	a, ok := s.match(lock)
	if !ok {
		return
	}
	if err := s.w.e.deps.Store.LockReleased(context.WithoutCancel(ctx), a.StageID, a.Attempt, lock.ID); err != nil {
		s.w.log.Warn("record a released state lock", "env", s.env, "lock", lock.ID, "err", err)
	}
	s.w.log.Info("released a state lock a dead attempt left", "env", s.env, "stage", a.Stage, "attempt", a.Attempt, "lock", lock.ID)
}

func stageName(a store.Attempt) string {
	if a.Env == "" {
		return a.Stage
	}
	return a.Env + "/" + a.Stage
}

// leftBy reports whether dead attempt a took lock (see the rules above). resumed is when this execution
// began: the dead attempt took its locks before.
func leftBy(lock tf.LockInfo, a store.Attempt, resumed time.Time) bool {
	if a.Mode == modeNamespaces || a.Mode == modeBwrap {
		return a.Identity != "" && lock.Host() == a.Identity
	}
	return a.Host != "" && lock.Host() == a.Host && !lock.Created.IsZero() &&
		!lock.Created.Before(a.Started.Add(-clockSkew)) && lock.Created.Before(resumed)
}

// modeNamespaces and modeBwrap are the sandbox modes that give each attempt a host name of its own.
const (
	modeNamespaces = "namespaces"
	modeBwrap      = "bwrap"
)
