package sandbox

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// findLauncher returns the launcher to use: the one asked for (which must answer with this spec
// version), else LauncherName beside this process's executable when it answers so, else this
// process's executable itself.
func findLauncher(ctx context.Context, want, self string, log *slog.Logger) (string, error) {
	if want != "" {
		if !filepath.IsAbs(want) {
			return "", fmt.Errorf("sandbox: launcher %q: give an absolute path", want)
		}
		if same(want, self) {
			return want, nil
		}
		if err := hello(ctx, want); err != nil {
			return "", fmt.Errorf("sandbox: launcher %s: %w", want, err)
		}
		return want, nil
	}
	beside := filepath.Join(filepath.Dir(self), LauncherName)
	if same(beside, self) {
		return self, nil
	}
	if _, err := os.Stat(beside); err != nil {
		return self, nil
	}
	if err := hello(ctx, beside); err != nil {
		log.Warn("sandbox: not using the launcher beside the runner; the runner's own executable launches instead (slower to start)",
			"launcher", beside, "err", err)
		return self, nil
	}
	return beside, nil
}

// same reports whether a and b are the same file.
func same(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// hello checks that the executable at path is a launcher speaking this spec version.
func hello(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path)
	cmd.Env = []string{helloEnv + "=1"}
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("not a sandbox launcher (%v)", err)
	}
	got := strings.TrimSpace(string(out))
	if want := fmt.Sprintf("%s spec %d", LauncherName, specVersion); got != want {
		return fmt.Errorf("answers %q, want %q: install the %s built with this runner", got, want, LauncherName)
	}
	return nil
}
