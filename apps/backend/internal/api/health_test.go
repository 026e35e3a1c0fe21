package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gitops-runner/runner/apps/backend/internal/items"
	"github.com/gitops-runner/runner/apps/backend/internal/items/itemstest"
)

func TestHealthChecks(t *testing.T) {
	// A pool to a port where nothing listens: the database is down.
	down, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Close)

	tests := []struct {
		name       string
		store      Store
		path       string
		wantStatus int
		wantBody   string
	}{
		{"liveness ignores the store", items.NewPostgres(down), "/health", 200, `{"status":"ok"}`},
		{"memory store is always ready", items.NewMemory(), "/readyz", 200, `{"status":"ready"}`},
		{"database down is not ready", items.NewPostgres(down), "/readyz", 503, `{"error":"not ready: database unavailable"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			New(tt.store, Options{}).ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
			if rec.Code != tt.wantStatus || strings.TrimSpace(rec.Body.String()) != tt.wantBody {
				t.Fatalf("GET %s = %d %s, want %d %s", tt.path, rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestReadyWithARunningDatabase(t *testing.T) {
	rec := httptest.NewRecorder()
	New(itemstest.NewPostgres(t, nil), Options{}).ServeHTTP(rec, httptest.NewRequest("GET", ReadinessPath, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /readyz = %d %s", rec.Code, rec.Body)
	}
}
