package tf

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// killLeftovers kills processes still carrying a stopped command's marker variable. Terraform exits
// on interrupt, but what it started does not always follow: local-exec kills its `sh -c` and leaves
// the shell's children running (observed with Terraform 1.5.7), and a provider killed after the grace
// period orphans its own children. Every process Terraform starts inherits the marker unless it
// rewrites its environment, so this finds them even if they left Terraform's process group.
func killLeftovers(key, value string) int {
	needle := []byte(key + "=" + value + "\x00")
	self := os.Getpid()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	killed := 0
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !bytes.Contains(env, needle) {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed++
		}
	}
	return killed
}
