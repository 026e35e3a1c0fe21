// Package fakeslack is an in-process stand-in for Slack's chat.postMessage, chat.update and usergroups.users.list
// Web API methods, an incoming webhook and an interaction's response_url, answering the real slack-go client as
// Slack does and keeping what it was sent for assertions. It also signs interaction payloads as Slack does.
package fakeslack

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WebhookPath is where the incoming webhook listens.
const WebhookPath = "/services/T0000/B0000/fakewebhooksecret"

// Config says what the fake accepts.
type Config struct {
	Token string // bot token accepted as "Authorization: Bearer" or a "token" form field; empty accepts any
}

// Message is a message as Slack keeps it.
type Message struct {
	Channel  string // channel ID
	TS       string
	ThreadTS string // set on thread replies
	Text     string
	Blocks   json.RawMessage
	Edits    int  // chat.update calls that changed it
	Webhook  bool // posted through the incoming webhook
}

// BlockText is every "text" string inside the message's blocks, joined by newlines: enough to assert content.
func (m Message) BlockText() string {
	var v any
	if err := json.Unmarshal(m.Blocks, &v); err != nil {
		return ""
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				out = append(out, s)
			}
			for k, e := range x {
				if k != "text" || !isString(e) {
					walk(e)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return strings.Join(out, "\n")
}

func isString(v any) bool { _, ok := v.(string); return ok }

// Failure is an injected answer instead of serving a request.
type Failure struct {
	Status     int           // 500, 502, 503 or 429
	RetryAfter time.Duration // sent as Retry-After in whole seconds with a 429
}

// Call is one request the fake answered.
type Call struct {
	Path   string
	Status int
	At     time.Time
}

// Server is a running fake, safe for concurrent use.
type Server struct {
	srv   *httptest.Server
	token string

	mu        sync.Mutex
	messages  []*Message
	channels  map[string]string // name -> ID
	seq       int
	failNext  []Failure
	down      *Failure
	calls     []Call
	groups    map[string][]string // user group ID -> member user IDs
	responses []Response
}

// New starts a fake on 127.0.0.1. Close it when done.
func New(cfg Config) *Server {
	s := &Server{token: cfg.Token, channels: map[string]string{}, groups: map[string][]string{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// APIURL is the Web API root for slack.OptionAPIURL (with the trailing slash slack-go expects).
func (s *Server) APIURL() string { return s.srv.URL + "/api/" }

// WebhookURL is the incoming webhook's URL.
func (s *Server) WebhookURL() string { return s.srv.URL + WebhookPath }

// HTTPClient is a client for the fake's listener.
func (s *Server) HTTPClient() *http.Client { return s.srv.Client() }

// FailNext makes the next n requests answer with f.
func (s *Server) FailNext(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, f)
	}
}

// Down makes every request answer with f until Up.
func (s *Server) Down(f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = &f
}

// Up ends Down.
func (s *Server) Up() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = nil
}

// Messages returns the top-level messages in the order they were posted.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.ThreadTS == "" {
			out = append(out, *m)
		}
	}
	return out
}

// Thread returns the replies to the message ts, oldest first.
func (s *Server) Thread(ts string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.ThreadTS == ts {
			out = append(out, *m)
		}
	}
	return out
}

// Calls returns every request answered so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	status := http.StatusOK
	defer func() {
		s.mu.Lock()
		s.calls = append(s.calls, Call{Path: r.URL.Path, Status: status, At: time.Now()})
		s.mu.Unlock()
	}()
	if f, ok := s.failure(); ok {
		status = f.write(w)
		return
	}
	if r.Method != http.MethodPost {
		status = http.StatusMethodNotAllowed
		w.WriteHeader(status)
		return
	}
	switch r.URL.Path {
	case WebhookPath:
		status = s.webhook(w, r)
	case "/api/chat.postMessage":
		s.chat(w, r, false)
	case "/api/chat.update":
		s.chat(w, r, true)
	case "/api/usergroups.users.list":
		s.userGroupMembers(w, r)
	case ResponsePath:
		status = s.response(w, r)
	default:
		status = http.StatusNotFound
		http.Error(w, "not found", status)
	}
}

func (s *Server) failure() (Failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failNext) > 0 {
		f := s.failNext[0]
		s.failNext = s.failNext[1:]
		return f, true
	}
	if s.down != nil {
		return *s.down, true
	}
	return Failure{}, false
}

func (f Failure) write(w http.ResponseWriter) int {
	if f.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter/time.Second)))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, `{"ok":false,"error":"ratelimited"}`)
		return f.Status
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(f.Status)
	_, _ = fmt.Fprintf(w, "<html><body>%d %s</body></html>", f.Status, http.StatusText(f.Status))
	return f.Status
}

// chatArgs are the fields of chat.postMessage / chat.update, from a form or a JSON body.
type chatArgs struct {
	token, channel, text, ts, threadTS string
	blocks                             json.RawMessage
}

func parseChat(r *http.Request) (chatArgs, error) {
	var a chatArgs
	a.token, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var body struct {
			Channel  string          `json:"channel"`
			Text     string          `json:"text"`
			TS       string          `json:"ts"`
			ThreadTS string          `json:"thread_ts"`
			Blocks   json.RawMessage `json:"blocks"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return a, err
		}
		a.channel, a.text, a.ts, a.threadTS, a.blocks = body.Channel, body.Text, body.TS, body.ThreadTS, body.Blocks
		return a, nil
	}
	if err := r.ParseForm(); err != nil {
		return a, err
	}
	f := r.PostForm
	if a.token == "" {
		a.token = f.Get("token")
	}
	a.channel, a.text, a.ts, a.threadTS = f.Get("channel"), f.Get("text"), f.Get("ts"), f.Get("thread_ts")
	if b := f.Get("blocks"); b != "" {
		if !json.Valid([]byte(b)) {
			return a, fmt.Errorf("invalid_blocks")
		}
		a.blocks = json.RawMessage(b)
	}
	return a, nil
}

func slackError(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": code})
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request, update bool) {
	a, err := parseChat(r)
	switch {
	case err != nil:
		slackError(w, "invalid_arguments")
		return
	case a.token == "":
		slackError(w, "not_authed")
		return
	case s.token != "" && a.token != s.token:
		slackError(w, "invalid_auth")
		return
	case a.channel == "":
		slackError(w, "channel_not_found")
		return
	case a.text == "" && len(a.blocks) == 0:
		slackError(w, "no_text")
		return
	case checkBlocks(a.blocks) != nil:
		slackError(w, "invalid_blocks")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	channel := s.channelID(a.channel, update)
	if channel == "" {
		slackError(w, "channel_not_found")
		return
	}
	var m *Message
	if update {
		m = s.find(channel, a.ts)
		if m == nil {
			slackError(w, "message_not_found")
			return
		}
		m.Text, m.Blocks = a.text, a.blocks
		m.Edits++
	} else {
		if a.threadTS != "" && s.find(channel, a.threadTS) == nil {
			slackError(w, "thread_not_found")
			return
		}
		s.seq++
		m = &Message{Channel: channel, TS: fmt.Sprintf("%d.%06d", 1700000000+s.seq, s.seq), ThreadTS: a.threadTS, Text: a.text, Blocks: a.blocks}
		s.messages = append(s.messages, m)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text,
		"message": map[string]any{"type": "message", "text": m.Text, "ts": m.TS, "thread_ts": m.ThreadTS, "blocks": m.Blocks, "bot_id": "B0FAKE"},
	})
}

// channelID resolves a channel name ("#deploys" or "deploys") or ID to an ID, creating it on first post as if the
// bot had been invited. chat.update, like Slack, wants an ID it has seen.
func (s *Server) channelID(ch string, update bool) string {
	if update {
		for _, id := range s.channels {
			if id == ch {
				return id
			}
		}
		return ""
	}
	name := strings.TrimPrefix(ch, "#")
	if id, ok := s.channels[name]; ok {
		return id
	}
	for _, id := range s.channels {
		if id == ch {
			return id
		}
	}
	id := fmt.Sprintf("C%08d", len(s.channels)+1)
	s.channels[name] = id
	return id
}

func (s *Server) find(channel, ts string) *Message {
	for _, m := range s.messages {
		if m.Channel == channel && m.TS == ts {
			return m
		}
	}
	return nil
}

// webhook accepts an incoming-webhook JSON payload and answers "ok" in plain text, as Slack does.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) int {
	var body struct {
		Text     string          `json:"text"`
		Blocks   json.RawMessage `json:"blocks"`
		ThreadTS string          `json:"thread_ts"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return http.StatusBadRequest
	}
	if body.Text == "" && (len(body.Blocks) == 0 || string(body.Blocks) == "null") {
		http.Error(w, "no_text", http.StatusBadRequest)
		return http.StatusBadRequest
	}
	if checkBlocks(body.Blocks) != nil {
		http.Error(w, "invalid_blocks", http.StatusBadRequest)
		return http.StatusBadRequest
	}
	s.mu.Lock()
	s.seq++
	// An incoming webhook posts to the channel it was created for and cannot thread or update.
	s.messages = append(s.messages, &Message{Channel: "CWEBHOOK", TS: fmt.Sprintf("%d.%06d", 1700000000+s.seq, s.seq),
		Text: body.Text, Blocks: body.Blocks, Webhook: true})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok")
	return http.StatusOK
}
