package tf

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildCLIConfig(t *testing.T) {
	dir := t.TempDir()
	provider := filepath.Join(dir, "provider")
	if err := os.MkdirAll(provider, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		base      string
		wantIn    []string
		wantNotIn []string
		wantPaths []string
		wantErr   string
	}{
		{
			name:      "no operator configuration",
			wantIn:    []string{"disable_checkpoint = true", "filesystem_mirror", `path = "/cache"`, "direct {}"},
			wantPaths: []string{"/cache"},
		},
		{
			name:      "operator overrides a provider",
			base:      "provider_installation {\n  dev_overrides {\n    \"hashicorp/aws\" = \"" + provider + "\"\n  }\n  direct {}\n}\n",
			wantIn:    []string{"dev_overrides", "disable_checkpoint = true"},
			wantNotIn: []string{"filesystem_mirror"},
			wantPaths: []string{"/cache", provider},
		},
		{
			name:      "operator's own checkpoint setting is kept",
			base:      "disable_checkpoint = false\n",
			wantIn:    []string{"disable_checkpoint = false", "filesystem_mirror"},
			wantNotIn: []string{"disable_checkpoint = true"},
		},
		{name: "plugin_cache_dir is the runner's", base: "plugin_cache_dir = \"/x\"\n", wantErr: "plugin_cache_dir"},
		{name: "syntax error", base: "provider_installation {", wantErr: "terraform CLI configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := BuildCLIConfig([]byte(tt.base), "/cache")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(string(c.Text), s) {
					t.Errorf("config lacks %q:\n%s", s, c.Text)
				}
			}
			for _, s := range tt.wantNotIn {
				if strings.Contains(string(c.Text), s) {
					t.Errorf("config has %q:\n%s", s, c.Text)
				}
			}
			if tt.wantPaths != nil && strings.Join(c.Paths, ",") != strings.Join(tt.wantPaths, ",") {
				t.Errorf("paths %v, want %v", c.Paths, tt.wantPaths)
			}
		})
	}
}

// A provider binary committed under terraform.d/plugins never runs: the runner's CLI configuration
// names the installation methods explicitly, so Terraform does not search the working directory.
func TestRepositoryProviderBinaryNeverRuns(t *testing.T) {
	bin := terraformBin(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "provider-ran")
	root := filepath.Join(dir, "env")
	plugin := filepath.Join(root, "terraform.d", "plugins", "registry.terraform.io", "hashicorp", "evil", "1.0.0", "linux_amd64")
	if err := os.MkdirAll(plugin, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\ntouch " + marker + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(plugin, "terraform-provider-evil_v1.0.0"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	main := "terraform {\n  required_providers {\n    evil = { source = \"hashicorp/evil\", version = \"1.0.0\" }\n  }\n}\nresource \"evil_thing\" \"x\" {}\n"
	if err := os.WriteFile(filepath.Join(root, "main.tf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	runner, err := BuildCLIConfig(nil, filepath.Join(dir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		config []byte
		runs   bool
	}{
		// The control: with Terraform's implicit installation methods the binary does run.
		{"implicit installation", []byte("disable_checkpoint = true\n"), true},
		{"runner's configuration", runner.Text, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(marker)
			os.RemoveAll(filepath.Join(root, ".terraform"))
			os.Remove(filepath.Join(root, ".terraform.lock.hcl"))
			rc := filepath.Join(dir, "terraformrc")
			if err := os.WriteFile(rc, tt.config, 0o644); err != nil {
				t.Fatal(err)
			}
			planWith(t, bin, root, dir, rc)
			_, err := os.Stat(marker)
			if ran := err == nil; ran != tt.runs {
				t.Fatalf("the repository's provider binary ran: %v, want %v", ran, tt.runs)
			}
		})
	}
}

func planWith(t *testing.T, bin, root, home, rc string) {
	t.Helper()
	log := &syncBuffer{}
	w, err := New(Options{Bin: bin, Dir: root, Log: log, BaseEnv: map[string]string{
		"PATH": "/usr/bin:/bin", "HOME": home, "TF_CLI_CONFIG_FILE": rc,
		// No registry is reachable from here: fail fast instead of retrying.
		"HTTPS_PROXY": "http://127.0.0.1:9", "TF_REGISTRY_CLIENT_TIMEOUT": "2",
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*60e9)
	defer cancel()
	if err := w.Init(ctx); err == nil {
		_, _ = w.Plan(ctx, filepath.Join(home, "plan"), nil)
	}
	t.Log(log.String())
}
