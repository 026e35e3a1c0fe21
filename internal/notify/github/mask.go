package github

import (
	"regexp"
	"slices"
	"strings"
)

// tokenPatterns find credentials the masker was not told about: GitHub tokens (classic, fine-grained,
// installation), JWTs, bearer headers and PEM private keys.
var tokenPatterns = []*regexp.Regexp{
	regexp.MustCompile(`gh[pousr]_[A-Za-z0-9_]{16,}`),
	regexp.MustCompile(`github_pat_[A-Za-z0-9_]{20,}`),
	regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+`),
	regexp.MustCompile(`(?i)((?:bearer|token)\s+)[A-Za-z0-9._~+/=-]{20,}`),
	regexp.MustCompile(`(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----`),
}

// urlUserinfo finds credentials in a URL (https://user:password@host): request URLs carry the API URL's, and
// errors quote request URLs.
var urlUserinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@`)

const redacted = "*****"

// masker removes secrets from text before it is returned, logged or posted.
type masker struct {
	secrets []string // longest first, so a secret containing another is masked whole
}

func newMasker(secrets ...string) *masker {
	m := &masker{}
	for _, s := range secrets {
		if s = strings.TrimSpace(s); len(s) >= 4 && !slices.Contains(m.secrets, s) {
			m.secrets = append(m.secrets, s)
		}
	}
	slices.SortFunc(m.secrets, func(a, b string) int { return len(b) - len(a) })
	return m
}

func (m *masker) String(s string) string {
	for _, sec := range m.secrets {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	s = urlUserinfo.ReplaceAllString(s, "${1}"+redacted+"@")
	for _, re := range tokenPatterns {
		if re.NumSubexp() > 0 {
			s = re.ReplaceAllString(s, "${1}"+redacted)
		} else {
			s = re.ReplaceAllString(s, redacted)
		}
	}
	return s
}

// Err masks err's text and keeps it unwrappable, so callers can still branch on go-github's error types.
func (m *masker) Err(err error) error {
	if err == nil {
		return nil
	}
	return &maskedError{msg: m.String(err.Error()), err: err}
}

type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.err }
