package tf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Parallel `terraform init`s writing one plugin cache can leave half-written provider binaries in it
// (Atlantis #2242). Init therefore holds an exclusive flock(2) on <cache>/.lock while it runs. A file
// lock, rather than a mutex, because it also orders inits across processes (several runner replicas or
// worker processes on one host sharing the cache volume), needs no package-level state, and is
// released by the kernel if the holder dies. flock locks belong to the open file description, so two
// goroutines of one process that each open the file exclude each other too.
const cacheLockName = ".lock"

// cacheLockPoll is how often a waiting init retries the lock; flock has no timeout, and polling keeps
// the wait cancellable through the context.
const cacheLockPoll = 50 * time.Millisecond

// lockCacheDir takes the plugin cache lock, calling waiting once if another holder has it first.
func lockCacheDir(ctx context.Context, dir string, waiting func()) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, cacheLockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open plugin cache lock: %w", err)
	}
	unlock = func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		_ = f.Close()
	}
	var tick *time.Ticker
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			if tick != nil {
				tick.Stop()
			}
			return unlock, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("lock plugin cache %s: %w", dir, err)
		}
		if tick == nil {
			tick = time.NewTicker(cacheLockPoll)
			if waiting != nil {
				waiting()
			}
		}
		select {
		case <-ctx.Done():
			tick.Stop()
			_ = f.Close()
			return nil, fmt.Errorf("wait for plugin cache lock %s: %w", dir, ctx.Err())
		case <-tick.C:
		}
	}
}
