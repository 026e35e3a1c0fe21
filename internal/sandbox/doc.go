// Package sandbox runs a command of untrusted code (Terraform on a pull request's configuration)
// isolated from the runner: as a separate unprivileged user and, where the kernel allows, in its own
// mount, PID, IPC and UTS namespaces with a root file system that holds only what the command needs.
//
// The runner's own executable is the launcher. A caller asks Enter for the environment of one
// command and starts the launcher (Launcher()) in place of the real program; the launcher, seeing
// the spec variable, builds the isolation and executes the real program. Main must therefore be the
// first thing the runner's main (and the TestMain of packages whose tests start sandboxed commands)
// calls.
//
// What the command sees, in namespaces mode: its work tree (read-write), the paths the caller
// names read-only (the Terraform binary, the provider plugin cache, the CLI configuration), the
// operating system's programs and libraries (/usr, /bin, /lib: read-only, nosuid), CA certificates
// and resolver files from /etc, a synthetic /etc/passwd, a fresh /proc of its own PID namespace, a
// minimal /dev, and a private /tmp. In user mode (namespaces refused, e.g. on ECS Fargate) it runs as
// a user of its own, allocated per work tree, which owns nothing of the runner's: the data directory,
// key files and the runner's /proc entries are closed to it by ordinary permissions.
package sandbox
