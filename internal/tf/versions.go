package tf

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Versions learns the version of each Terraform binary once, keyed by its absolute path, modification
// time and size, and answers terraform-exec's version checks from what it learned. One is shared by
// every Workspace of a process (Options.Versions); its zero value is not usable: call NewVersions.
//
// Why: terraform-exec runs `terraform version -json` the first time a command of a tfexec.Terraform
// checks the version (init always does: its argument building checks for flags Terraform 0.15 removed;
// show -json does too), and caches the answer in that tfexec.Terraform only. A Workspace owns one, so
// every plan and every apply started one more Terraform process (~75 ms, plus a whole launch of the
// sandbox's launcher when sandboxed). terraform-exec has no setter for its cache, and what it checks
// cannot be avoided (init and show -json check whatever the options), but it asks through the
// executable it was given. So a Workspace with Versions gives terraform-exec a front: a small shell
// script that answers `version -json` from RUNNER_TF_VERSION, which the Workspace sets to the version
// learned here, and replaces itself with the real program (Terraform, or the sandbox's launcher) for
// every other command, with that variable removed.
type Versions struct {
	dir string // where the fronts are written

	mu   sync.Mutex
	bins map[string]*learned // by absolute path

	frontMu sync.Mutex
	fronts  map[string]string // target -> its front; "": no front works here, run the target itself
}

// learned is one binary's version at one modification time and size; done is closed once it is known.
type learned struct {
	mod  time.Time
	size int64
	done chan struct{}

	version string
	err     error
}

// versionEnv carries the learned version to the front.
const versionEnv = "RUNNER_TF_VERSION"

// NewVersions returns an empty cache whose fronts are written to dir (created 0700 when missing; the
// runner must be able to execute files there: where it cannot, terraform-exec asks the binary as before).
func NewVersions(dir string) *Versions {
	return &Versions{dir: dir, bins: map[string]*learned{}, fronts: map[string]string{}}
}

// Of returns bin's version ("1.5.7"). It runs `bin version -json` (BinaryVersion) only the first time it
// sees bin with its current modification time and size; callers asking at the same time wait for that
// one answer. A failure is not kept: the next call asks again.
func (v *Versions) Of(ctx context.Context, bin string) (string, error) {
	abs, err := absBinary(bin)
	if err != nil {
		return "", fmt.Errorf("%s version: %w", bin, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("%s version: %w", bin, err)
	}
	v.mu.Lock()
	l := v.bins[abs]
	if l != nil && l.mod.Equal(fi.ModTime()) && l.size == fi.Size() {
		v.mu.Unlock()
		select {
		case <-l.done:
			return l.version, l.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	l = &learned{mod: fi.ModTime(), size: fi.Size(), done: make(chan struct{})}
	v.bins[abs] = l
	v.mu.Unlock()

	l.version, l.err = BinaryVersion(ctx, abs)
	if l.err == nil && !plainVersion(l.version) {
		l.err = fmt.Errorf("%s version: unexpected version %.40q", abs, l.version)
	}
	if l.err != nil {
		v.mu.Lock()
		if v.bins[abs] == l {
			delete(v.bins, abs)
		}
		v.mu.Unlock()
	}
	close(l.done)
	return l.version, l.err
}

// absBinary is the absolute path of bin: a bare name is looked up on PATH, as exec.Command would.
func absBinary(bin string) (string, error) {
	if !strings.ContainsRune(bin, filepath.Separator) {
		return exec.LookPath(bin)
	}
	return filepath.Abs(bin)
}

// plainVersion accepts what a version looks like ("1.5.7", "1.10.0-beta1", "1.6.0+dev"): it is written
// into JSON and a command's environment.
func plainVersion(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '.' || r == '-' || r == '+') {
			return false
		}
	}
	return true
}

// front returns the front of target (an absolute path), writing it the first time and checking once that
// it answers; it returns "" when no front works here (dir cannot be written, or its files not executed),
// so that the caller runs target itself.
func (v *Versions) front(ctx context.Context, target string) string {
	v.frontMu.Lock()
	defer v.frontMu.Unlock()
	if f, ok := v.fronts[target]; ok {
		return f
	}
	f, err := writeFront(v.dir, target)
	if err == nil {
		err = checkFront(ctx, f)
	}
	if err != nil {
		if ctx.Err() != nil {
			return "" // not the front's fault: try again next time
		}
		f = ""
	}
	v.fronts[target] = f
	return f
}

// frontScript answers `version -json` from versionEnv and otherwise becomes the program, so that
// signals, the process group and the exit status are the program's own.
const frontScript = `#!/bin/sh
# Written by the runner (internal/tf, Versions): terraform-exec asks the version through this file, which
# answers from %[1]s without starting Terraform; every other command runs the program below.
if [ "$#" -eq 2 ] && [ "$1" = version ] && [ "$2" = -json ] && [ -n "${%[1]s:-}" ]; then
	printf '{"terraform_version":"%%s","provider_selections":{}}\n' "$%[1]s"
	exit 0
fi
unset %[1]s
exec %[2]s "$@"
`

func writeFront(dir, target string) (string, error) {
	if dir == "" {
		return "", errors.New("no directory for the fronts")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(target))
	path := filepath.Join(dir, "terraform-front-"+hex.EncodeToString(sum[:8]))
	body := fmt.Sprintf(frontScript, versionEnv, shellQuote(target))
	if b, err := os.ReadFile(path); err == nil && string(b) == body {
		return path, nil
	}
	tmp, err := os.CreateTemp(dir, ".front-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // after a successful rename: nothing
	_, err = tmp.WriteString(body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o700)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return "", err
	}
	return path, nil
}

// checkFront runs the front once for a version: a directory mounted noexec, or a system without
// /bin/sh, shows here rather than in every command.
func checkFront(ctx context.Context, front string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, front, "version", "-json")
	cmd.Env = []string{versionEnv + "=0.0.0", "PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("terraform front %s: %w", front, err)
	}
	if !strings.Contains(string(out), `"terraform_version":"0.0.0"`) {
		return fmt.Errorf("terraform front %s: unexpected answer %.200q", front, out)
	}
	return nil
}

// shellQuote quotes s for sh: inside single quotes nothing is special but the quote itself.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
