package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/apps/backend/internal/items"
)

func TestCORS(t *testing.T) {
	const allowed = "https://app.example.com"
	tests := []struct {
		name        string
		method      string
		origin      string
		preflight   string // Access-Control-Request-Method, for preflights
		wantStatus  int
		wantAllowed bool // whether CORS headers must be present
	}{
		{name: "allowed origin", method: "GET", origin: allowed, wantStatus: 200, wantAllowed: true},
		{name: "allowed origin in other case", method: "GET", origin: "https://APP.example.com", wantStatus: 200, wantAllowed: true},
		{name: "allowed origin writes", method: "POST", origin: allowed, wantStatus: 201, wantAllowed: true},
		{name: "refused origin", method: "GET", origin: "https://evil.example.com", wantStatus: 200},
		{name: "refused look-alike origin", method: "GET", origin: "https://app.example.com.evil.net", wantStatus: 200},
		{name: "refused scheme", method: "GET", origin: "http://app.example.com", wantStatus: 200},
		{name: "no origin (same origin or not a browser)", method: "GET", wantStatus: 200},
		{name: "preflight allowed", method: "OPTIONS", origin: allowed, preflight: "DELETE", wantStatus: 204, wantAllowed: true},
		{name: "preflight refused", method: "OPTIONS", origin: "https://evil.example.com", preflight: "DELETE", wantStatus: 403},
		{name: "preflight of null origin refused", method: "OPTIONS", origin: "null", preflight: "POST", wantStatus: 403},
	}
	h := New(items.NewMemory(), Options{AllowedOrigins: []string{allowed, "http://localhost:5173"}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body *strings.Reader
			if tt.method == "POST" {
				body = strings.NewReader(`{"name":"a"}`)
			} else {
				body = strings.NewReader("")
			}
			req := httptest.NewRequest(tt.method, "/api/v1/items", body)
			req.Header.Set("Content-Type", "application/json")
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.preflight != "" {
				req.Header.Set("Access-Control-Request-Method", tt.preflight)
				req.Header.Set("Access-Control-Request-Headers", "content-type")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if !strings.Contains(strings.Join(rec.Header().Values("Vary"), ","), "Origin") {
				t.Errorf("Vary = %q, want Origin in it", rec.Header().Values("Vary"))
			}
			var cors []string
			for k := range rec.Header() {
				if strings.HasPrefix(k, "Access-Control-") {
					cors = append(cors, k)
				}
			}
			if !tt.wantAllowed {
				if len(cors) > 0 {
					t.Fatalf("refused request got CORS headers %v", cors)
				}
				return
			}
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tt.origin {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.origin)
			}
			if tt.preflight != "" {
				if m := rec.Header().Get("Access-Control-Allow-Methods"); !strings.Contains(m, tt.preflight) {
					t.Errorf("Access-Control-Allow-Methods = %q, want %s in it", m, tt.preflight)
				}
				if got := rec.Header().Get("Access-Control-Allow-Headers"); !strings.EqualFold(got, "content-type") {
					t.Errorf("Access-Control-Allow-Headers = %q", got)
				}
				if rec.Header().Get("Access-Control-Max-Age") == "" {
					t.Error("preflight answer has no Max-Age")
				}
			}
		})
	}
}

func TestNoAllowedOriginsMeansNoCORS(t *testing.T) {
	req := httptest.NewRequest(http.MethodOptions, "/api/v1/items", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	rec := httptest.NewRecorder()
	New(items.NewMemory(), Options{}).ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("got %d with %v", rec.Code, rec.Header())
	}
}
