package github

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
)

// sleeps records the waits the retry transport asked for, without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

func TestRetriesServerErrorsAndRateLimits(t *testing.T) {
	ctx := context.Background()
	reset := time.Now().Add(42 * time.Second)
	for _, tc := range []struct {
		name      string
		failures  int
		f         fakegithub.Failure
		policy    RetryPolicy
		wantErr   bool
		wantCalls int
		wantWait  func(time.Duration) bool
	}{
		{"502 twice then ok", 2, fakegithub.Failure{Kind: fakegithub.BadGateway}, RetryPolicy{MaxAttempts: 3, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}, false, 3,
			func(d time.Duration) bool { return d >= 50*time.Millisecond && d <= 400*time.Millisecond }},
		{"502 for good gives up", 10, fakegithub.Failure{Kind: fakegithub.BadGateway}, RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Second}, true, 3, nil},
		{"secondary limit waits Retry-After", 1, fakegithub.Failure{Kind: fakegithub.SecondaryRateLimit, RetryAfter: 3 * time.Second}, RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Minute}, false, 2,
			func(d time.Duration) bool { return d == 3*time.Second }},
		{"Retry-After capped by MaxDelay", 1, fakegithub.Failure{Kind: fakegithub.SecondaryRateLimit, RetryAfter: 30 * time.Second}, RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Second}, false, 2,
			func(d time.Duration) bool { return d == 2*time.Second }},
		{"primary 403 waits for reset", 1, fakegithub.Failure{Kind: fakegithub.PrimaryRateLimit, Reset: reset}, RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Minute}, false, 2,
			func(d time.Duration) bool { return d > 38*time.Second && d <= 42*time.Second }},
		{"primary 429 waits for reset", 1, fakegithub.Failure{Kind: fakegithub.PrimaryRateLimit, Status: 429, Reset: reset}, RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Minute}, false, 2,
			func(d time.Duration) bool { return d > 38*time.Second && d <= 42*time.Second }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := startFake(t, fakegithub.Config{})
			fake.FailNext(tc.failures, tc.f)
			rec := &sleeps{}
			c := newTestClient(t, fake, func(o *Options) { o.Retry = tc.policy; o.sleep = rec.sleep })
			err := c.UpsertPlanComment(ctx, "o/r", 1, "dev", "s", "p")
			if tc.wantErr != (err != nil) {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			// The first call is the comment listing: count its attempts.
			listCalls := 0
			for _, call := range fake.Calls() {
				if call.Method == "GET" {
					listCalls++
				}
			}
			if listCalls != tc.wantCalls {
				t.Fatalf("%d list attempts, want %d", listCalls, tc.wantCalls)
			}
			if waits := rec.all(); tc.wantWait != nil && (len(waits) == 0 || !tc.wantWait(waits[0])) {
				t.Fatalf("waits %v", waits)
			}
		})
	}
}

func TestDoesNotRetryClientErrors(t *testing.T) {
	fake := startFake(t, fakegithub.Config{})
	rec := &sleeps{}
	c := newTestClient(t, fake, func(o *Options) { o.sleep = rec.sleep; o.Token = "ghp_wrongwrongwrongwrongwrong" })
	err := c.SetStatus(context.Background(), "o/r", "abc", "c", StateSuccess, "", "")
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 401 {
		t.Fatalf("want 401, got %v", err)
	}
	if len(fake.Calls()) != 1 || len(rec.all()) != 0 {
		t.Fatalf("401 was retried: %d calls", len(fake.Calls()))
	}
}

func TestRetryResendsTheSameBody(t *testing.T) {
	fake := startFake(t, fakegithub.Config{})
	c := newTestClient(t, fake, nil)
	if err := c.UpsertPlanComment(context.Background(), "o/r", 1, "dev", "s", "p"); err != nil {
		t.Fatal(err)
	}
	fake.FailNext(1, fakegithub.Failure{Kind: fakegithub.BadGateway})
	// List succeeds after one 502; then the edit carries its body again.
	if err := c.UpsertPlanComment(context.Background(), "o/r", 1, "dev", "changed", "p"); err != nil {
		t.Fatal(err)
	}
	fake.FailNext(1, fakegithub.Failure{Kind: fakegithub.BadGateway})
	if _, err := c.CreateDeployment(context.Background(), "o/r", "abc", "dev", "d"); err != nil {
		t.Fatal(err)
	}
	calls := fake.Calls()
	failed, retried := calls[len(calls)-2], calls[len(calls)-1]
	if failed.Status != 502 || retried.Status != 201 || failed.Body != retried.Body || retried.Body == "" {
		t.Fatalf("retry body differs:\n%q\n%q", failed.Body, retried.Body)
	}
}

func TestRetryStopsAtContextDeadline(t *testing.T) {
	fake := startFake(t, fakegithub.Config{})
	fake.FailNext(100, fakegithub.Failure{Kind: fakegithub.SecondaryRateLimit, RetryAfter: time.Hour})
	c := newTestClient(t, fake, func(o *Options) { o.Retry = RetryPolicy{MaxAttempts: 10, MaxDelay: time.Hour} })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err := c.SetStatus(ctx, "o/r", "abc", "c", StateSuccess, "", "")
	var ab *gh.AbuseRateLimitError
	if !errors.As(err, &ab) {
		t.Fatalf("want the rate limit error, got %v", err)
	}
	if time.Since(start) > time.Second {
		t.Fatalf("waited %v for a retry that could not fit the deadline", time.Since(start))
	}
}
