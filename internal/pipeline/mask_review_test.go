package pipeline

import (
	"context"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/redact"
)

// Credentials in a URL's userinfo are redacted out of stage logs even when they are not configured secrets:
// Terraform echoes module sources (git::https://user:token@host/...), package managers echo registry URLs.
func TestLogWriterMasksURLUserinfo(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
		leak   string
	}{
		{"password", []string{"Downloading git::https://oauth2:glpat-Zx9yW8vU7t@gitlab.example.com/mods/net.git?ref=v1 for net...\n"},
			"Downloading git::https://[redacted: url-credentials]@gitlab.example.com/mods/net.git?ref=v1 for net...", "glpat-Zx9yW8vU7t"},
		{"token as the user name", []string{"fetch https://ghp_AbCdEfGhIjKlMnOpQrSt@github.com/o/r.git\n"},
			"fetch https://[redacted: github-token]@github.com/o/r.git", "ghp_AbCdEfGhIjKlMnOpQrSt"},
		{"split across writes", []string{"npm ERR! GET https://ci:npm-s3cr", "et-value@registry.example.com/pkg\n"},
			"npm ERR! GET https://[redacted: url-credentials]@registry.example.com/pkg", "npm-s3cret-value"},
		{"an e-mail address is not a URL", []string{"author: dev@example.com see https://example.com/a@b\n"},
			"author: dev@example.com see https://example.com/a@b", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := &memSink{}
			lw := newLogWriter(sink, 1, redact.New(), 3)
			for _, w := range tc.writes {
				if _, err := lw.Write([]byte(w)); err != nil {
					t.Fatal(err)
				}
			}
			lw.Close(context.Background())
			if got := strings.Join(sink.lines, "|"); got != tc.want {
				t.Fatalf("stored %q, want %q", got, tc.want)
			}
			for _, l := range append(sink.lines, lw.Tail()...) {
				if tc.leak != "" && strings.Contains(l, tc.leak) {
					t.Fatalf("credential leaked: %q", l)
				}
			}
		})
	}
}
