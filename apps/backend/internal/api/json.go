package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// maxBodyBytes bounds a request body; an item is far smaller.
const maxBodyBytes = 64 << 10

// errorBody is every error response: {"error": "...", "fields": {...}}.
type errorBody struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

// requestError is a client mistake in a request, answered with its status.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// The status line is gone already; an encoding error here can only be a
	// client that went away, which the request log shows.
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// decodeJSON reads exactly one JSON object into dst, refusing other content
// types (which also keeps cross-site HTML forms out without a preflight),
// unknown fields, oversized bodies and trailing data.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		return &requestError{http.StatusUnsupportedMediaType, "Content-Type must be application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return &requestError{http.StatusBadRequest, "request body must hold a single JSON object"}
	}
	return nil
}

func decodeError(err error) error {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		tooBig    *http.MaxBytesError
	)
	switch {
	case errors.As(err, &tooBig):
		return &requestError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit)}
	case errors.Is(err, io.EOF):
		return &requestError{http.StatusBadRequest, "request body is empty"}
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return &requestError{http.StatusBadRequest, "request body is not valid JSON"}
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return &requestError{http.StatusBadRequest, "request body must be a JSON object"}
		}
		return &requestError{http.StatusBadRequest, fmt.Sprintf("field %q must be a %s", typeErr.Field, typeErr.Type)}
	default:
		// encoding/json has no typed error for unknown fields; its message,
		// `json: unknown field "x"`, is safe to pass on without the prefix.
		return &requestError{http.StatusBadRequest, trimJSONPrefix(err.Error())}
	}
}

func trimJSONPrefix(s string) string {
	const prefix = "json: "
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	return s
}
