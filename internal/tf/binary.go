package tf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ErrNoBinary is returned by FindBinary when no Terraform-compatible executable can be found.
var ErrNoBinary = errors.New("no terraform binary found")

// FindBinary returns the executable to run. explicit (the RUNNER_TERRAFORM_BIN value, read by the caller)
// wins when set and is not silently replaced by something from PATH when it is wrong; otherwise
// `terraform` and then `tofu` are looked up with lookPath (exec.LookPath in production).
func FindBinary(explicit string, lookPath func(string) (string, error)) (string, error) {
	if explicit != "" {
		if !strings.ContainsRune(explicit, filepath.Separator) {
			p, err := lookPath(explicit) // a bare name, e.g. RUNNER_TERRAFORM_BIN=tofu
			if err != nil {
				return "", fmt.Errorf("%w: RUNNER_TERRAFORM_BIN=%q: %v", ErrNoBinary, explicit, err)
			}
			return p, nil
		}
		if err := checkExecutable(explicit); err != nil {
			return "", fmt.Errorf("%w: RUNNER_TERRAFORM_BIN=%q: %v", ErrNoBinary, explicit, err)
		}
		// Terraform runs in the environment's directory, where a relative path names nothing.
		abs, err := filepath.Abs(explicit)
		if err != nil {
			return "", fmt.Errorf("%w: RUNNER_TERRAFORM_BIN=%q: %v", ErrNoBinary, explicit, err)
		}
		return abs, nil
	}
	var tried []string
	for _, name := range []string{"terraform", "tofu"} {
		p, err := lookPath(name)
		if err == nil {
			return p, nil
		}
		tried = append(tried, fmt.Sprintf("%q on PATH (%v)", name, err))
	}
	return "", fmt.Errorf("%w: RUNNER_TERRAFORM_BIN is not set; tried %s", ErrNoBinary, strings.Join(tried, ", "))
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", p)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}

// BinaryVersion asks a Terraform (or OpenTofu) binary for its version ("1.5.7"). The binary is the
// operator's; no repository code is involved, so it runs as the runner.
func BinaryVersion(ctx context.Context, bin string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "version", "-json")
	cmd.Env = []string{"CHECKPOINT_DISABLE=1", "PATH=/usr/local/bin:/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s version: %w", bin, err)
	}
	var v struct {
		Version string `json:"terraform_version"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.Version == "" {
		return "", fmt.Errorf("%s version: unexpected answer %.200q", bin, out)
	}
	return v.Version, nil
}
