package sso

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Purposes bind a sealed value to what it is for: a login attempt's cookie is not a session.
const (
	purposeSession = "runner-sso-session-v1"
	purposeAttempt = "runner-sso-attempt-v1"
)

// maxCookie bounds a sealed value before it is decoded.
const maxCookie = 2048

// DeriveKey derives the cookie key from the API token. Deriving it (rather than drawing a random key
// at start) keeps sessions valid across restarts and across replicas sharing a database, and rotating
// RUNNER_API_TOKEN ends every session. The label keeps the key apart from the token itself: the key
// never equals anything a client presents.
func DeriveKey(apiToken string) []byte {
	m := hmac.New(sha256.New, []byte(apiToken))
	m.Write([]byte("gitops-runner sso cookie key v1"))
	return m.Sum(nil)
}

// sealed is a value with its expiry, as carried in a cookie.
type sealed struct {
	Exp  int64           `json:"exp"`
	Data json.RawMessage `json:"d"`
}

// seal encodes v with its expiry as base64url(JSON) "." base64url(HMAC-SHA256(purpose, payload)).
// The value is authenticated, not encrypted: it holds nothing secret to the browser that holds it.
func seal(key []byte, purpose string, v any, exp time.Time) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode cookie: %w", err)
	}
	payload, err := json.Marshal(sealed{Exp: exp.Unix(), Data: data})
	if err != nil {
		return "", fmt.Errorf("encode cookie: %w", err)
	}
	body := base64.RawURLEncoding.EncodeToString(payload)
	return body + "." + base64.RawURLEncoding.EncodeToString(mac(key, purpose, body)), nil
}

// open checks a sealed value's MAC and expiry and decodes it into v.
func open(key []byte, purpose, value string, now time.Time, v any) error {
	if len(value) > maxCookie {
		return errors.New("cookie too long")
	}
	body, sig, ok := strings.Cut(value, ".")
	if !ok {
		return errors.New("cookie is not body.signature")
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(key, purpose, body)) {
		return errors.New("cookie signature does not match")
	}
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return fmt.Errorf("decode cookie: %w", err)
	}
	var s sealed
	if err := json.Unmarshal(payload, &s); err != nil {
		return fmt.Errorf("decode cookie: %w", err)
	}
	if now.Unix() >= s.Exp {
		return errors.New("cookie expired")
	}
	if err := json.Unmarshal(s.Data, v); err != nil {
		return fmt.Errorf("decode cookie: %w", err)
	}
	return nil
}

func mac(key []byte, purpose, body string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(body))
	return m.Sum(nil)
}

// session is what a session cookie holds.
type session struct {
	Login string `json:"login"`
}

// newSession seals a session for login until exp.
func newSession(key []byte, login string, exp time.Time) (string, error) {
	return seal(key, purposeSession, session{Login: login}, exp)
}

// parseSession gives the login of a valid, unexpired session cookie value.
func parseSession(key []byte, value string, now time.Time) (string, error) {
	var s session
	if err := open(key, purposeSession, value, now, &s); err != nil {
		return "", err
	}
	if !loginPattern.MatchString(s.Login) {
		return "", errors.New("session login is not a GitHub login")
	}
	return s.Login, nil
}
