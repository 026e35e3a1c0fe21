package tf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/sandbox"
	"github.com/gitops-runner/runner/internal/testenv/httpbackend"
)

// deadAttempts is a StaleLocks that knows the holders of dead attempts by Who.
type deadAttempts struct {
	mu       sync.Mutex
	dead     map[string]string // Who -> description
	released []string
}

func (d *deadAttempts) LeftBy(l LockInfo) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dead[l.Who]
}

func (d *deadAttempts) Released(_ context.Context, l LockInfo) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.released = append(d.released, l.ID)
}

// A command of an attempt resuming after a dead one releases a lock the dead attempt left (and only
// such a lock) and runs once more; with an http backend, whose Terraform 1.5 prints the failing
// command's own lock info, the holder is asked from the backend.
func TestStateLockLeftByADeadAttempt(t *testing.T) {
	bin := terraformBin(t)
	be, err := httpbackend.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	var sb Sandbox
	if os.Geteuid() == 0 {
		s, err := sandbox.New(context.Background(), sandbox.Config{Want: sandbox.WantNamespaces, Dir: filepath.Join(t.TempDir(), "sandbox")})
		if err == nil {
			sb = s
		}
	}
	tests := []struct {
		name        string
		holder      httpbackend.LockInfo
		stale       bool // the workspace resumes after a dead attempt
		wantErr     error
		wantRelease bool
	}{
		{name: "lock of a dead attempt released", stale: true, wantRelease: true,
			holder: httpbackend.LockInfo{ID: "d6f8a1e2-5b7c-4d9e-8f00-0000000dead1", Who: "sandbox@rs7a1-0a1b2c3d", Operation: "OperationTypeApply"}},
		{name: "someone else's lock kept", stale: true, wantErr: ErrLockHeld,
			holder: httpbackend.LockInfo{ID: "dana-lock", Who: "dana@laptop", Operation: "OperationTypeApply"}},
		{name: "no dead attempt: nothing released", stale: false,
			holder: httpbackend.LockInfo{ID: "dead-lock-2", Who: "sandbox@rs7a1-0a1b2c3d", Operation: "OperationTypeApply"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := "s" + string(rune('a'+i))
			run := t.TempDir()
			dir := filepath.Join(run, "src")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			cfg := be.Backend(state) + "resource \"terraform_data\" \"x\" {\n  input = 1\n}\n"
			rc := filepath.Join(run, "terraform.rc")
			for p, c := range map[string]string{filepath.Join(dir, "main.tf"): cfg, rc: "disable_checkpoint = true\n"} {
				if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			dead := &deadAttempts{dead: map[string]string{"sandbox@rs7a1-0a1b2c3d": "attempt 1 of stage dev/apply (replica a/1 died)"}}
			att := Attempt{Hostname: "rs7a2-99887766", Marker: "rs7a2-99887766"}
			if tt.stale {
				att.Stale = dead
			}
			log := &syncBuffer{}
			opts := Options{Bin: bin, Dir: dir, Environment: "dev", Log: log, LockTimeout: time.Second, Attempt: att,
				Env: map[string]string{"TF_CLI_CONFIG_FILE": rc}, CommandTimeout: time.Minute}
			if sb != nil {
				opts.Sandbox, opts.WorkTree, opts.Env = sb, run, nil
				opts.BaseEnv = map[string]string{"PATH": "/usr/bin:/bin", "TF_CLI_CONFIG_FILE": rc}
			}
			w, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := w.Init(ctx); err != nil {
				t.Fatal(err)
			}
			tt.holder.Created = time.Now().UTC().Add(-time.Minute)
			be.Hold(state, tt.holder)
			_, err = w.Plan(ctx, filepath.Join(run, "plan.tfplan"), nil)
			switch {
			case tt.wantRelease && err != nil:
				t.Fatalf("plan: %v\n%s", err, log)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("plan: %v, want %v\n%s", err, tt.wantErr, log)
			case !tt.wantRelease && err == nil:
				t.Fatalf("plan succeeded with %s's lock held", tt.holder.Who)
			}
			if tt.wantErr != nil && (!strings.Contains(err.Error(), tt.holder.Who) || !strings.Contains(err.Error(), tt.holder.ID)) {
				t.Fatalf("the error does not name the lock's holder and ID: %v", err)
			}
			var forced []string
			var planLocks []httpbackend.LockInfo
			for _, ev := range be.History() {
				if ev.State != state {
					continue
				}
				if ev.Forced {
					forced = append(forced, ev.Released)
				}
				if ev.Method == "LOCK" && ev.Status == 200 {
					planLocks = append(planLocks, ev.Lock)
				}
			}
			held, stillHeld := be.Lock(state)
			if tt.wantRelease {
				if !slices.Equal(forced, []string{tt.holder.ID}) || !slices.Equal(dead.released, []string{tt.holder.ID}) || stillHeld {
					t.Fatalf("forced unlocks %v, recorded %v, held %+v; want exactly %s released", forced, dead.released, held, tt.holder.ID)
				}
				if !log.Contains("released state lock " + tt.holder.ID + " left by attempt 1 of stage dev/apply (replica a/1 died)") {
					t.Fatalf("the log does not say what was released:\n%s", log)
				}
				if len(planLocks) != 1 || (sb != nil && planLocks[0].Who != "sandbox@"+att.Hostname) {
					t.Fatalf("locks taken = %+v; want one, by sandbox@%s in namespaces mode", planLocks, att.Hostname)
				}
				return
			}
			if len(forced) != 0 || len(dead.released) != 0 || !stillHeld || held.ID != tt.holder.ID {
				t.Fatalf("forced unlocks %v, recorded %v, held %+v; want %s's lock untouched", forced, dead.released, held, tt.holder.Who)
			}
		})
	}
}
