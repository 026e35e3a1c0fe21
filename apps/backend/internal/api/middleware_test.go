package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/apps/backend/internal/items"
)

func TestRequestsAreLogged(t *testing.T) {
	var logs bytes.Buffer
	h := New(items.NewMemory(), Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/items/missing?x=1", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/health", nil)) // debug: not at info

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1 (health checks stay at debug): %s", len(lines), logs.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"msg": "request", "method": "GET", "path": "/api/v1/items/missing", "status": float64(404)}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("log %s = %v, want %v", k, rec[k], v)
		}
	}
	for _, k := range []string{"bytes", "duration", "remote"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("log has no %q", k)
		}
	}
}

func TestPanicBecomesLogged500(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	h := logRequests(log, recoverPanics(log, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), `"error":"internal error"`) {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "handler panic") || !strings.Contains(logs.String(), `"status":500`) {
		t.Fatalf("logs: %s", logs.String())
	}
}
