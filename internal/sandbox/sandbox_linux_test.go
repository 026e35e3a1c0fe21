package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestMain(m *testing.M) {
	Main()
	os.Exit(m.Run())
}

// openTemp returns a temporary directory whose parents other users can traverse (user mode needs
// it; t.TempDir's parent is private).
func openTemp(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for p := dir; p != "/tmp" && p != "/" && strings.HasPrefix(p, os.TempDir()); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("isolation needs the runner to be root (CI runs as root)")
	}
}

func newSandbox(t *testing.T, want string, data string, ro ...string) *Sandbox {
	t.Helper()
	return newSandboxWith(t, want, "", data, ro...)
}

func newSandboxWith(t *testing.T, want, launcher, data string, ro ...string) *Sandbox {
	t.Helper()
	sb, err := New(context.Background(), Config{Want: want, Dir: filepath.Join(data, "sandbox"), Launcher: launcher, ReadOnly: ro})
	if err != nil {
		if want == WantNamespaces {
			t.Skipf("namespaces unavailable here: %v", err)
		}
		if _, lerr := exec.LookPath("bwrap"); want == WantBwrap && lerr != nil {
			t.Skipf("bubblewrap is not installed (apt-get install bubblewrap): %v", err)
		}
		t.Fatal(err)
	}
	return sb
}

// run starts /bin/sh -c script isolated in work and returns its output.
func run(t *testing.T, sb *Sandbox, work, script string, extraEnv ...string) (string, error) {
	t.Helper()
	env, release, err := sb.Enter(context.Background(), Command{Program: "/bin/sh", WorkTree: work})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	cmd := exec.Command(sb.Launcher(), "-c", script)
	cmd.Dir = work
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, extraEnv...)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

const canary = "CANARY-9f8e7d6c5b4a"

func TestSandboxIsolatesTheCommand(t *testing.T) {
	needRoot(t)
	t.Setenv("RUNNER_TEST_CANARY", canary)
	small := buildLauncher(t)
	for _, tc := range []struct{ want, launcher string }{
		{WantNamespaces, ""}, {WantUser, ""}, {WantNamespaces, small}, {WantUser, small}, {WantBwrap, ""}, {WantBwrap, small},
	} {
		want := tc.want
		name := want + "/runner's own executable"
		if tc.launcher != "" {
			name = want + "/" + LauncherName
		}
		t.Run(name, func(t *testing.T) {
			data := openTemp(t)
			secret := filepath.Join(data, "runner.db")
			if err := os.WriteFile(secret, []byte(canary), 0o600); err != nil {
				t.Fatal(err)
			}
			cache := filepath.Join(data, "plugin-cache")
			if err := os.MkdirAll(cache, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(cache, "provider"), []byte("p"), 0o644); err != nil {
				t.Fatal(err)
			}
			work := filepath.Join(data, "runs", "run-1")
			if err := os.MkdirAll(filepath.Join(work, "src"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Dir(work), 0o711); err != nil {
				t.Fatal(err)
			}
			sb := newSandboxWith(t, want, tc.launcher, data, cache)
			if tc.launcher != "" && sb.Launcher() != tc.launcher {
				t.Fatalf("launcher %s, want %s", sb.Launcher(), tc.launcher)
			}
			if string(sb.Mode()) != want {
				t.Fatalf("mode %s, want %s", sb.Mode(), want)
			}
			checks := map[string]string{
				"uid":           `id -u`,
				"secret":        `cat ` + secret + ` 2>&1 || echo denied`,
				"parent env":    `cat /proc/$PPID/environ 2>&1 | tr '\0' '\n' || echo denied`,
				"pid1 env":      `cat /proc/1/environ 2>&1 | tr '\0' '\n'`,
				"own env":       `env`,
				"write work":    `echo ok > src/f && cat src/f`,
				"write cache":   `echo x > ` + cache + `/provider 2>&1 || echo denied`,
				"read cache":    `cat ` + cache + `/provider`,
				"no new privs":  `grep NoNewPrivs /proc/self/status`,
				"home":          `echo "$HOME" && touch "$HOME/x" && echo writable`,
				"processes":     `ls /proc | grep -c '^[0-9]'`,
				"runner data":   `ls ` + data + ` 2>&1`,
				"etc shadow":    `cat /etc/shadow 2>&1 || echo denied`,
				"root ssh keys": `ls /root 2>&1 || echo denied`,
				"dev null":      `echo x > /dev/null && head -c 4 /dev/urandom | wc -c`,
			}
			// One command runs every check (each launch costs a process start or two).
			var script strings.Builder
			for name, check := range checks {
				fmt.Fprintf(&script, "echo '### %s'; ( %s ) 2>&1\n", name, check)
			}
			out, err := run(t, sb, work, script.String(), "GIVEN=1")
			if err != nil {
				t.Logf("checks: %v", err)
			}
			got := map[string]string{}
			for _, section := range strings.Split(out, "### ")[1:] {
				name, body, _ := strings.Cut(section, "\n")
				got[name] = body
				if strings.Contains(body, canary) {
					t.Errorf("%s: the command saw the runner's secret or environment: %q", name, body)
				}
			}
			if len(got) != len(checks) {
				t.Fatalf("ran %d checks of %d: %s", len(got), len(checks), out)
			}
			if strings.TrimSpace(got["dev null"]) != "4" {
				t.Errorf("/dev/null or /dev/urandom unusable: %q", got["dev null"])
			}
			if strings.TrimSpace(got["uid"]) == "0" {
				t.Errorf("the command runs as root")
			}
			if !strings.Contains(got["secret"], "denied") {
				t.Errorf("secret: %q", got["secret"])
			}
			if strings.TrimSpace(got["write work"]) != "ok" {
				t.Errorf("cannot write the work tree: %q", got["write work"])
			}
			if !strings.Contains(got["write cache"], "denied") {
				t.Errorf("the plugin cache is writable: %q", got["write cache"])
			}
			if strings.TrimSpace(got["read cache"]) != "p" {
				t.Errorf("the plugin cache is not readable: %q", got["read cache"])
			}
			if !strings.Contains(got["no new privs"], "1") {
				t.Errorf("no_new_privs not set: %q", got["no new privs"])
			}
			if !strings.Contains(got["home"], work) || !strings.Contains(got["home"], "writable") {
				t.Errorf("HOME is not private and writable: %q", got["home"])
			}
			if !strings.Contains(got["own env"], "GIVEN=1") || strings.Contains(got["own env"], specEnv) {
				t.Errorf("the command's environment is not what it was given: %q", got["own env"])
			}
			if !strings.Contains(got["etc shadow"], "denied") && !strings.Contains(got["etc shadow"], "No such file") {
				t.Errorf("/etc/shadow readable: %q", got["etc shadow"])
			}
			if want == WantNamespaces || want == WantBwrap {
				// sh, the check's subshell, ls and grep: the runner's processes are not there.
				if n := strings.TrimSpace(got["processes"]); n > "6" || len(n) != 1 {
					t.Errorf("the command sees %s processes; want only its own", n)
				}
				if strings.Contains(got["runner data"], "runner.db") {
					t.Errorf("the runner's data directory is visible: %q", got["runner data"])
				}
			}
		})
	}
}

func TestEnterGivesEachWorkTreeItsOwnUser(t *testing.T) {
	needRoot(t)
	data := openTemp(t)
	sb := newSandbox(t, WantUser, data)
	a, b := filepath.Join(data, "a"), filepath.Join(data, "b")
	for _, d := range []string{a, b} {
		if err := os.MkdirAll(filepath.Join(d, "src"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	owner := func(p string) int {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return int(fi.Sys().(*syscall.Stat_t).Uid)
	}
	_, relA, err := sb.Enter(context.Background(), Command{Program: "/bin/sh", WorkTree: a})
	if err != nil {
		t.Fatal(err)
	}
	_, relA2, err := sb.Enter(context.Background(), Command{Program: "/bin/sh", WorkTree: a})
	if err != nil {
		t.Fatal(err)
	}
	_, relB, err := sb.Enter(context.Background(), Command{Program: "/bin/sh", WorkTree: b})
	if err != nil {
		t.Fatal(err)
	}
	ua, ub := owner(filepath.Join(a, "src")), owner(filepath.Join(b, "src"))
	if ua == 0 || ub == 0 || ua == ub {
		t.Fatalf("work trees owned by %d and %d: want two distinct sandbox users", ua, ub)
	}
	relA()
	if owner(filepath.Join(a, "src")) != ua {
		t.Fatal("the tree was handed back while a command still runs in it")
	}
	relA2()
	relA2() // a second call is harmless
	if got := owner(filepath.Join(a, "src")); got != os.Geteuid() {
		t.Fatalf("after the last command the tree is owned by %d, want the runner (%d)", got, os.Geteuid())
	}
	relB()
}

func TestSandboxOffRunsTheProgramAsItIs(t *testing.T) {
	data := t.TempDir()
	sb := newSandbox(t, WantOff, data)
	if sb.Isolated() || sb.Mode() != ModeNone {
		t.Fatalf("mode %s", sb.Mode())
	}
	out, err := run(t, sb, data, `echo "$GIVEN"; env | grep -c RUNNER_SANDBOX_SPEC || true`, "GIVEN=yes")
	if err != nil {
		t.Fatal(err, out)
	}
	if out != "yes\n0\n" {
		t.Fatalf("output %q", out)
	}
}

func TestExitCodesAndSignalsPassThrough(t *testing.T) {
	needRoot(t)
	data := openTemp(t)
	work := filepath.Join(data, "w")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{WantNamespaces, WantUser} {
		t.Run(want, func(t *testing.T) {
			sb := newSandbox(t, want, data)
			_, err := run(t, sb, work, "exit 3")
			var exit *exec.ExitError
			if !errorsAs(err, &exit) || exit.ExitCode() != 3 {
				t.Fatalf("exit: %v", err)
			}
		})
	}
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}
