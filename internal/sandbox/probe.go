package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// probeEnv makes the launcher's program (a copy of the launcher) check its own isolation.
const probeEnv = "RUNNER_SANDBOX_PROBE"

type probeSpec struct {
	Secret    string `json:"secret"`     // a file of the runner's: must not be readable
	Work      string `json:"work"`       // the work tree: must be writable
	RunnerPID int    `json:"runner_pid"` // the runner: its environment must not be readable
	Hidden    bool   `json:"hidden"`     // namespaces: the secret must not even exist
}

// probe runs a copy of the launcher isolated in mode m and has it check, from inside, that it
// cannot read a file of the runner's or the runner's environment, and can write its work tree.
func (s *Sandbox) probe(ctx context.Context, m Mode) error {
	if m == ModeBwrap {
		if s.cfg.Bwrap == "" {
			bw, err := exec.LookPath("bwrap")
			if err != nil {
				return errors.New("bubblewrap (bwrap) is not installed")
			}
			s.cfg.Bwrap = bw
		}
	} else if os.Geteuid() != 0 {
		return errors.New("the runner is not root, so it cannot run commands as another user (install bubblewrap where user namespaces are allowed, run it as root in its container, or set RUNNER_UNSAFE_UNISOLATED_PLANS=true to plan pull requests without isolation)")
	}
	if m == ModeUser {
		if err := searchable(s.cfg.Dir); err != nil {
			return err
		}
	}
	dir := filepath.Join(s.cfg.Dir, "probe")
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clear %s: %w", dir, err)
	}
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("runner secret\n"), 0o600); err != nil {
		return err
	}
	prog := filepath.Join(dir, "probe")
	if err := copyFile(s.cfg.Launcher, prog, 0o755); err != nil {
		return fmt.Errorf("copy the launcher for the probe: %w", err)
	}
	saved := s.mode
	s.mode = m
	env, release, err := s.Enter(ctx, Command{Program: prog, WorkTree: work})
	s.mode = saved
	if err != nil {
		return err
	}
	defer release()
	ps, _ := json.Marshal(probeSpec{Secret: secret, Work: work, RunnerPID: os.Getpid(), Hidden: m == ModeNamespaces || m == ModeBwrap})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.cfg.Launcher)
	cmd.Dir = work
	cmd.Env = []string{"PATH=/usr/bin:/bin", probeEnv + "=" + string(ps)}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		msg = strings.TrimPrefix(msg, "runner sandbox: ")
		if msg == "" {
			msg = err.Error()
		}
		return errors.New(msg)
	}
	return nil
}

// runProbe is the program side of probe: it exits 0 when isolated as asked.
func runProbe(arg string) int {
	var ps probeSpec
	if err := json.Unmarshal([]byte(arg), &ps); err != nil {
		fmt.Fprintf(os.Stderr, "runner sandbox: probe spec: %v\n", err)
		return 2
	}
	var problems []string
	if os.Geteuid() == 0 {
		problems = append(problems, "the command still runs as root")
	}
	if _, err := os.ReadFile(ps.Secret); err == nil {
		problems = append(problems, "the command can read the runner's files")
	} else if ps.Hidden && !errors.Is(err, os.ErrNotExist) {
		problems = append(problems, "the runner's files are visible to the command")
	}
	if _, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", ps.RunnerPID)); err == nil && !ps.Hidden {
		problems = append(problems, "the command can read the runner's environment")
	}
	if b, err := os.ReadFile("/proc/1/environ"); err == nil && len(b) > 0 && !ps.Hidden {
		problems = append(problems, "the command can read the environment of PID 1")
	}
	if err := os.WriteFile(filepath.Join(ps.Work, "probe"), []byte("ok"), 0o600); err != nil {
		problems = append(problems, fmt.Sprintf("the command cannot write its work tree (%v)", err))
	}
	if len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "runner sandbox: %s\n", strings.Join(problems, "; "))
		return 1
	}
	return 0
}

// searchable checks that every directory above and including dir can be traversed by other users:
// in user mode the command reaches its work tree through them.
func searchable(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := abs; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s is not searchable by other users, so the sandbox user cannot reach its work tree under %s (chmod o+x %s, or choose another RUNNER_DATA_DIR)", p, abs, p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// Expose returns a path at which other users can read (and execute) file: the file itself when they
// already can, else a copy under the sandbox's directory. User mode needs it for the Terraform binary
// when that lives under a private home.
func (s *Sandbox) Expose(file string) (string, error) {
	if s.mode != ModeUser {
		return file, nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return "", err
	}
	if fi.Mode().Perm()&0o005 == 0o005 && searchable(filepath.Dir(file)) == nil {
		return file, nil
	}
	dst := filepath.Join(s.cfg.Dir, "bin", filepath.Base(file))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if err := copyFile(file, dst, 0o755); err != nil {
		return "", fmt.Errorf("copy %s where the sandbox user can run it: %w", file, err)
	}
	return dst, nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
