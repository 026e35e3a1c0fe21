package tf

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindBinary(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "terraform-1.5.7")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	onPath := func(names ...string) func(string) (string, error) {
		return func(name string) (string, error) {
			for _, n := range names {
				if n == name {
					return "/usr/bin/" + name, nil
				}
			}
			return "", fs.ErrNotExist
		}
	}
	tests := []struct {
		name     string
		explicit string
		lookPath func(string) (string, error)
		want     string
		wantErr  []string
	}{
		{name: "explicit path wins over PATH", explicit: exe, lookPath: onPath("terraform"), want: exe},
		{name: "explicit bare name is looked up", explicit: "tofu", lookPath: onPath("terraform", "tofu"), want: "/usr/bin/tofu"},
		{name: "terraform before tofu", lookPath: onPath("tofu", "terraform"), want: "/usr/bin/terraform"},
		{name: "tofu when no terraform", lookPath: onPath("tofu"), want: "/usr/bin/tofu"},
		{name: "wrong explicit path is an error, not a fallback", explicit: filepath.Join(dir, "missing"), lookPath: onPath("terraform"),
			wantErr: []string{"RUNNER_TERRAFORM_BIN", "missing"}},
		{name: "explicit file must be executable", explicit: plain, lookPath: onPath("terraform"),
			wantErr: []string{"not executable"}},
		{name: "nothing found lists what was tried", lookPath: onPath(),
			wantErr: []string{"RUNNER_TERRAFORM_BIN is not set", `"terraform" on PATH`, `"tofu" on PATH`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FindBinary(tt.explicit, tt.lookPath)
			if tt.wantErr != nil {
				if !errors.Is(err, ErrNoBinary) {
					t.Fatalf("error = %v, want ErrNoBinary", err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("FindBinary = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestFindBinaryRelativePathIsMadeAbsolute: Terraform runs with the environment's directory as its
// working directory, where a relative RUNNER_TERRAFORM_BIN (e.g. bin/terraform) names nothing.
func TestFindBinaryRelativePathIsMadeAbsolute(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "bin", "terraform")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, explicit := range []string{"bin/terraform", "./bin/terraform"} {
		got, err := FindBinary(explicit, func(string) (string, error) { return "", fs.ErrNotExist })
		if err != nil {
			t.Fatalf("FindBinary(%q): %v", explicit, err)
		}
		if got != exe {
			t.Errorf("FindBinary(%q) = %q, want %q", explicit, got, exe)
		}
	}
}
