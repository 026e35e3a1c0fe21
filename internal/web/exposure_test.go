package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/web"
)

// exposureMux serves the API with opts, next to a stand-in webhook route as the server mounts it.
func exposureMux(t *testing.T, opts web.Options) *http.ServeMux {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/github", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	web.Routes(mux, st, nil, opts)
	return mux
}

type exposureCase struct {
	name   string
	method string // GET when empty
	path   string
	remote string // RemoteAddr
	host   string
	header map[string]string
	want   int
}

func runExposure(t *testing.T, mux http.Handler, tests []exposureCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, tc.path, nil)
			req.RemoteAddr, req.Host = tc.remote, tc.host
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("%s %s from %s as %s = %d, want %d (%s)", method, tc.path, tc.remote, tc.host, rec.Code, tc.want, rec.Body)
			}
			if tc.want == http.StatusForbidden && !strings.Contains(rec.Body.String(), "RUNNER_API_TOKEN") {
				t.Errorf("the refusal does not name RUNNER_API_TOKEN: %s", rec.Body)
			}
			if tc.want >= 400 {
				var body map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] == nil {
					t.Errorf("refusal is not a JSON error: %s", rec.Body)
				}
			}
		})
	}
}

// Without a token the API and dashboard answer local clients only, under a local or the public host;
// health and the webhook answer everyone.
func TestWithoutTokenLoopbackOnly(t *testing.T) {
	mux := exposureMux(t, web.Options{PublicURL: "https://runner.example.com/", AllowedHosts: []string{"tunnel.internal:9000"}})
	const (
		local   = "127.0.0.1:50000"
		remote  = "203.0.113.7:50000"
		locHost = "127.0.0.1:8080"
	)
	runExposure(t, mux, []exposureCase{
		{name: "health from anywhere", path: "/healthz", remote: remote, host: "evil.example", want: http.StatusOK},
		{name: "readiness from anywhere", path: "/readyz", remote: remote, host: "evil.example", want: http.StatusOK},
		{name: "webhook from anywhere", method: http.MethodPost, path: "/webhooks/github", remote: remote, host: "evil.example", want: http.StatusAccepted},
		{name: "runs from a remote client", path: "/api/runs", remote: remote, host: "runner.example.com", want: http.StatusForbidden},
		{name: "dashboard from a remote client", path: "/", remote: remote, host: "runner.example.com", want: http.StatusForbidden},
		{name: "locks from a private network", path: "/api/locks", remote: "10.0.0.8:4000", host: locHost, want: http.StatusForbidden},
		{name: "runs from loopback", path: "/api/runs", remote: local, host: locHost, want: http.StatusOK},
		{name: "dashboard from loopback", path: "/", remote: local, host: locHost, want: http.StatusOK},
		{name: "IPv6 loopback", path: "/api/runs", remote: "[::1]:50000", host: "[::1]:8080", want: http.StatusOK},
		{name: "IPv4-mapped loopback", path: "/api/runs", remote: "[::ffff:127.0.0.1]:50000", host: locHost, want: http.StatusOK},
		{name: "other loopback address", path: "/api/runs", remote: "127.0.0.2:50000", host: "127.0.0.2", want: http.StatusOK},
		{name: "localhost with a port", path: "/api/runs", remote: local, host: "localhost:8080", want: http.StatusOK},
		{name: "localhost in capitals", path: "/api/runs", remote: local, host: "LOCALHOST", want: http.StatusOK},
		{name: "the public URL's host", path: "/api/runs", remote: local, host: "runner.example.com", want: http.StatusOK},
		{name: "an allowed host", path: "/api/runs", remote: local, host: "tunnel.internal:1234", want: http.StatusOK},
		{name: "a rebound foreign host", path: "/api/runs", remote: local, host: "evil.example:8080", want: http.StatusMisdirectedRequest},
		{name: "a foreign host ending like ours", path: "/", remote: local, host: "runner.example.com.evil.example", want: http.StatusMisdirectedRequest},
		{name: "a localhost subdomain", path: "/", remote: local, host: "x.localhost", want: http.StatusMisdirectedRequest},
		{name: "relayed by a local proxy", path: "/api/runs", remote: local, host: locHost, header: map[string]string{"X-Forwarded-For": "203.0.113.7"}, want: http.StatusForbidden},
		{name: "relayed, RFC 7239", path: "/api/runs", remote: local, host: locHost, header: map[string]string{"Forwarded": "for=203.0.113.7"}, want: http.StatusForbidden},
	})
}

// With a token, the token decides, whoever asks and whatever Host they name (see exposure's comment).
func TestWithTokenAnyClient(t *testing.T) {
	const token = "s3cret-api-token-0123456789"
	mux := exposureMux(t, web.Options{Token: token})
	bearer := map[string]string{"Authorization": "Bearer " + token}
	runExposure(t, mux, []exposureCase{
		{name: "remote with the token", path: "/api/runs", remote: "203.0.113.7:1", host: "runner.example.com", header: bearer, want: http.StatusOK},
		{name: "remote under any host", path: "/", remote: "203.0.113.7:1", host: "other.example", header: bearer, want: http.StatusOK},
		{name: "remote without the token", path: "/api/runs", remote: "203.0.113.7:1", host: "runner.example.com", want: http.StatusUnauthorized},
		{name: "loopback without the token", path: "/api/runs", remote: "127.0.0.1:1", host: "localhost", want: http.StatusUnauthorized},
		{name: "health", path: "/healthz", remote: "203.0.113.7:1", host: "x", want: http.StatusOK},
	})
}

// A real listener on 127.0.0.1: a browser rebound to it still names the foreign host and is refused.
func TestRebindingOverALoopbackListener(t *testing.T) {
	srv := httptest.NewServer(exposureMux(t, web.Options{}))
	defer srv.Close()
	for host, want := range map[string]int{"": http.StatusOK, "attacker.example:80": http.StatusMisdirectedRequest} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/runs", nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d, want %d (%s)", host, resp.StatusCode, want, body)
		}
	}
}

// The runner says at start which exposure is in effect.
func TestExposureIsLogged(t *testing.T) {
	tests := []struct {
		name string
		opts web.Options
		want string
	}{
		{"without a token", web.Options{PublicURL: "https://runner.example.com"}, "API and dashboard: loopback only (set RUNNER_API_TOKEN to open them)"},
		{"with a token", web.Options{Token: "s3cret-api-token-0123456789"}, "API and dashboard: token required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.opts.Logger = slog.New(slog.NewTextHandler(&buf, nil))
			exposureMux(t, tc.opts)
			if !strings.Contains(buf.String(), tc.want) {
				t.Fatalf("log = %q, want %q", buf.String(), tc.want)
			}
			if tc.opts.Token != "" && strings.Contains(buf.String(), tc.opts.Token) {
				t.Fatalf("the log shows the token: %s", buf.String())
			}
		})
	}
}
