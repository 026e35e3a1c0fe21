// Package ghwebhook sends webhook deliveries the way GitHub does: JSON body,
// X-GitHub-Event, a unique X-GitHub-Delivery and an X-Hub-Signature-256 HMAC.
// Tests, benchmarks and `runner demo` use it to talk to `runner serve`.
package ghwebhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// Signature is the X-Hub-Signature-256 value of body under secret.
func Signature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Sender posts signed deliveries to a runner's /webhooks/github.
type Sender struct {
	URL    string // the runner's base URL
	Secret string
	Client *http.Client // default http.DefaultClient

	n atomic.Int64
}

// Reply is the runner's answer to a delivery.
type Reply struct {
	Status    int
	Run       int64  `json:"run"`
	Duplicate bool   `json:"duplicate"`
	Replay    bool   `json:"replay"` // a duplicate by content under a new delivery id
	Ignored   string `json:"ignored"`
	Error     string `json:"error"`
}

// NewDeliveryID returns a delivery id unique within this sender.
func (s *Sender) NewDeliveryID() string {
	return fmt.Sprintf("delivery-%d-%d", time.Now().UnixNano(), s.n.Add(1))
}

// Send marshals payload and delivers it as event with a new delivery id.
func (s *Sender) Send(ctx context.Context, event string, payload any) (Reply, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return Reply{}, fmt.Errorf("encode %s payload: %w", event, err)
	}
	return s.SendRaw(ctx, event, s.NewDeliveryID(), body)
}

// SendRaw delivers body as event under the given delivery id.
func (s *Sender) SendRaw(ctx context.Context, event, delivery string, body []byte) (Reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/webhooks/github", bytes.NewReader(body))
	if err != nil {
		return Reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/test")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", Signature(s.Secret, body))
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return Reply{}, fmt.Errorf("deliver %s: %w", event, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return Reply{}, fmt.Errorf("read reply to %s: %w", event, err)
	}
	r := Reply{Status: resp.StatusCode}
	_ = json.Unmarshal(raw, &r)
	return r, nil
}
