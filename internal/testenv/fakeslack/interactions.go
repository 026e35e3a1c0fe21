package fakeslack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ResponsePath is where the fake's response_url listens.
const ResponsePath = "/actions/T0000FAKE/1/fakeresponsesecret"

// The workspace, channel and app interaction payloads come from.
const (
	TeamID    = "T0000FAKE"
	ChannelID = "C0000FAKE"
	AppID     = "A0000FAKE"
)

// Response is what was posted to the response_url.
type Response struct {
	ResponseType    string // "ephemeral" or "in_channel"
	ReplaceOriginal bool
	Text            string
	Body            json.RawMessage // as posted
}

// ResponseURL is a response_url to put in interaction payloads; what is posted there is kept for Responses.
func (s *Server) ResponseURL() string { return s.srv.URL + ResponsePath }

// Responses returns what was posted to the response_url, in order.
func (s *Server) Responses() []Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Response(nil), s.responses...)
}

// response accepts a JSON message on the response_url, as Slack does.
func (s *Server) response(w http.ResponseWriter, r *http.Request) int {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var msg struct {
		ResponseType    string `json:"response_type"`
		ReplaceOriginal bool   `json:"replace_original"`
		Text            string `json:"text"`
	}
	if err != nil || json.Unmarshal(body, &msg) != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return http.StatusBadRequest
	}
	if msg.Text == "" {
		http.Error(w, "no_text", http.StatusBadRequest)
		return http.StatusBadRequest
	}
	s.mu.Lock()
	s.responses = append(s.responses, Response{ResponseType: msg.ResponseType, ReplaceOriginal: msg.ReplaceOriginal, Text: msg.Text, Body: body})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
	return http.StatusOK
}

// SignedInteraction is a delivery to an interactivity Request URL as Slack makes it at the time at: payload
// form-encoded as the "payload" field, with X-Slack-Request-Timestamp and the v0 X-Slack-Signature over
// "v0:<timestamp>:<body>" keyed with the app's signing secret.
func SignedInteraction(secret string, payload []byte, at time.Time) (body []byte, headers http.Header) {
	body = []byte(url.Values{"payload": {string(payload)}}.Encode())
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	headers = http.Header{}
	headers.Set("Content-Type", "application/x-www-form-urlencoded")
	headers.Set("X-Slack-Request-Timestamp", ts)
	headers.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return body, headers
}

// BlockActionPayload is the JSON Slack sends when userID clicks the button actionID (carrying value) in a
// message of the fake's channel. Each call is a new click, with its own action_ts and trigger_id.
func BlockActionPayload(userID, userName, actionID, value, responseURL string) []byte {
	now := time.Now()
	actionTS := fmt.Sprintf("%d.%06d", now.Unix(), rand.N(1000000))
	messageTS := "1700000001.000001"
	p := map[string]any{
		"type":       "block_actions",
		"user":       map[string]any{"id": userID, "username": userName, "name": userName, "team_id": TeamID},
		"api_app_id": AppID,
		"token":      "fakeverificationtoken", // Slack's deprecated verification token; the signature is what counts
		"container": map[string]any{
			"type": "message", "message_ts": messageTS, "channel_id": ChannelID, "is_ephemeral": false,
		},
		"trigger_id":            fmt.Sprintf("%d.%d.%x", now.Unix(), rand.N(1000000), rand.Uint64()),
		"team":                  map[string]any{"id": TeamID, "domain": "fake"},
		"enterprise":            nil,
		"is_enterprise_install": false,
		"channel":               map[string]any{"id": ChannelID, "name": "deploys"},
		"message": map[string]any{
			"type": "message", "subtype": "bot_message", "text": "Deploy", "ts": messageTS, "bot_id": "B0FAKE",
			"blocks": []any{},
		},
		"state":        map[string]any{"values": map[string]any{}},
		"response_url": responseURL,
		"actions": []any{map[string]any{
			"action_id": actionID,
			"block_id":  "fake_block",
			"text":      map[string]any{"type": "plain_text", "text": actionID, "emoji": true},
			"value":     value,
			"type":      "button",
			"action_ts": actionTS,
		}},
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("fakeslack: encode payload: %v", err)) // maps of strings: cannot happen
	}
	return b
}
