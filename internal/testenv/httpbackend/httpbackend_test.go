package httpbackend

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

func do(t *testing.T, method, url string, body any) (int, LockInfo) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info LockInfo
	_ = json.NewDecoder(resp.Body).Decode(&info)
	return resp.StatusCode, info
}

func TestLocking(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u := s.URL() + "/dev/lock"
	a := LockInfo{ID: "a", Who: "sandbox@rs1a1-x"}
	b := LockInfo{ID: "b", Who: "dana@laptop"}
	steps := []struct {
		name       string
		method     string
		body       any
		wantStatus int
		wantHolder string // the ID in the answer's body
		wantHeld   string // the lock held afterwards
	}{
		{"lock a free state", "LOCK", a, 200, "", "a"},
		{"a second lock gets the holder", "LOCK", b, 423, "a", "a"},
		{"unlock with the wrong id fails", "UNLOCK", b, 409, "a", "a"},
		{"the holder unlocks", "UNLOCK", a, 200, "", ""},
		{"lock again", "LOCK", b, 200, "", "b"},
		{"a forced unlock releases any lock", "UNLOCK", nil, 200, "", ""},
	}
	for _, st := range steps {
		status, info := do(t, st.method, u, st.body)
		held, _ := s.Lock("dev")
		if status != st.wantStatus || info.ID != st.wantHolder || held.ID != st.wantHeld {
			t.Fatalf("%s: status %d, holder %q, held %q; want %d, %q, %q", st.name, status, info.ID, held.ID,
				st.wantStatus, st.wantHolder, st.wantHeld)
		}
	}
	h := s.History()
	if len(h) != 6 || !h[5].Forced || h[5].Released != "b" || h[3].Released != "a" || h[2].Released != "" {
		t.Fatalf("history = %+v", h)
	}
	// State writes of a locked state need the lock's ID.
	s.Hold("dev", a)
	if status, _ := do(t, http.MethodPost, s.URL()+"/dev?ID=b", map[string]int{"version": 4}); status != http.StatusLocked {
		t.Fatalf("write with another lock's id: %d", status)
	}
	if status, _ := do(t, http.MethodPost, s.URL()+"/dev?ID=a", map[string]int{"version": 4}); status != http.StatusOK {
		t.Fatalf("write by the holder: %d", status)
	}
	if got := s.State("dev"); !bytes.Contains(got, []byte(`"version":4`)) {
		t.Fatalf("state = %s", got)
	}
}
