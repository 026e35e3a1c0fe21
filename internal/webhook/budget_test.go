package webhook

import (
	"context"
	"errors"
	"testing"
	"time"
)

// poll waits for cond until a deadline.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A small body never queues behind a large one that is waiting for budget: ordinary deliveries get
// through while large unsigned ones wait.
func TestBudgetLetsWhatFitsPassAWaiter(t *testing.T) {
	b := newBudget(128)
	ctx := context.Background()
	if err := b.acquire(ctx, 96); err != nil {
		t.Fatal(err)
	}
	big := make(chan error, 1)
	go func() { big <- b.acquire(ctx, 96) }()
	poll(t, "the large acquirer to wait", func() bool { return b.waiters() == 1 })

	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.acquire(short, 2); err != nil {
		t.Fatalf("small acquire behind a waiter: %v", err)
	}
	b.release(96)
	if err := <-big; err != nil {
		t.Fatalf("large acquire after release: %v", err)
	}
	if held, peak := b.gauge(); held != 98 || peak != 98 {
		t.Fatalf("held %d peak %d, want 98 and 98", held, peak)
	}
}

func TestBudgetGivesUpWithItsContext(t *testing.T) {
	b := newBudget(10)
	ctx, cancel := context.WithCancel(context.Background())
	if err := b.acquire(ctx, 10); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.acquire(ctx, 1) }()
	poll(t, "the acquirer to wait", func() bool { return b.waiters() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire = %v, want context.Canceled", err)
	}
	if held, _ := b.gauge(); held != 10 || b.waiters() != 0 {
		t.Fatalf("held %d, waiters %d after a cancelled acquire; want 10 and 0", held, b.waiters())
	}
}
