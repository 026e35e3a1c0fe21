package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-runner/runner/apps/backend/internal/items"
	"github.com/gitops-runner/runner/apps/backend/internal/items/itemstest"
	"github.com/gitops-runner/runner/apps/backend/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// forEachStore runs test once per store kind, each with an empty store.
func forEachStore(t *testing.T, test func(t *testing.T, s Store)) {
	for _, kind := range itemstest.Kinds() {
		t.Run(kind.Name, func(t *testing.T) { test(t, kind.New(t)) })
	}
}

// apiCase is one request against a store holding one item, "seeded".
type apiCase struct {
	name        string
	method      string
	path        string // "{id}" is replaced by the seeded item's id
	body        string
	contentType string // defaults to application/json when body is set
	wantStatus  int
	wantError   string            // substring of the "error" field; empty for success
	wantFields  map[string]string // exact "fields" of a validation error
	wantName    string            // "name" of the returned item
	wantAllow   string
}

func TestItemsAPI(t *testing.T) {
	long := strings.Repeat("x", items.MaxNameLen+1)
	tests := []apiCase{
		{name: "health", method: "GET", path: "/health", wantStatus: 200},
		{name: "ready", method: "GET", path: "/readyz", wantStatus: 200},
		{name: "create with NUL", method: "POST", path: "/api/v1/items", body: `{"name":"a\u0000b"}`, wantStatus: 400,
			wantFields: map[string]string{"name": "must not contain NUL characters"}},
		{name: "list", method: "GET", path: "/api/v1/items", wantStatus: 200},
		{name: "get seeded", method: "GET", path: "/api/v1/items/{id}", wantStatus: 200, wantName: "seeded"},
		{name: "get unknown", method: "GET", path: "/api/v1/items/nope", wantStatus: 404, wantError: "item not found"},
		{name: "create", method: "POST", path: "/api/v1/items", body: `{"name":" build ","description":"d"}`, wantStatus: 201, wantName: "build"},
		{name: "create with charset", method: "POST", path: "/api/v1/items", body: `{"name":"x"}`, contentType: "application/json; charset=utf-8", wantStatus: 201, wantName: "x"},
		{name: "create without name", method: "POST", path: "/api/v1/items", body: `{"description":"d"}`, wantStatus: 400,
			wantError: "name is required", wantFields: map[string]string{"name": "is required"}},
		{name: "create with blank name", method: "POST", path: "/api/v1/items", body: `{"name":"   "}`, wantStatus: 400,
			wantFields: map[string]string{"name": "is required"}},
		{name: "create with long name", method: "POST", path: "/api/v1/items", body: `{"name":"` + long + `"}`, wantStatus: 400,
			wantFields: map[string]string{"name": "must be at most 100 characters"}},
		{name: "create with unknown field", method: "POST", path: "/api/v1/items", body: `{"name":"a","owner":"b"}`, wantStatus: 400, wantError: `unknown field "owner"`},
		{name: "create with wrong type", method: "POST", path: "/api/v1/items", body: `{"name":5}`, wantStatus: 400, wantError: `field "name" must be a string`},
		{name: "create with array body", method: "POST", path: "/api/v1/items", body: `[]`, wantStatus: 400, wantError: "must be a JSON object"},
		{name: "create with bad JSON", method: "POST", path: "/api/v1/items", body: `{"name":`, wantStatus: 400, wantError: "not valid JSON"},
		{name: "create with empty body", method: "POST", path: "/api/v1/items", body: ``, contentType: "application/json", wantStatus: 400, wantError: "empty"},
		{name: "create with two objects", method: "POST", path: "/api/v1/items", body: `{"name":"a"}{"name":"b"}`, wantStatus: 400, wantError: "single JSON object"},
		{name: "create as form", method: "POST", path: "/api/v1/items", body: `name=a`, contentType: "application/x-www-form-urlencoded", wantStatus: 415, wantError: "application/json"},
		{name: "create too large", method: "POST", path: "/api/v1/items", body: `{"name":"` + strings.Repeat("a", maxBodyBytes) + `"}`, wantStatus: 413, wantError: "larger than"},
		{name: "replace", method: "PUT", path: "/api/v1/items/{id}", body: `{"name":"renamed"}`, wantStatus: 200, wantName: "renamed"},
		{name: "replace unknown", method: "PUT", path: "/api/v1/items/nope", body: `{"name":"renamed"}`, wantStatus: 404, wantError: "item not found"},
		{name: "replace invalid", method: "PUT", path: "/api/v1/items/{id}", body: `{"name":""}`, wantStatus: 400, wantFields: map[string]string{"name": "is required"}},
		{name: "delete", method: "DELETE", path: "/api/v1/items/{id}", wantStatus: 204},
		{name: "delete unknown", method: "DELETE", path: "/api/v1/items/nope", wantStatus: 404, wantError: "item not found"},
		{name: "list bad limit", method: "GET", path: "/api/v1/items?limit=0", wantStatus: 400, wantError: "limit"},
		{name: "list limit over max", method: "GET", path: "/api/v1/items?limit=101", wantStatus: 400, wantError: "limit"},
		{name: "list limit not a number", method: "GET", path: "/api/v1/items?limit=ten", wantStatus: 400, wantError: "limit"},
		{name: "list bad cursor", method: "GET", path: "/api/v1/items?cursor=zzz", wantStatus: 400, wantError: "invalid cursor"},
		{name: "collection wrong method", method: "DELETE", path: "/api/v1/items", wantStatus: 405, wantError: "method not allowed", wantAllow: "GET, HEAD, POST"},
		{name: "item wrong method", method: "POST", path: "/api/v1/items/{id}", wantStatus: 405, wantError: "method not allowed", wantAllow: "GET, HEAD, PUT, DELETE"},
		{name: "unknown path", method: "GET", path: "/api/v2/items", wantStatus: 404, wantError: "not found"},
	}
	forEachStore(t, func(t *testing.T, store Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { tt.run(t, store) })
		}
	})
}

func (tt apiCase) run(t *testing.T, store Store) {
	seeded, err := store.Create(context.Background(), items.Input{Name: "seeded"})
	if err != nil {
		t.Fatal(err)
	}
	var body io.Reader
	if tt.body != "" || tt.contentType != "" {
		body = strings.NewReader(tt.body)
	}
	req := httptest.NewRequest(tt.method, strings.ReplaceAll(tt.path, "{id}", seeded.ID), body)
	if body != nil {
		ct := tt.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	rec := httptest.NewRecorder()
	New(store, Options{}).ServeHTTP(rec, req)

	if rec.Code != tt.wantStatus {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
	}
	if tt.wantAllow != "" && rec.Header().Get("Allow") != tt.wantAllow {
		t.Errorf("Allow = %q, want %q", rec.Header().Get("Allow"), tt.wantAllow)
	}
	if rec.Code == http.StatusNoContent {
		if rec.Body.Len() != 0 {
			t.Errorf("204 with body %q", rec.Body)
		}
		return
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	var got struct {
		Error  string            `json:"error"`
		Fields map[string]string `json:"fields"`
		Name   string            `json:"name"`
		ID     string            `json:"id"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body, err)
	}
	if tt.wantStatus >= 400 {
		if got.Error == "" || !strings.Contains(got.Error, tt.wantError) {
			t.Errorf("error = %q, want it to contain %q", got.Error, tt.wantError)
		}
		if tt.wantFields != nil && fmt.Sprint(got.Fields) != fmt.Sprint(tt.wantFields) {
			t.Errorf("fields = %v, want %v", got.Fields, tt.wantFields)
		}
	} else if got.Error != "" {
		t.Errorf("unexpected error %q", got.Error)
	}
	if tt.wantName != "" && got.Name != tt.wantName {
		t.Errorf("name = %q, want %q", got.Name, tt.wantName)
	}
	if tt.wantStatus == http.StatusCreated && rec.Header().Get("Location") != "/api/v1/items/"+got.ID {
		t.Errorf("Location = %q, want the new item's path", rec.Header().Get("Location"))
	}
}

func TestListFollowsCursorToTheEnd(t *testing.T) {
	forEachStore(t, testListFollowsCursorToTheEnd)
}

func testListFollowsCursorToTheEnd(t *testing.T, store Store) {
	for i := range 5 {
		if _, err := store.Create(context.Background(), items.Input{Name: fmt.Sprintf("item %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	h := New(store, Options{})
	var names []string
	path := "/api/v1/items?limit=2"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("pagination did not end")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body)
		}
		var page items.Page
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			names = append(names, it.Name)
		}
		path = ""
		if page.Next != "" {
			path = "/api/v1/items?limit=2&cursor=" + page.Next
		}
	}
	if got := strings.Join(names, ","); got != "item 0,item 1,item 2,item 3,item 4" {
		t.Fatalf("listed %s", got)
	}
}

func TestEmptyListIsAnArray(t *testing.T) {
	forEachStore(t, func(t *testing.T, store Store) {
		rec := httptest.NewRecorder()
		New(store, Options{}).ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/items", nil))
		if got := strings.TrimSpace(rec.Body.String()); got != `{"items":[]}` {
			t.Fatalf("body = %s", got)
		}
	})
}

// failingStore fails every call, to check how unexpected errors are answered.
type failingStore struct{ *items.Memory }

var errDisk = errors.New("disk on fire: secret-path")

func (failingStore) List(context.Context, items.ListOptions) (items.Page, error) {
	return items.Page{}, errDisk
}

func TestUnexpectedStoreErrorIsLoggedNotShown(t *testing.T) {
	var logs bytes.Buffer
	h := New(failingStore{items.NewMemory()}, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/items", nil))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "disk") {
		t.Fatalf("got %d %s, want a 500 without the cause", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "list items") || !strings.Contains(logs.String(), "disk on fire") {
		t.Fatalf("log does not say what failed: %s", logs.String())
	}
}

// Run with -race: many clients creating, replacing and deleting at once over
// real HTTP must neither race nor lose items.
func TestConcurrentWritesOverHTTP(t *testing.T) {
	forEachStore(t, testConcurrentWritesOverHTTP)
}

func testConcurrentWritesOverHTTP(t *testing.T, store Store) {
	srv := httptest.NewServer(New(store, Options{}))
	t.Cleanup(srv.Close)

	const clients, perClient = 8, 24
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Go(func() {
			for i := range perClient {
				if err := createReplaceMaybeDelete(srv.URL, fmt.Sprintf("c%d-%d", c, i), i%2 == 0); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	page, err := store.List(context.Background(), items.ListOptions{Limit: clients * perClient})
	if err != nil {
		t.Fatal(err)
	}
	if want := clients * perClient / 2; len(page.Items) != want {
		t.Fatalf("store holds %d items, want %d", len(page.Items), want)
	}
	for _, it := range page.Items {
		if !strings.HasSuffix(it.Name, "!") {
			t.Fatalf("item %q missed its replace", it.Name)
		}
	}
}

func createReplaceMaybeDelete(base, name string, del bool) error {
	resp, err := http.Post(base+"/api/v1/items", "application/json", strings.NewReader(`{"name":"`+name+`"}`))
	if err != nil {
		return err
	}
	var it items.Item
	err = json.NewDecoder(resp.Body).Decode(&it)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("create %s: status %d, %v", name, resp.StatusCode, err)
	}
	if err := send(http.MethodPut, base+"/api/v1/items/"+it.ID, `{"name":"`+name+`!"}`, http.StatusOK); err != nil {
		return err
	}
	if del {
		return send(http.MethodDelete, base+"/api/v1/items/"+it.ID, "", http.StatusNoContent)
	}
	return nil
}

func send(method, url, body string, want int) error {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d", method, url, resp.StatusCode, want)
	}
	return nil
}
