//go:build e2e

package selfimage_test

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sys/unix"

	"github.com/gitops-runner/runner/internal/selfimage"
	"github.com/gitops-runner/runner/internal/tf"
)

// The runner's image, built by the daemonless builder and unpacked into a root file system, runs its
// tools and the runner as its non-root user, and the runner isolates Terraform there with bubblewrap.
// Same inputs, same digest.
func TestRunnerImageRunsItsToolsAsNonRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: downloads Debian packages and builds the runner")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the image is Linux's")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := reachable(ctx, selfimage.DefaultSources[0].URL+"/dists/bookworm/InRelease"); err != nil {
		t.Skipf("Debian's archive is not reachable (%v): the image's packages come from it", err)
	}
	if _, err := os.Stat(selfimage.DefaultKeyring); err != nil {
		t.Skipf("no Debian archive keyring (%v): apt-get install debian-archive-keyring", err)
	}
	bwrap, err := exec.LookPath("bwrap")
	if err != nil && os.Geteuid() != 0 {
		t.Skip("not root, and bubblewrap is not installed here: one of the two runs the image's root file system")
	}
	tfBin, err := tf.FindBinary(os.Getenv("RUNNER_TERRAFORM_BIN"), exec.LookPath)
	if err != nil {
		t.Skipf("terraform not available (%v): .ci/run installs it; set RUNNER_TERRAFORM_BIN", err)
	}
	raw, err := os.ReadFile(tfBin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	version := tfVersion(t, tfBin)
	cache := filepath.Join(userCache(t), "gitops-runner", "build-self")
	src, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	goroot := strings.TrimSpace(run(t, exec.Command("go", "env", "GOROOT")))
	opts := selfimage.Options{Source: src, Cache: cache, Created: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Revision: "test",
		Terraform: selfimage.Terraform{Version: version, Binary: tfBin, SHA256: hex.EncodeToString(sum[:])}, GoRoot: goroot, Log: testLog{t}}

	// A Terraform binary that is not the one pinned is refused.
	bad := opts
	bad.Terraform.SHA256 = strings.Repeat("0", 64)
	if _, err := selfimage.Build(ctx, bad); err == nil || !strings.Contains(err.Error(), "not the "+bad.Terraform.SHA256+" pinned") {
		t.Fatalf("a Terraform of another checksum: %v", err)
	}

	start := time.Now()
	res, err := selfimage.Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s in %s: %d Debian packages", res.Digest, time.Since(start).Round(time.Millisecond), len(res.Packages))
	again, err := selfimage.Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != res.Digest {
		t.Errorf("the same inputs built %s, then %s", res.Digest, again.Digest)
	}

	cf, err := res.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "10001:10001" || strings.Join(cf.Config.Entrypoint, " ") != "/usr/local/bin/runner" || cf.Config.WorkingDir != selfimage.DataDir {
		t.Errorf("config: user %q, entrypoint %q, working directory %q", cf.Config.User, cf.Config.Entrypoint, cf.Config.WorkingDir)
	}
	if cf.Config.Labels["io.gitops-runner.terraform.sha256"] != hex.EncodeToString(sum[:]) {
		t.Errorf("labels: %v", cf.Config.Labels)
	}

	rootfs := filepath.Join(t.TempDir(), "rootfs")
	unpack(t, res.Image, rootfs)
	for _, f := range []string{"usr/local/bin/terraform", "usr/local/bin/runner", "usr/local/bin/runner-sandbox", "usr/bin/git", "usr/bin/bwrap",
		"usr/bin/sh", "etc/ssl/certs/ca-certificates.crt", "var/lib/dpkg/status.d/git", "etc/os-release"} {
		if _, err := os.Stat(filepath.Join(rootfs, f)); err != nil {
			t.Errorf("the image lacks %s: %v", f, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(rootfs, "etc/ssl/certs/ca-certificates.crt")); strings.Count(string(b), "BEGIN CERTIFICATE") < 100 {
		t.Errorf("the CA bundle holds %d certificates", strings.Count(string(b), "BEGIN CERTIFICATE"))
	}

	// Run the image as its user, the way a container runtime does: as root, the test starts itself in
	// new mount and PID namespaces, makes the root file system the root (read-only but for the data
	// directory, /proc fresh), becomes 10001 and executes the command. Not root, bubblewrap stands in
	// (mapping 10001 to the test's user); the image's own bubblewrap cannot nest under it.
	env := append([]string{}, cf.Config.Env...)
	asRoot := os.Geteuid() == 0
	exec1 := func(args ...string) string {
		t.Helper()
		if asRoot {
			spec, _ := json.Marshal(enterSpec{Root: rootfs, RW: selfimage.DataDir, Dir: cf.Config.WorkingDir, UID: 10001, Env: env, Args: args})
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
			cmd.Env = []string{enterEnv + "=" + string(spec)}
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID, Pdeathsig: syscall.SIGKILL}
			return run(t, cmd)
		}
		bw := []string{"--unshare-user", "--uid", "10001", "--gid", "10001", "--unshare-pid", "--die-with-parent",
			"--ro-bind", rootfs, "/", "--bind", filepath.Join(rootfs, selfimage.DataDir), selfimage.DataDir,
			"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", cf.Config.WorkingDir, "--clearenv"}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			bw = append(bw, "--setenv", k, v)
		}
		return run(t, exec.CommandContext(ctx, bwrap, append(append(bw, "--"), args...)...))
	}
	checks := []struct {
		args []string
		want string
	}{
		{[]string{"/usr/local/bin/terraform", "version"}, "Terraform v" + version},
		{[]string{"git", "--version"}, "git version 2."},
		{[]string{"bwrap", "--version"}, "bubblewrap 0."},
		{[]string{"go", "version"}, "go version go1."},
		{[]string{"sh", "-c", "echo $HOME"}, selfimage.DataDir},
	}
	if asRoot {
		// The entrypoint, as the image's user: it isolates Terraform with the image's bubblewrap.
		checks = append(checks, struct {
			args []string
			want string
		}{append(cf.Config.Entrypoint, "sandbox-check"), "runner uid 10001\nisolation: bwrap"})
	} else {
		t.Log("not root: the entrypoint's own isolation (bubblewrap in the image) is not checked")
	}
	for _, c := range checks {
		if out := exec1(c.args...); !strings.Contains(out, c.want) {
			t.Errorf("%s: %q, want %q", strings.Join(c.args, " "), out, c.want)
		}
	}
}

const enterEnv = "SELFIMAGE_TEST_ENTER"

// enterSpec is what the test's child does in its new namespaces.
type enterSpec struct {
	Root, RW, Dir string
	UID           int
	Env, Args     []string
}

func TestMain(m *testing.M) {
	if v := os.Getenv(enterEnv); v != "" {
		var sp enterSpec
		if err := json.Unmarshal([]byte(v), &sp); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(125)
		}
		fmt.Fprintln(os.Stderr, enter(sp))
		os.Exit(125)
	}
	os.Exit(m.Run())
}

// enter makes sp.Root the root of this process's mount namespace (PID 1 of a new PID namespace), becomes
// sp.UID and executes sp.Args; it returns only on failure.
func enter(sp enterSpec) error {
	runtime.LockOSThread()
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("private mounts: %w", err)
	}
	root := sp.Root
	steps := []struct {
		src, dst, fstype string
		flags            uintptr
	}{
		{root, root, "", unix.MS_BIND | unix.MS_REC},
		{filepath.Join(root, sp.RW), filepath.Join(root, sp.RW), "", unix.MS_BIND},
		{"proc", filepath.Join(root, "proc"), "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{"/dev", filepath.Join(root, "dev"), "", unix.MS_BIND | unix.MS_REC},
		{"tmpfs", filepath.Join(root, "tmp"), "tmpfs", unix.MS_NOSUID | unix.MS_NODEV},
	}
	for _, s := range steps {
		if err := unix.Mount(s.src, s.dst, s.fstype, s.flags, ""); err != nil {
			return fmt.Errorf("mount %s on %s: %w", s.src, s.dst, err)
		}
	}
	if err := unix.Mount("", root, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("read-only root: %w", err)
	}
	if err := unix.Chdir(root); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	if err := unix.Chdir(sp.Dir); err != nil {
		return err
	}
	if err := unix.Setgroups(nil); err != nil {
		return err
	}
	if err := unix.Setresgid(sp.UID, sp.UID, sp.UID); err != nil {
		return err
	}
	if err := unix.Setresuid(sp.UID, sp.UID, sp.UID); err != nil {
		return err
	}
	path := "/usr/bin:/bin"
	for _, kv := range sp.Env {
		if strings.HasPrefix(kv, "PATH=") {
			path = kv[5:]
		}
	}
	prog := sp.Args[0]
	if !strings.Contains(prog, "/") {
		for _, d := range filepath.SplitList(path) {
			if _, err := os.Stat(filepath.Join(d, prog)); err == nil {
				prog = filepath.Join(d, prog)
				break
			}
		}
	}
	return syscall.Exec(prog, sp.Args, sp.Env)
}

// unpack writes the image's file system into dir, as a container runtime would.
func unpack(t *testing.T, img v1.Image, dir string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	setid, n := 0, 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		n++
		if err != nil {
			t.Fatal(err)
		}
		if h.Mode&0o6000 != 0 {
			setid++
		}
		if h.Uid != 0 && !strings.HasPrefix(h.Name, strings.TrimPrefix(selfimage.DataDir, "/")) {
			t.Errorf("%s is owned by %d, not root", h.Name, h.Uid)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) && p != dir {
			t.Fatalf("member %s leaves the root", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			mode := os.FileMode(h.Mode & 0o777)
			if h.Mode&0o1000 != 0 {
				mode |= os.ModeSticky
			}
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode&0o777))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(h.Linkname, p); err != nil {
				t.Fatal(err)
			}
		default:
			t.Errorf("%s: unexpected member type %c", h.Name, h.Typeflag)
		}
	}
	if setid > 0 {
		t.Errorf("%d set-id files in the image", setid)
	}
	// The data directory is the image user's: here, the test's (bubblewrap maps it to 10001).
	if err := os.Chmod(filepath.Join(dir, selfimage.DataDir), 0o700); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return string(out)
}

func tfVersion(t *testing.T, bin string) string {
	cmd := exec.Command(bin, "version", "-json")
	cmd.Env = []string{"CHECKPOINT_DISABLE=1", "TF_CLI_CONFIG_FILE=/dev/null"}
	var v struct {
		Version string `json:"terraform_version"`
	}
	if err := json.Unmarshal([]byte(run(t, cmd)), &v); err != nil || v.Version == "" {
		t.Fatalf("%s version -json: %v", bin, err)
	}
	return v.Version
}

func reachable(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func userCache(t *testing.T) string {
	d, err := os.UserCacheDir()
	if err != nil {
		return t.TempDir()
	}
	return d
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
