package github

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy bounds how hard a call is retried on 5xx answers and rate limits.
type RetryPolicy struct {
	MaxAttempts int           // attempts in all, including the first; 0 means 4, 1 disables retries
	BaseDelay   time.Duration // first backoff, doubled per attempt (with jitter); 0 means 1s
	MaxDelay    time.Duration // cap on any single wait, including Retry-After and X-RateLimit-Reset; 0 means 60s
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 4
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = time.Second
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = time.Minute
	}
	return p
}

// retryTransport re-sends a request that GitHub answered with a 5xx, a 429 or a rate-limit 403. It sits below the
// authenticating transports so installation-token requests are retried too; other 4xx answers pass through.
type retryTransport struct {
	next   http.RoundTripper
	policy RetryPolicy
	sleep  func(ctx context.Context, d time.Duration) error
	now    func() time.Time
}

func newRetryTransport(next http.RoundTripper, p RetryPolicy, sleep func(context.Context, time.Duration) error) *retryTransport {
	if next == nil {
		next = http.DefaultTransport
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	return &retryTransport{next: next, policy: p.withDefaults(), sleep: sleep, now: time.Now}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	// Buffer the body so every attempt can send it again.
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	for attempt := 1; ; attempt++ {
		r := req.Clone(ctx)
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			r.ContentLength = int64(len(body))
		}
		resp, err := t.next.RoundTrip(r)
		last := attempt >= t.policy.MaxAttempts
		if err != nil {
			if last || ctx.Err() != nil || !idempotent(req.Method) {
				return nil, err
			}
			if serr := t.sleep(ctx, t.backoff(attempt)); serr != nil {
				return nil, err
			}
			continue
		}
		delay, retry := t.classify(resp, attempt)
		if !retry || last {
			return resp, nil
		}
		// Give up early, with GitHub's own answer, rather than sleep past the caller's deadline.
		if dl, ok := ctx.Deadline(); ok && t.now().Add(delay).After(dl) {
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if err := t.sleep(ctx, delay); err != nil {
			return nil, err
		}
	}
}

// idempotent methods are retried after a transport error too; a POST may have been applied, so it is not.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// classify says whether resp deserves another attempt and after how long.
func (t *retryTransport) classify(resp *http.Response, attempt int) (time.Duration, bool) {
	switch {
	case resp.StatusCode >= 500:
		return t.serverDelay(resp, attempt), true
	case resp.StatusCode == http.StatusTooManyRequests:
		return t.serverDelay(resp, attempt), true
	case resp.StatusCode == http.StatusForbidden:
		if resp.Header.Get("X-RateLimit-Remaining") == "0" || resp.Header.Get("Retry-After") != "" || secondaryLimit(resp) {
			return t.serverDelay(resp, attempt), true
		}
	}
	return 0, false
}

// secondaryLimit peeks at a 403 body for GitHub's secondary-rate-limit message and puts the body back.
func secondaryLimit(resp *http.Response) bool {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return false
	}
	s := strings.ToLower(string(b))
	return strings.Contains(s, "secondary rate limit") || strings.Contains(s, "secondary-rate-limits") ||
		strings.Contains(s, "abuse-rate-limits")
}

// serverDelay prefers what GitHub asked for (Retry-After, then X-RateLimit-Reset), else exponential backoff;
// always capped by MaxDelay.
func (t *retryTransport) serverDelay(resp *http.Response, attempt int) time.Duration {
	d := t.backoff(attempt)
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && secs >= 0 {
			d = time.Duration(secs) * time.Second
		} else if when, err := http.ParseTime(ra); err == nil {
			d = when.Sub(t.now())
		}
	} else if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		if secs, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			d = time.Unix(secs, 0).Sub(t.now())
		}
	}
	return min(max(d, 0), t.policy.MaxDelay)
}

// backoff is BaseDelay * 2^(attempt-1), with half of it jittered, capped by MaxDelay.
func (t *retryTransport) backoff(attempt int) time.Duration {
	d := t.policy.BaseDelay << min(attempt-1, 30)
	if d <= 0 || d > t.policy.MaxDelay {
		d = t.policy.MaxDelay
	}
	half := d / 2
	if half > 0 {
		d = half + rand.N(half)
	}
	return d
}
