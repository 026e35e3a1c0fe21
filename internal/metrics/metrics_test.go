package metrics_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/metrics"
	"github.com/gitops-runner/runner/internal/webhook"
)

const secret = "a-webhook-secret-of-some-length"

// dedup accepts each delivery id once, as the store does.
type dedup struct {
	mu   sync.Mutex
	seen map[string]int64
}

func (d *dedup) Accept(_ context.Context, ev event.Event) (event.Receipt, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if id, ok := d.seen[ev.DeliveryID]; ok {
		return event.Receipt{Run: id, Duplicate: true}, nil
	}
	d.seen[ev.DeliveryID] = int64(len(d.seen) + 1)
	return event.Receipt{Run: int64(len(d.seen))}, nil
}

func deliver(t *testing.T, url, delivery string, body []byte, key string) int {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	req, _ := http.NewRequest(http.MethodPost, url+"/webhooks/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func push(i int) []byte {
	return fmt.Appendf(nil, `{"ref":"refs/heads/main","before":"%040d","after":"%040d","repository":{"full_name":"acme/infra",
		"clone_url":"https://github.com/acme/infra.git","default_branch":"main"},"sender":{"login":"octocat"}}`, i, i+1)
}

// N valid deliveries, M repeated delivery ids and K bad signatures count exactly so, through the real
// handler behind the HTTP middleware on a real server.
func TestDeliveriesCountWhatHappened(t *testing.T) {
	for _, tc := range []struct{ n, m, k int }{{1, 0, 0}, {3, 2, 4}, {0, 0, 5}} {
		t.Run(fmt.Sprintf("%d valid %d duplicates %d refused", tc.n, tc.m, tc.k), func(t *testing.T) {
			m := metrics.New(metrics.Options{})
			h, err := webhook.New(webhook.Config{Secret: []byte(secret), AllowedRepos: []string{"acme/*"}, Observe: m.ObserveDelivery},
				&dedup{seen: map[string]int64{}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			mux.Handle("POST /webhooks/github", h)
			srv := httptest.NewServer(m.HTTP(mux))
			defer srv.Close()
			for i := range tc.n {
				deliver(t, srv.URL, fmt.Sprintf("d-%d", i), push(i), secret)
			}
			for i := range tc.m {
				deliver(t, srv.URL, fmt.Sprintf("d-%d", i%max(tc.n, 1)), push(i%max(tc.n, 1)), secret)
			}
			for i := range tc.k {
				deliver(t, srv.URL, fmt.Sprintf("bad-%d", i), push(i), "not-the-secret")
			}
			var want strings.Builder
			want.WriteString("# HELP runner_webhook_deliveries_total GitHub webhook deliveries, by event, outcome (accepted, duplicate, ignored, refused, error) and reason.\n# TYPE runner_webhook_deliveries_total counter\n")
			if tc.n > 0 {
				fmt.Fprintf(&want, "runner_webhook_deliveries_total{event=\"push\",outcome=\"accepted\",reason=\"\"} %d\n", tc.n)
			}
			if tc.m > 0 {
				fmt.Fprintf(&want, "runner_webhook_deliveries_total{event=\"push\",outcome=\"duplicate\",reason=\"delivery_id\"} %d\n", tc.m)
			}
			if tc.k > 0 {
				fmt.Fprintf(&want, "runner_webhook_deliveries_total{event=\"push\",outcome=\"refused\",reason=\"bad_signature\"} %d\n", tc.k)
			}
			if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(want.String()), "runner_webhook_deliveries_total"); err != nil {
				t.Error(err)
			}
			// The middleware saw the same requests under the route's pattern.
			got := map[string]int{}
			for _, c := range []string{"202", "200", "401"} {
				got[c] = int(httpCount(t, m, "POST /webhooks/github", c))
			}
			if got["202"] != tc.n || got["200"] != tc.m || got["401"] != tc.k {
				t.Errorf("runner_http_requests_total by code = %v, want 202:%d 200:%d 401:%d", got, tc.n, tc.m, tc.k)
			}
		})
	}
}

// httpCount reads runner_http_requests_total{route,code} from the registry.
func httpCount(t *testing.T, m *metrics.Metrics, route, code string) float64 {
	t.Helper()
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "runner_http_requests_total" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["code"] == code {
				return mt.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestHTTPMiddlewareLabelsByPattern(t *testing.T) {
	m := metrics.New(metrics.Options{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/runs/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "0" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		w.Write([]byte("ok")) // no WriteHeader: 200
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			t.Error("the middleware's writer is not a Flusher: streams would stall")
			return
		}
		w.Write([]byte("data: 1\n\n"))
		f.Flush()
	})
	srv := httptest.NewServer(m.HTTP(mux))
	defer srv.Close()
	tests := []struct {
		path, route, code string
	}{
		{"/api/runs/7", "GET /api/runs/{id}", "200"},
		{"/api/runs/0", "GET /api/runs/{id}", "404"},
		{"/stream", "GET /stream", "200"},
		{"/wp-admin/" + strings.Repeat("x", 50), "other", "404"}, // no pattern: the path never becomes a label
	}
	for _, tt := range tests {
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for _, tt := range tests {
		if n := httpCount(t, m, tt.route, tt.code); n < 1 {
			t.Errorf("%s: runner_http_requests_total{route=%q,code=%q} = %v, want at least 1", tt.path, tt.route, tt.code, n)
		}
	}
	if n := httpCount(t, m, "GET /api/runs/{id}", "200"); n != 1 {
		t.Errorf("GET /api/runs/{id} 200 = %v, want 1", n)
	}
	if n, err := testutil.GatherAndCount(m.Gatherer(), "runner_http_request_duration_seconds"); err != nil || n != 3 {
		t.Errorf("duration series = %d, %v; want 3 routes", n, err)
	}
}

// fakeQueue answers QueueStats as told.
type fakeQueue struct {
	q     metrics.Queued
	err   error
	delay time.Duration
}

func (f fakeQueue) QueueStats(ctx context.Context) (metrics.Queued, error) {
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return metrics.Queued{}, ctx.Err()
		}
	}
	return f.q, f.err
}

func TestQueueCollector(t *testing.T) {
	tests := []struct {
		name string
		q    fakeQueue
		want string // the queue's series, "" when the scrape leaves them out
	}{
		{name: "runs waiting", q: fakeQueue{q: metrics.Queued{Waiting: 3, Running: 2, Oldest: time.Now().Add(-90 * time.Second)}},
			want: "depth 3 running 2 oldest>=90"},
		{name: "nothing waiting", q: fakeQueue{q: metrics.Queued{Running: 1}}, want: "depth 0 running 1 oldest>=0"},
		{name: "store fails", q: fakeQueue{err: errors.New("database is locked")}},
		{name: "store too slow", q: fakeQueue{delay: time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := metrics.New(metrics.Options{Queue: tt.q, QueueTimeout: 50 * time.Millisecond})
			start := time.Now()
			srv := httptest.NewServer(m.Handler())
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if time.Since(start) > 10*time.Second {
				t.Errorf("scrape took %s: the queue's timeout did not hold", time.Since(start))
			}
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "go_goroutines") {
				t.Fatalf("scrape = %d without the Go collector's metrics; the rest must be served when the queue fails:\n%.500s", resp.StatusCode, body)
			}
			if tt.want == "" {
				if strings.Contains(string(body), "runner_queue_depth") {
					t.Errorf("queue series served although the store did not answer")
				}
				return
			}
			var depth, running, oldest float64
			for _, l := range strings.Split(string(body), "\n") {
				fmt.Sscanf(l, "runner_queue_depth %g", &depth)
				fmt.Sscanf(l, "runner_runs_in_progress %g", &running)
				fmt.Sscanf(l, "runner_queue_oldest_age_seconds %g", &oldest)
			}
			var wantDepth, wantRunning, wantOldest float64
			fmt.Sscanf(tt.want, "depth %g running %g oldest>=%g", &wantDepth, &wantRunning, &wantOldest)
			if depth != wantDepth || running != wantRunning || oldest < wantOldest || oldest > wantOldest+60 {
				t.Errorf("depth %v running %v oldest %v; want %s", depth, running, oldest, tt.want)
			}
		})
	}
}

// Label values from hostile or unbounded sources are bounded.
func TestLabelsStayBounded(t *testing.T) {
	m := metrics.New(metrics.Options{})
	for i := range 200 {
		m.StageFinished("plan", fmt.Sprintf("image:app-%d", i), fmt.Sprintf("env-%d", i), "succeeded", time.Second)
		m.ObserveCall("github", fmt.Sprintf("GET /op/%d", i), "ok", time.Millisecond)
		m.ObserveTerraform(fmt.Sprintf("verb%d", i), "ok", time.Second)
	}
	if n, _ := testutil.GatherAndCount(m.Gatherer(), "runner_stages_total"); n > 65 {
		t.Errorf("runner_stages_total has %d series for 200 environments, want at most 65", n)
	}
	if n, _ := testutil.GatherAndCount(m.Gatherer(), "runner_terraform_command_duration_seconds"); n != 1 {
		t.Errorf("unknown Terraform verbs made %d series, want 1 (other)", n)
	}
	want := `# HELP runner_build_info The runner's build: always 1, with the module version, Go version and VCS revision as labels.`
	if mfs, _ := m.Gatherer().Gather(); !strings.Contains(fmt.Sprint(mfs), "runner_build_info") {
		t.Errorf("no runner_build_info (%s)", want)
	}
}

func TestRateLimitAndCalls(t *testing.T) {
	m := metrics.New(metrics.Options{})
	m.SetRateLimit("github", 4200, 5000)
	m.ObserveCall("github", "POST /repos/{owner}/{repo}/issues/{number}/comments", "ok", 30*time.Millisecond)
	m.ObserveCall("github", "POST /repos/{owner}/{repo}/issues/{number}/comments", "server_error", time.Second)
	m.ObserveCall("aws", "sts.AssumeRole", "error", time.Second)
	want := `# HELP runner_external_calls_total Calls to outside services, by service (github, slack, aws), operation and result.
# TYPE runner_external_calls_total counter
runner_external_calls_total{operation="POST /repos/{owner}/{repo}/issues/{number}/comments",result="server_error",service="github"} 1
runner_external_calls_total{operation="POST /repos/{owner}/{repo}/issues/{number}/comments",result="ok",service="github"} 1
runner_external_calls_total{operation="sts.AssumeRole",result="error",service="aws"} 1
# HELP runner_external_rate_limit_remaining Requests left in the service's current rate limit window, as its last answer said.
# TYPE runner_external_rate_limit_remaining gauge
runner_external_rate_limit_remaining{service="github"} 4200
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(want), "runner_external_calls_total", "runner_external_rate_limit_remaining"); err != nil {
		t.Error(err)
	}
}
