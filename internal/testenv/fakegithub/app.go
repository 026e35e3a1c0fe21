package fakegithub

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// accessToken mints an installation token for a JWT signed by the registered App key.
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request, installation string) int {
	id, err := strconv.ParseInt(installation, 10, 64)
	s.mu.Lock()
	a, ok := s.apps[id]
	now := s.now()
	s.mu.Unlock()
	if err != nil || !ok {
		return writeError(w, http.StatusNotFound, "Not Found")
	}
	jwt, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found {
		return writeError(w, http.StatusUnauthorized, "A JSON web token could not be decoded")
	}
	if err := verifyJWT(jwt, a, now); err != nil {
		return writeError(w, http.StatusUnauthorized, err.Error())
	}
	var b [20]byte
	_, _ = rand.Read(b[:])
	token := "ghs_" + hex.EncodeToString(b[:])
	s.mu.Lock()
	s.tokens[token] = true
	s.appOf[token] = a.id
	s.issued = append(s.issued, token)
	s.mu.Unlock()
	return writeJSON(w, http.StatusCreated, map[string]any{
		"token":                token,
		"expires_at":           timestamp(now.Add(time.Hour)),
		"permissions":          map[string]string{"issues": "write", "pull_requests": "write", "statuses": "write", "deployments": "write", "checks": "write"},
		"repository_selection": "all",
	})
}

// getApp answers GET /app to a JWT that a registered App signed: the App itself, with its slug (Config.AppSlug).
func (s *Server) getApp(w http.ResponseWriter, r *http.Request) int {
	jwt, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	iss, ok := jwtIssuer(jwt)
	if !found || !ok {
		return writeError(w, http.StatusUnauthorized, "A JSON web token could not be decoded")
	}
	s.mu.Lock()
	var a app
	registered := false
	for _, reg := range s.apps {
		if reg.id == iss {
			a, registered = reg, true
		}
	}
	now, slug := s.now(), s.slug
	s.mu.Unlock()
	if !registered {
		return writeError(w, http.StatusUnauthorized, "A JSON web token could not be decoded")
	}
	if err := verifyJWT(jwt, a, now); err != nil {
		return writeError(w, http.StatusUnauthorized, err.Error())
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"id": a.id, "slug": slug, "node_id": "A_" + strconv.FormatInt(a.id, 10), "name": slug,
		"owner":       map[string]any{"login": "fake-org", "id": 1, "type": "Organization"},
		"html_url":    "https://github.example/apps/" + slug,
		"permissions": map[string]string{"issues": "write", "pull_requests": "write", "statuses": "write", "deployments": "write", "checks": "write"},
		"events":      []string{}, "created_at": timestamp(now), "updated_at": timestamp(now),
	})
}

// jwtIssuer reads a JWT's iss claim (an App id) without checking the signature.
func jwtIssuer(token string) (int64, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return 0, false
	}
	var claims struct {
		Iss json.RawMessage `json:"iss"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return 0, false
	}
	id, err := strconv.ParseInt(strings.Trim(string(claims.Iss), `"`), 10, 64)
	return id, err == nil
}

// verifyJWT checks what GitHub checks: RS256 signature by the App's key, iss = App id, iat/exp sane.
func verifyJWT(token string, a app, now time.Time) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("A JSON web token could not be decoded")
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &header); err != nil || header.Alg != "RS256" {
		return errors.New("A JSON web token could not be decoded")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return errors.New("A JSON web token could not be decoded")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(a.pub, crypto.SHA256, digest[:], sig); err != nil {
		return errors.New("A JSON web token could not be decoded")
	}
	var claims struct {
		Iss json.RawMessage `json:"iss"`
		Iat int64           `json:"iat"`
		Exp int64           `json:"exp"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return errors.New("A JSON web token could not be decoded")
	}
	if strings.Trim(string(claims.Iss), `"`) != strconv.FormatInt(a.id, 10) {
		return fmt.Errorf("'Issuer' claim ('iss') must be an Integer")
	}
	if claims.Exp <= now.Unix() {
		return errors.New("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	}
	if claims.Iat > now.Unix()+60 || claims.Exp-claims.Iat > 600 {
		return errors.New("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued")
	}
	return nil
}

func decodeSegment(seg string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}
