package webhook_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/webhook"
)

// readTracker is a body that records whether anyone read it.
type readTracker struct {
	r    io.Reader
	read atomic.Bool
}

func (t *readTracker) Read(p []byte) (int, error) {
	t.read.Store(true)
	return t.r.Read(p)
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// What the headers already condemn is refused without reading a byte of the body.
func TestRefusedBeforeTheBodyIsRead(t *testing.T) {
	body := []byte(`{"ref":"refs/heads/main"}`)
	good := sign256(body, secret)
	tests := []struct {
		name   string
		header map[string]string
		length int64
		want   int
	}{
		{"no signature", map[string]string{"X-Hub-Signature-256": ""}, -2, http.StatusUnauthorized},
		{"sha1 signature", map[string]string{"X-Hub-Signature-256": sign1(body, secret)}, -2, http.StatusUnauthorized},
		{"not hex", map[string]string{"X-Hub-Signature-256": "sha256=" + strings.Repeat("z", 64)}, -2, http.StatusUnauthorized},
		{"short", map[string]string{"X-Hub-Signature-256": "sha256=abcd"}, -2, http.StatusUnauthorized},
		{"wrong content type", map[string]string{"Content-Type": "text/plain"}, -2, http.StatusUnsupportedMediaType},
		{"no event name", map[string]string{"X-GitHub-Event": ""}, -2, http.StatusBadRequest},
		{"no delivery id", map[string]string{"X-GitHub-Delivery": ""}, -2, http.StatusBadRequest},
		{"declared length over the cap", nil, webhook.DefaultMaxBody + 1, http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := &readTracker{r: bytes.NewReader(body)}
			req := httptest.NewRequest(http.MethodPost, "/webhooks/github", tr)
			if tc.length != -2 {
				req.ContentLength = tc.length
			} else {
				req.ContentLength = int64(len(body))
			}
			for k, v := range map[string]string{
				"Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": "d", "X-Hub-Signature-256": good,
			} {
				req.Header.Set(k, v)
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			newHandler(t, &fakeAcceptor{}).ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tc.want, rec.Body)
			}
			if tr.read.Load() {
				t.Fatal("the body was read")
			}
		})
	}
}

// A chunked body (no declared length) over the cap is cut off at the cap.
func TestChunkedBodies(t *testing.T) {
	body := payload(t, "push.with-new-branch.json")
	big := bytes.Repeat([]byte(" "), 1<<20+1)
	tests := []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"signed", body, sign256(body, secret), http.StatusAccepted},
		{"badly signed", body, sign256(body, "other"), http.StatusUnauthorized},
		{"over the cap", big, sign256(big, secret), http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := webhook.New(webhook.Config{Secret: []byte(secret), AllowedRepos: []string{"*/*"}, MaxBody: 1 << 20}, &fakeAcceptor{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/webhooks/github", io.MultiReader(bytes.NewReader(tc.body)))
			req.ContentLength = -1
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", "push")
			req.Header.Set("X-GitHub-Delivery", "d")
			req.Header.Set("X-Hub-Signature-256", tc.sig)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tc.want, rec.Body)
			}
			if held, _ := h.UnverifiedBytes(); held != 0 {
				t.Fatalf("%d bytes still held", held)
			}
		})
	}
}

// Many large bodies with a well-formed but wrong signature never hold more than the budget, and
// genuine deliveries sent meanwhile are accepted.
func TestUnverifiedBytesStayWithinTheBudget(t *testing.T) {
	const (
		maxBody   = 4 << 20
		budget    = 8 << 20
		attackers = 30
		genuine   = 10
	)
	acc := &fakeAcceptor{}
	h, err := webhook.New(webhook.Config{
		Secret: []byte(secret), AllowedRepos: []string{"*/*"},
		MaxBody: maxBody, UnverifiedBudget: budget, BudgetWait: time.Minute,
	}, acc, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	var sampled atomic.Int64 // the most held bytes the test saw
	stop := make(chan struct{})
	sampler := make(chan struct{})
	go func() {
		defer close(sampler)
		for {
			held, _ := h.UnverifiedBytes()
			if held > sampled.Load() {
				sampled.Store(held)
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()

	post := func(id string, body io.Reader, length int64, sig string) (int, error) {
		req, err := http.NewRequest(http.MethodPost, srv.URL, body)
		if err != nil {
			return 0, err
		}
		req.ContentLength = length
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", id)
		req.Header.Set("X-Hub-Signature-256", sig)
		resp, err := srv.Client().Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	junk := bytes.Repeat([]byte("x"), maxBody)
	forged := "sha256=" + strings.Repeat("ab", 32)
	genuineBody := payload(t, "push.with-new-branch.json")

	var wg sync.WaitGroup
	errs := make(chan error, attackers+genuine)
	for i := range attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body io.Reader = bytes.NewReader(junk)
			length := int64(len(junk))
			if i%2 == 1 { // chunked: no declared length
				body, length = io.MultiReader(bytes.NewReader(junk)), -1
			}
			// Refused for its signature once read, or for want of budget (a chunked body whose
			// next chunk does not fit; the client may then see the connection closed mid-write).
			code, err := post(fmt.Sprintf("attack-%d", i), body, length, forged)
			if err == nil && code != http.StatusUnauthorized && code != http.StatusServiceUnavailable {
				errs <- fmt.Errorf("forged delivery %d answered %d", i, code)
			}
		}()
	}
	for i := range genuine {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, err := post(fmt.Sprintf("genuine-%d", i), bytes.NewReader(genuineBody), int64(len(genuineBody)), sign256(genuineBody, secret))
			if err == nil && code != http.StatusAccepted {
				err = fmt.Errorf("genuine delivery %d answered %d", i, code)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampler
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	held, peak := h.UnverifiedBytes()
	if held != 0 {
		t.Errorf("%d bytes still held after every request ended", held)
	}
	if peak > budget || sampled.Load() > budget {
		t.Errorf("held up to %d bytes (sampled %d), over the budget of %d", peak, sampled.Load(), budget)
	}
	if peak < maxBody {
		t.Errorf("peak %d: the gauge did not count the bodies", peak)
	}
	if len(acc.evs) != genuine {
		t.Errorf("accepted %d genuine deliveries, want %d", len(acc.evs), genuine)
	}
}

// When the budget stays exhausted beyond the wait, a delivery is refused with 503 and Retry-After;
// once bytes are released, deliveries get in again.
func TestExhaustedBudgetAnswers503(t *testing.T) {
	const limit = 64 << 10
	acc := &fakeAcceptor{}
	h, err := webhook.New(webhook.Config{
		Secret: []byte(secret), AllowedRepos: []string{"*/*"},
		MaxBody: limit, UnverifiedBudget: limit, BudgetWait: 20 * time.Millisecond,
	}, acc, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A body that arrives slowly (never, here) holds the whole budget.
	pr, pw := io.Pipe()
	stuck := httptest.NewRequest(http.MethodPost, "/webhooks/github", pr)
	stuck.ContentLength = limit
	stuck.Header.Set("Content-Type", "application/json")
	stuck.Header.Set("X-GitHub-Event", "push")
	stuck.Header.Set("X-GitHub-Delivery", "slow")
	stuck.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("00", 32))
	stuckDone := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, stuck)
		stuckDone <- rec.Code
	}()
	eventually(t, "the slow body to hold the budget", func() bool { held, _ := h.UnverifiedBytes(); return held == limit })

	body := payload(t, "push.with-new-branch.json")
	rec, _ := send(t, h, delivery{event: "push", id: "refused", body: body, sig256: sign256(body, secret)})
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status = %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}

	pw.CloseWithError(errors.New("client went away"))
	if code := <-stuckDone; code != http.StatusBadRequest {
		t.Fatalf("slow body answered %d, want 400", code)
	}
	if held, _ := h.UnverifiedBytes(); held != 0 {
		t.Fatalf("%d bytes held after the slow body ended", held)
	}
	if rec, _ := send(t, h, delivery{event: "push", id: "later", body: body, sig256: sign256(body, secret)}); rec.Code != http.StatusAccepted {
		t.Fatalf("delivery after release: %d, want 202", rec.Code)
	}
}
