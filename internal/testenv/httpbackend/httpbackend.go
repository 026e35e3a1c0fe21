// Package httpbackend is a Terraform "http" state backend on 127.0.0.1 for tests: state by GET and
// POST, locking by LOCK and UNLOCK, and a history of every lock operation so that tests can tell who
// locked and who released which lock.
//
// Locking follows what Terraform's http backend expects: LOCK takes a free lock (200) or answers 423
// with the current holder's lock info; UNLOCK with a lock info releases only the lock of that ID (409
// otherwise); UNLOCK without a body is a forced unlock, as `terraform force-unlock` sends it (Terraform
// 1.5's http client sends no lock ID with it), and releases whatever is held.
package httpbackend

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// LockInfo is Terraform's lock info (statemgr.LockInfo) as it travels in JSON.
type LockInfo struct {
	ID        string    `json:"ID"`
	Operation string    `json:"Operation"`
	Info      string    `json:"Info"`
	Who       string    `json:"Who"`
	Version   string    `json:"Version"`
	Created   time.Time `json:"Created"`
	Path      string    `json:"Path"`
}

// Event is one lock operation the backend answered.
type Event struct {
	Method string // LOCK or UNLOCK
	State  string
	Lock   LockInfo // what the request carried (empty for a forced UNLOCK)
	Forced bool     // an UNLOCK without a lock info
	// Released is the ID of the lock an UNLOCK released ("" when none was).
	Released string
	Status   int
	At       time.Time
}

// Server serves the states /<name>, locked at /<name>/lock.
type Server struct {
	srv *httptest.Server

	mu      sync.Mutex
	states  map[string][]byte
	locks   map[string]LockInfo
	history []Event
}

// Start serves on a free port of 127.0.0.1 until Close.
func Start() (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{states: map[string][]byte{}, locks: map[string]LockInfo{}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Start()
	return s, nil
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Backend is the backend block of a Terraform configuration keeping state name here.
func (s *Server) Backend(name string) string {
	u := s.URL() + "/" + name
	return `terraform {
  backend "http" {
    address        = "` + u + `"
    lock_address   = "` + u + `/lock"
    unlock_address = "` + u + `/lock"
    retry_max      = 0
  }
}
`
}

// Hold takes the lock of state name as someone else would (a person's Terraform on a laptop).
func (s *Server) Hold(name string, info LockInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.locks[name] = info
}

// Lock returns the lock held on state name.
func (s *Server) Lock(name string) (LockInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.locks[name]
	return l, ok
}

// State returns the stored state of name.
func (s *Server) State(name string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states[name]
}

// History returns the lock operations answered so far, oldest first.
func (s *Server) History() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.history...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.Trim(r.URL.Path, "/")
	name, lock := strings.CutSuffix(path, "/lock")
	if name == "" || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case lock && r.Method == "LOCK":
		s.lock(w, name, body)
	case lock && r.Method == "UNLOCK":
		s.unlock(w, name, body)
	case !lock && r.Method == http.MethodGet:
		st, ok := s.states[name]
		if !ok {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		_, _ = w.Write(st)
	case !lock && r.Method == http.MethodPost:
		// A locked state is written only by its holder (Terraform passes the lock ID as ?ID=).
		if held, ok := s.locks[name]; ok && r.URL.Query().Get("ID") != held.ID {
			writeLock(w, http.StatusLocked, held)
			return
		}
		s.states[name] = body
	case !lock && r.Method == http.MethodDelete:
		delete(s.states, name)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *Server) lock(w http.ResponseWriter, name string, body []byte) {
	var info LockInfo
	if err := json.Unmarshal(body, &info); err != nil || info.ID == "" {
		http.Error(w, "a lock needs its lock info", http.StatusBadRequest)
		return
	}
	ev := Event{Method: "LOCK", State: name, Lock: info, At: time.Now()}
	if held, ok := s.locks[name]; ok {
		ev.Status = http.StatusLocked
		s.history = append(s.history, ev)
		writeLock(w, http.StatusLocked, held)
		return
	}
	s.locks[name] = info
	ev.Status = http.StatusOK
	s.history = append(s.history, ev)
}

func (s *Server) unlock(w http.ResponseWriter, name string, body []byte) {
	ev := Event{Method: "UNLOCK", State: name, At: time.Now()}
	if len(strings.TrimSpace(string(body))) == 0 {
		ev.Forced = true
	} else if err := json.Unmarshal(body, &ev.Lock); err != nil {
		http.Error(w, "unlock: "+err.Error(), http.StatusBadRequest)
		return
	}
	held, ok := s.locks[name]
	if ok && !ev.Forced && ev.Lock.ID != held.ID {
		ev.Status = http.StatusConflict
		s.history = append(s.history, ev)
		writeLock(w, http.StatusConflict, held)
		return
	}
	if ok {
		ev.Released = held.ID
		delete(s.locks, name)
	}
	ev.Status = http.StatusOK
	s.history = append(s.history, ev)
}

func writeLock(w http.ResponseWriter, status int, info LockInfo) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(info)
}
