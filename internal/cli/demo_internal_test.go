package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDemoTerraformDiscovery(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	cached := filepath.Join(home, demoTerraformCache)
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	explicit := filepath.Join(t.TempDir(), "terraform")
	if err := os.WriteFile(explicit, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	onPath := func(string) (string, error) { return "/usr/bin/terraform", nil }
	notOnPath := func(n string) (string, error) { return "", fmt.Errorf("%s: not found", n) }
	versions := func(_ context.Context, bin string) (string, error) {
		if strings.Contains(bin, "broken") {
			return "", errors.New("exit status 1")
		}
		return "1.5.7", nil
	}
	for _, tc := range []struct {
		name     string
		explicit string
		home     string
		lookPath func(string) (string, error)
		want     string
		wantErr  []string
	}{
		{"explicit wins over PATH and cache", explicit, home, onPath, explicit, nil},
		{"PATH before the cache", "", home, onPath, "/usr/bin/terraform", nil},
		{"the cache make demo filled", "", home, notOnPath, cached, nil},
		{"nothing anywhere says how to get one", "", t.TempDir(), notOnPath, "",
			[]string{"make demo", "-terraform", "RUNNER_TERRAFORM_BIN", demoTerraformCache}},
		{"a wrong explicit one is not replaced by the cache", filepath.Join(home, "missing"), home, notOnPath, "",
			[]string{"RUNNER_TERRAFORM_BIN", "missing", "-terraform"}},
		{"a binary that does not answer version", "", "", func(string) (string, error) { return "/opt/broken/terraform", nil }, "",
			[]string{"/opt/broken/terraform", "does not answer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path, ver, err := demoTerraform(context.Background(), tc.explicit, tc.home, tc.lookPath, versions)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("found %s, want an error", path)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if path != tc.want || ver != "1.5.7" {
				t.Errorf("got %s %s, want %s 1.5.7", path, ver, tc.want)
			}
		})
	}
}

// runner demo always says which Terraform it uses, before anything else.
func TestDemoPrintsTerraformAndVersion(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "terraform")
	// A stand-in that answers `version -json` like Terraform and fails anything else, so the demo stops
	// right after printing which binary it uses.
	script := "#!/bin/sh\nif [ \"$1\" = version ]; then echo '{\"terraform_version\":\"9.9.9\"}'; exit 0; fi\nexit 1\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	env := Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	// A working directory that is a file stops the story at its first step.
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Demo(context.Background(), env, []string{"-terraform", bin, "-dir", notADir}); err == nil {
		t.Fatal("the demo succeeded in a working directory that is a file")
	}
	first, _, _ := strings.Cut(out.String(), "\n")
	if want := "terraform: " + bin + " (version 9.9.9)"; first != want {
		t.Errorf("first line %q, want %q", first, want)
	}
}
