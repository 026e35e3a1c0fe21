package redact

import (
	"encoding/base64"
	"strings"
	"testing"
)

// leakable reports whether a configured value could show in redacted text other than by a leak: a value
// with a bracket, or one that is part of a marker's own text, can be formed by the markers.
func leakable(v string) bool {
	if strings.ContainsAny(v, "[]") {
		return false
	}
	for _, k := range []string{"secret", "secret-base64", KindAWSKeyID, KindAWSSecretKey, KindAWSSession, KindGitHubToken,
		KindSlackToken, KindSlackWebhook, KindPrivateKey, KindJWT, KindURLCredentials, KindBearer, KindAuthorization} {
		if strings.Contains(marker(k), v) {
			return false
		}
	}
	return true
}

// The output never carries a configured value, redacting it again changes nothing, and the Writer is as
// safe as String.
func FuzzRedact(f *testing.F) {
	for _, tc := range redactCases {
		f.Add(tc.in, configured)
	}
	f.Add("environ="+base64.StdEncoding.EncodeToString([]byte("xTOKEN="+configured+"\x00")), configured)
	f.Add("a "+configured[:9]+"\n  "+configured[9:]+" b", configured)
	f.Add("[redacted: secret] redacted", "redacted")
	f.Fuzz(func(t *testing.T, text, secret string) {
		r := New(Secret{Value: secret})
		out := r.String(text)
		if again := r.String(out); again != out {
			t.Fatalf("not idempotent:\n in %q\nout %q\nagain %q", text, out, again)
		}
		var w strings.Builder
		wr := r.Writer(&w)
		half := len(text) / 2
		_, _ = wr.Write([]byte(text[:half]))
		_, _ = wr.Write([]byte(text[half:]))
		if err := wr.Close(); err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(secret) {
			v := strings.TrimSpace(line)
			if len(v) < MinSecretLen || !leakable(v) {
				continue
			}
			if strings.Contains(out, v) {
				t.Fatalf("String leaks %q:\n in %q\nout %q", v, text, out)
			}
			if strings.Contains(w.String(), v) {
				t.Fatalf("Writer leaks %q:\n in %q\nout %q", v, text, w.String())
			}
		}
	})
}
