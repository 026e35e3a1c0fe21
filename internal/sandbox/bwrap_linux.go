package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// nobody is who the command is inside bubblewrap's user namespace.
const nobody = 65534

// bwrapExec replaces the launcher with bubblewrap running the program: the command sees the same file
// system as in ModeNamespaces (the system's programs and libraries, its work tree, the read-only paths),
// a /proc of its own PID namespace, and a synthetic passwd naming it. bubblewrap stays the program's
// parent, in the launcher's process group, and dies with the launcher's parent.
func bwrapExec(sp spec) error {
	if sp.Bwrap == "" || !filepath.IsAbs(sp.Bwrap) {
		return errors.New("the spec names no bubblewrap executable")
	}
	cwd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	args, err := bwrapArgs(sp, cwd)
	if err != nil {
		return err
	}
	args = append(append(args, "--", sp.Program), os.Args[1:]...)
	return fmt.Errorf("start %s: %w", sp.Bwrap, syscall.Exec(sp.Bwrap, append([]string{"bwrap"}, args...), environWithout(os.Environ())))
}

// bwrapArgs are bubblewrap's options for sp, with the passwd and group files handed over on pipes.
func bwrapArgs(sp spec, cwd string) ([]string, error) {
	host := sp.Hostname
	if host == "" {
		host = "sandbox"
	}
	args := []string{"--unshare-user", "--uid", strconv.Itoa(nobody), "--gid", strconv.Itoa(nobody),
		"--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", host,
		"--die-with-parent", "--cap-drop", "ALL"}
	for _, p := range systemReadOnly {
		fi, err := os.Lstat(p)
		switch {
		case err != nil:
			continue
		case fi.Mode()&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return nil, err
			}
			args = append(args, "--symlink", link, p)
		default:
			args = append(args, "--ro-bind", p, p)
		}
	}
	args = append(args, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp")
	for _, p := range sp.ReadOnly {
		args = append(args, "--ro-bind", p, p)
	}
	for _, p := range sp.ReadWrite {
		args = append(args, "--bind", p, p)
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:%d:%d:runner sandbox:/tmp:/usr/sbin/nologin\n", nobody, nobody)
	group := fmt.Sprintf("root:x:0:\nsandbox:x:%d:\n", nobody)
	for _, f := range []struct{ path, text string }{{"/etc/passwd", passwd}, {"/etc/group", group}} {
		fd, err := pipeWith(f.text)
		if err != nil {
			return nil, fmt.Errorf("hand %s to bubblewrap: %w", f.path, err)
		}
		args = append(args, "--file", strconv.Itoa(fd), f.path)
	}
	return append(args, "--remount-ro", "/", "--chdir", cwd), nil
}

// pipeWith returns the read end of a pipe holding text (small: it fits the pipe's buffer), left open
// across exec for bubblewrap to read.
func pipeWith(text string) (int, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], 0); err != nil {
		return 0, err
	}
	defer unix.Close(p[1])
	if _, err := unix.Write(p[1], []byte(text)); err != nil {
		unix.Close(p[0])
		return 0, err
	}
	return p[0], nil
}
