package proc_test

import (
	"slices"
	"testing"

	"github.com/gitops-runner/runner/internal/proc"
)

func TestInherit(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin", "HOME=/home/runner", "LC_ALL=C.UTF-8", "HTTPS_PROXY=http://proxy:3128", "SSL_CERT_FILE=/ca.pem",
		"AWS_SECRET_ACCESS_KEY=canary", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/canary",
		"GITHUB_TOKEN=canary", "RUNNER_WEBHOOK_SECRET=canary", "SLACK_BOT_TOKEN=canary",
		"TF_TOKEN_app_terraform_io=canary", "TF_VAR_db_password=canary",
		"GOPROXY=https://proxy.golang.org", "GOOGLE_APPLICATION_CREDENTIALS=/canary.json",
		"NPM_CONFIG_REGISTRY=https://registry.example.com", "malformed", "=nokey",
	}
	base := []string{"PATH=/usr/bin", "HOME=/home/runner", "LC_ALL=C.UTF-8", "HTTPS_PROXY=http://proxy:3128", "SSL_CERT_FILE=/ca.pem"}
	tests := []struct {
		name     string
		names    []string
		prefixes []string
		want     []string
	}{
		{name: "only what any program needs", want: base},
		{name: "named variables are added", names: []string{"GOPROXY"},
			want: append(slices.Clone(base), "GOPROXY=https://proxy.golang.org")},
		{name: "prefixes match the start of the name only", prefixes: []string{"NPM_CONFIG_", "CONFIG_"},
			want: append(slices.Clone(base), "NPM_CONFIG_REGISTRY=https://registry.example.com")},
		{name: "an empty prefix matches nothing", prefixes: []string{""}, want: base},
		{name: "a name is matched whole", names: []string{"GO", "AWS_SECRET"}, want: base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := proc.Inherit(environ, tt.names, tt.prefixes)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Inherit = %q\nwant      %q", got, tt.want)
			}
		})
	}
}
