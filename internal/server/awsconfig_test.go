package server

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadAWSConfigRegion(t *testing.T) {
	profiles := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(profiles, []byte("[profile deploy]\nregion = ap-southeast-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		configured string            // -aws-region / AWS_REGION, as the config package read it
		env        map[string]string // what the SDK reads itself
		want       string
	}{
		{"configured wins", "eu-west-1", map[string]string{"AWS_DEFAULT_REGION": "eu-central-1"}, "eu-west-1"},
		{"AWS_DEFAULT_REGION", "", map[string]string{"AWS_DEFAULT_REGION": "eu-central-1"}, "eu-central-1"},
		{"the profile's region", "", map[string]string{"AWS_CONFIG_FILE": profiles, "AWS_PROFILE": "deploy"}, "ap-southeast-2"},
		{"nothing anywhere", "", nil, "us-east-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"} {
				t.Setenv(k, "")
			}
			t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := loadAWSConfig(context.Background(), tt.configured)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Region != tt.want {
				t.Errorf("region = %q, want %q", cfg.Region, tt.want)
			}
		})
	}
}
