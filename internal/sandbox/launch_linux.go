package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/gitops-runner/runner/internal/pgroup"
)

// Main runs the launcher when this process was started as one (the spec variable is set) and never
// returns then; otherwise it returns at once. Call it first in main and in TestMain.
func Main() {
	if _, ok := os.LookupEnv(helloEnv); ok {
		fmt.Printf("%s spec %d\n", LauncherName, specVersion)
		os.Exit(0)
	}
	v, ok := os.LookupEnv(specEnv)
	if !ok {
		if probe, ok := os.LookupEnv(probeEnv); ok {
			os.Exit(runProbe(probe))
		}
		return
	}
	sp, err := decodeSpec(v)
	if err != nil {
		fail(err)
	}
	if !sp.Inner {
		if err := lead(sp); err != nil {
			fail(err)
		}
	}
	switch {
	case sp.Mode == ModeNone:
		fail(execProgram(sp))
	case sp.Mode == ModeUser:
		fail(dropAndExec(sp))
	case sp.Mode == ModeBwrap:
		fail(bwrapExec(sp))
	case sp.Mode == ModeNamespaces && !sp.Inner:
		os.Exit(outer(sp))
	case sp.Mode == ModeNamespaces:
		fail(inner(sp))
	}
	fail(fmt.Errorf("unknown sandbox mode %q", sp.Mode))
}

// lead makes the launcher the leader of a process group of its own (terraform-exec starts it so
// already), which the program and everything it starts inherit, and records the group when asked to:
// before the program runs, so that no process of the command exists unrecorded. In namespaces mode
// the outer launcher leads the group; the PID namespace dies with it anyway.
func lead(sp spec) error {
	if unix.Getpgrp() != os.Getpid() {
		if err := unix.Setpgid(0, 0); err != nil {
			return fmt.Errorf("lead a process group: %w", err)
		}
	}
	if sp.Records == "" {
		return nil
	}
	l, err := pgroup.Self()
	if err != nil {
		return err
	}
	return pgroup.Record(sp.Records, l)
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "runner sandbox: %v\n", err)
	os.Exit(125)
}

// execProgram replaces this process with the real program, without the spec in its environment.
func execProgram(sp spec) error {
	args := append([]string{sp.Program}, os.Args[1:]...)
	err := syscall.Exec(sp.Program, args, environWithout(os.Environ()))
	return fmt.Errorf("start %s: %w", sp.Program, err)
}

// dropAndExec becomes the sandbox user, with no way back to privilege, and runs the program.
func dropAndExec(sp spec) error {
	if sp.UID <= 0 || sp.GID <= 0 {
		return errors.New("refusing to run as root: the spec names no sandbox user")
	}
	// The credential calls apply to every thread; no_new_privs is per thread and execve keeps the
	// calling thread's, so the thread is locked until the exec.
	runtime.LockOSThread()
	if err := syscall.Setgroups(sp.Groups); err != nil {
		return fmt.Errorf("set supplementary groups: %w", err)
	}
	// Files the command creates in shared paths stay writable by the next command's user (the
	// shared group); its work tree is its own user's whatever the mode bits of the files in it.
	syscall.Umask(0o002)
	if err := syscall.Setresgid(sp.GID, sp.GID, sp.GID); err != nil {
		return fmt.Errorf("become group %d: %w", sp.GID, err)
	}
	if err := syscall.Setresuid(sp.UID, sp.UID, sp.UID); err != nil {
		return fmt.Errorf("become user %d: %w", sp.UID, err)
	}
	if os.Geteuid() == 0 || os.Getuid() == 0 {
		return errors.New("still root after dropping privileges")
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	// The parent-death signal is cleared by the credential change: set it again.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("set the parent-death signal: %w", err)
	}
	return execProgram(sp)
}

// outer starts the inner launcher in new namespaces, passes signals on, and exits as it does.
func outer(sp spec) int {
	sp.Inner = true
	self, err := os.Executable()
	if err != nil {
		fail(fmt.Errorf("find the launcher: %w", err))
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(environWithout(os.Environ()), specEnv+"="+sp.encode())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
		Pdeathsig:  syscall.SIGKILL,
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	if err := cmd.Start(); err != nil {
		fail(fmt.Errorf("create namespaces: %w", err))
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	signal.Stop(sigs)
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exit.ExitCode()
	}
	if err != nil {
		fail(err)
	}
	return 0
}

// systemReadOnly are the operating system's files a command may need: programs and libraries (git
// for module sources, sh for local-exec), CA certificates and the resolver's files. They hold no
// secret of the runner's.
var systemReadOnly = []string{
	"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
	"/etc/ssl", "/etc/ca-certificates", "/etc/pki", "/etc/alternatives",
	"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf",
	"/etc/localtime", "/etc/services", "/etc/protocols",
}

// inner runs as PID 1 of the new namespaces: it builds the new root, enters it, drops privileges
// and runs the program.
func inner(sp spec) error {
	cwd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	root := sp.Root
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=16m"); err != nil {
		return fmt.Errorf("mount the new root: %w", err)
	}
	// /tmp and /dev first: a work tree or the program may live under /tmp, and binds made before
	// the tmpfs would be hidden by it.
	if err := mkdirMount(root, "/tmp", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return err
	}
	if err := makeDev(root); err != nil {
		return err
	}
	for _, p := range systemReadOnly {
		if err := bind(root, p, true, false); err != nil {
			return err
		}
	}
	for _, p := range sp.ReadOnly {
		if err := bind(root, p, true, true); err != nil {
			return err
		}
	}
	for _, p := range sp.ReadWrite {
		if err := bind(root, p, false, true); err != nil {
			return err
		}
	}
	if err := makeEtc(root, sp); err != nil {
		return err
	}
	if err := mkdirMount(root, "/proc", "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	if err := pivot(root); err != nil {
		return err
	}
	// The new root's own tmpfs (its directories and /etc files) is read-only from here on.
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("make the new root read-only: %w", err)
	}
	if sp.Hostname == "" {
		_ = unix.Sethostname([]byte("sandbox"))
	} else if err := unix.Sethostname([]byte(sp.Hostname)); err != nil {
		// The name identifies the command's state locks: no command runs under another.
		return fmt.Errorf("set the host name %s: %w", sp.Hostname, err)
	}
	if err := os.Chdir(cwd); err != nil {
		return fmt.Errorf("enter the working directory %s: %w", cwd, err)
	}
	return dropAndExec(sp)
}

// bind makes host path p visible at the same path under root. Missing optional paths are skipped;
// a missing required one is an error. Symbolic links are recreated as links (merged-/usr systems
// link /bin to usr/bin).
func bind(root, p string, readOnly, required bool) error {
	p = filepath.Clean(p)
	fi, err := os.Lstat(p)
	if err != nil {
		if !required && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("sandbox path %s: %w", p, err)
	}
	target := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 && !required {
		link, err := os.Readlink(p)
		if err != nil {
			return err
		}
		if err := os.Symlink(link, target); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("link %s: %w", p, err)
		}
		return nil
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return fmt.Errorf("sandbox path %s: %w", p, err)
	}
	if fi, err = os.Stat(real); err != nil {
		return fmt.Errorf("sandbox path %s: %w", p, err)
	}
	if fi.IsDir() {
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
	} else if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
		f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	}
	if err := unix.Mount(real, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", p, err)
	}
	flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_NOSUID)
	if !strings.HasPrefix(p, "/dev/") {
		flags |= unix.MS_NODEV // device files work only where they are bound one by one (/dev/null ...)
	}
	if readOnly {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount("", target, "", flags, ""); err != nil {
		return fmt.Errorf("restrict %s: %w", p, err)
	}
	return nil
}

func mkdirMount(root, p, source, fstype string, flags uintptr, data string) error {
	target := filepath.Join(root, p)
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", fstype, p, err)
	}
	return nil
}

// makeEtc writes a passwd and group naming the sandbox user (git and ssh want a name for the uid).
func makeEtc(root string, sp spec) error {
	etc := filepath.Join(root, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:%d:%d:runner sandbox:/tmp:/usr/sbin/nologin\n", sp.UID, sp.GID)
	group := fmt.Sprintf("root:x:0:\nsandbox:x:%d:\n", sp.GID)
	if err := os.WriteFile(filepath.Join(etc, "passwd"), []byte(passwd), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(etc, "group"), []byte(group), 0o644)
}

// makeDev gives the command the harmless devices only.
func makeDev(root string) error {
	if err := mkdirMount(root, "/dev", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755,size=64k"); err != nil {
		return err
	}
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		if _, err := os.Stat("/dev/" + d); err != nil {
			continue
		}
		if err := bind(root, "/dev/"+d, false, true); err != nil {
			return err
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, filepath.Join(root, "dev", name)); err != nil {
			return err
		}
	}
	return mkdirMount(root, "/dev/shm", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=16m")
}

// pivot makes root the root of this mount namespace and detaches the old one entirely.
func pivot(root string) error {
	old := filepath.Join(root, ".oldroot")
	if err := os.MkdirAll(old, 0o700); err != nil {
		return err
	}
	if err := unix.PivotRoot(root, old); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	if err := unix.Unmount("/.oldroot", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	if err := os.Remove("/.oldroot"); err != nil && !strings.Contains(err.Error(), "busy") {
		return fmt.Errorf("remove the old root's mount point: %w", err)
	}
	return nil
}
