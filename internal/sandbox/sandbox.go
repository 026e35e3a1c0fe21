package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Mode is the isolation a Sandbox gives.
type Mode string

const (
	// ModeNamespaces: a separate user in its own mount, PID, IPC and UTS namespaces.
	ModeNamespaces Mode = "namespaces"
	// ModeUser: a separate user only; the file system and /proc are closed to it by permissions.
	ModeUser Mode = "user"
	// ModeBwrap: bubblewrap, for a runner that is not root: an unprivileged user namespace (the command
	// is "nobody" in it) with its own mount, PID, IPC and UTS namespaces and the same view of the file
	// system as ModeNamespaces. Needs unprivileged user namespaces (refused by Docker's default seccomp
	// profile, and so on ECS Fargate).
	ModeBwrap Mode = "bwrap"
	// ModeNone: no isolation; the command runs as the runner.
	ModeNone Mode = "none"
)

// Wanted values of Config.Want.
const (
	WantAuto       = "auto"
	WantNamespaces = "namespaces"
	WantUser       = "user"
	WantBwrap      = "bwrap"
	WantOff        = "off"
)

// Defaults of Config.
const (
	DefaultUIDBase  = 200000
	DefaultUIDCount = 1000
)

// specEnv carries the launch spec from the runner to the launcher; the launcher removes it from
// the environment before the real program starts.
const specEnv = "RUNNER_SANDBOX_SPEC"

// specVersion is the version of the spec's format. A launcher refuses a spec of another version, and
// New refuses a launcher (other than the runner itself) that speaks another.
const specVersion = 1

// helloEnv asks a launcher which spec version it speaks (it prints "runner-sandbox spec N" and exits).
const helloEnv = "RUNNER_SANDBOX_HELLO"

// LauncherName is the small launcher's file name (cmd/runner-sandbox). The runner uses it when it
// sits beside the runner's own executable: it starts in a few milliseconds where the runner's binary,
// with every package of the runner to initialise, takes 50 ms or more, twice per sandboxed command.
const LauncherName = "runner-sandbox"

// Config sets a Sandbox up.
type Config struct {
	// Want is auto (the strongest isolation that works here), namespaces, user, bwrap or off.
	Want string
	// Bwrap is the bubblewrap executable for ModeBwrap (default: bwrap on PATH).
	Bwrap string
	// Dir is the sandbox's own directory (under the runner's data directory): the mount point of the
	// namespaces' root, the probe's files and copies of read-only inputs that user mode needs.
	Dir string
	// Launcher is the executable that calls Main. Default: LauncherName beside this process's
	// executable when it is there and speaks this spec version, else this process's executable.
	Launcher string
	// UIDBase and UIDCount give the range of user (and group) ids allocated to work trees.
	UIDBase, UIDCount int
	// ReadOnly paths are visible to every command (the Terraform binary, the plugin cache, the CLI
	// configuration); in user mode they must be readable by any user (Expose copies a file that is not).
	ReadOnly []string
	// ReadWrite paths are visible and writable to every command: operator-declared extras such as a
	// local state directory. Keep it empty in production. Share prepares them.
	ReadWrite []string
	// SharedGID is a group every sandboxed command is in (besides its own): the group of the
	// ReadWrite paths. Default UIDBase-1.
	SharedGID int
	Logger    *slog.Logger
}

// Sandbox isolates commands. It is safe for concurrent use.
type Sandbox struct {
	cfg    Config
	mode   Mode
	reason string // why the mode is not stronger

	mu    sync.Mutex
	trees map[string]*tree // work tree -> its user while commands run in it
	used  map[int]bool
}

type tree struct {
	uid, refs int
}

// ErrUnavailable is returned by New when the wanted isolation cannot be had here.
var ErrUnavailable = errors.New("sandbox unavailable")

// New probes what isolation works on this machine and returns a Sandbox giving the strongest one
// that Want allows. With Want auto and nothing working it returns a ModeNone sandbox (its Reason
// says why); with an explicit namespaces or user it returns ErrUnavailable instead.
func New(ctx context.Context, cfg Config) (*Sandbox, error) {
	if cfg.Want == "" {
		cfg.Want = WantAuto
	}
	if cfg.UIDBase <= 0 {
		cfg.UIDBase = DefaultUIDBase
	}
	if cfg.UIDCount <= 0 {
		cfg.UIDCount = DefaultUIDCount
	}
	if cfg.SharedGID <= 0 {
		cfg.SharedGID = cfg.UIDBase - 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("sandbox: find the launcher: %w", err)
	}
	launcher, err := findLauncher(ctx, cfg.Launcher, self, cfg.Logger)
	if err != nil {
		return nil, err
	}
	cfg.Launcher = launcher
	s := &Sandbox{cfg: cfg, trees: map[string]*tree{}, used: map[int]bool{}}
	switch cfg.Want {
	case WantOff:
		s.mode, s.reason = ModeNone, "isolation turned off (RUNNER_SANDBOX=off)"
		return s, nil
	case WantAuto, WantNamespaces, WantUser, WantBwrap:
	default:
		return nil, fmt.Errorf("sandbox: want %q: use auto, namespaces, user, bwrap or off", cfg.Want)
	}
	if cfg.Dir == "" {
		return nil, errors.New("sandbox: Config.Dir is empty")
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox: create %s: %w", cfg.Dir, err)
	}
	if os.Geteuid() == 0 {
		if err := s.share(); err != nil {
			return nil, err
		}
	}
	var reasons []string
	// Root isolates with namespaces and users of its own; a runner that is not root can only ask
	// bubblewrap for an unprivileged user namespace.
	try := []Mode{ModeNamespaces, ModeUser}
	if os.Geteuid() != 0 {
		try = []Mode{ModeBwrap, ModeNamespaces}
	}
	switch cfg.Want {
	case WantNamespaces:
		try = []Mode{ModeNamespaces}
	case WantUser:
		try = []Mode{ModeUser}
	case WantBwrap:
		try = []Mode{ModeBwrap}
	}
	for _, m := range try {
		err := s.probe(ctx, m)
		if err == nil {
			s.mode = m
			s.reason = strings.Join(reasons, "; ")
			return s, nil
		}
		reasons = append(reasons, fmt.Sprintf("%s: %v", m, err))
	}
	if cfg.Want != WantAuto {
		return nil, fmt.Errorf("%w: %s", ErrUnavailable, strings.Join(reasons, "; "))
	}
	s.mode, s.reason = ModeNone, strings.Join(reasons, "; ")
	return s, nil
}

// Mode is the isolation in effect.
func (s *Sandbox) Mode() Mode { return s.mode }

// Isolated reports whether commands run isolated.
func (s *Sandbox) Isolated() bool { return s.mode != ModeNone }

// Reason says why the isolation is not stronger ("" when it is the strongest).
func (s *Sandbox) Reason() string { return s.reason }

// Describe says in one line what a command of untrusted code runs under.
func (s *Sandbox) Describe() string {
	switch s.mode {
	case ModeNamespaces:
		return "separate user in its own mount, PID, IPC and UTS namespaces"
	case ModeBwrap:
		return "bubblewrap: nobody in its own user, mount, PID, IPC and UTS namespaces (the runner is not root)"
	case ModeUser:
		if s.reason == "" {
			return "separate user (namespaces not used: RUNNER_SANDBOX=user)"
		}
		return "separate user (namespaces unavailable: " + s.reason + ")"
	}
	return "not isolated: " + s.reason
}

// Launcher is the executable to start in place of the real program.
func (s *Sandbox) Launcher() string { return s.cfg.Launcher }

// Command describes one command to run isolated.
type Command struct {
	// Program is the real executable (absolute path).
	Program string
	// WorkTree is the directory tree the command may write (absolute). Several commands may run in one
	// tree at once; they share its user.
	WorkTree string
	// ReadOnly adds paths visible to this command only.
	ReadOnly []string
	// Hostname is the command's host name in namespaces mode (default "sandbox"). Terraform names its
	// state locks' holder "<user>@<host name>": a name given per stage attempt makes the locks an attempt
	// takes recognisable after it died (see internal/pipeline's attempts).
	Hostname string
	// Records, when set, is a directory (outside any work tree) where the launcher records the process
	// group it leads (internal/pgroup) before the program starts, so that what is left of the command
	// after the runner died can be killed.
	Records string
}

// validHostname keeps host names to what every resolver and Terraform's lock holder take.
func validHostname(h string) bool {
	if h == "" || len(h) > 63 || h[0] == '-' || h[len(h)-1] == '-' {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// Enter prepares one command: it gives the work tree a user of its own (chowning the tree to it
// when no other command holds it) and returns the variables to add to the launcher's environment:
// the spec, and HOME and TMPDIR inside the work tree. Call release when the command has ended: the
// last release hands the tree back to the runner's user. With ModeNone the spec only names the
// program, which the launcher executes as it is.
func (s *Sandbox) Enter(ctx context.Context, cmd Command) (env map[string]string, release func(), err error) {
	if !filepath.IsAbs(cmd.Program) || !filepath.IsAbs(cmd.WorkTree) {
		return nil, nil, fmt.Errorf("sandbox: program and work tree must be absolute paths (%q, %q)", cmd.Program, cmd.WorkTree)
	}
	if cmd.Hostname != "" && !validHostname(cmd.Hostname) {
		return nil, nil, fmt.Errorf("sandbox: host name %q: use 1-63 lower-case letters, digits and '-'", cmd.Hostname)
	}
	if cmd.Records != "" && !filepath.IsAbs(cmd.Records) {
		return nil, nil, fmt.Errorf("sandbox: records directory must be an absolute path (%q)", cmd.Records)
	}
	sp := spec{Mode: s.mode, Program: cmd.Program, Hostname: cmd.Hostname, Records: cmd.Records}
	if s.mode == ModeNone {
		return map[string]string{specEnv: sp.encode()}, func() {}, nil
	}
	if s.mode == ModeBwrap {
		// The user namespace maps the command's user to the runner's: what it writes is the runner's, so
		// the tree needs no user of its own; what it may see is what is bound into its namespace.
		home, tmp := filepath.Join(cmd.WorkTree, ".sandbox", "home"), filepath.Join(cmd.WorkTree, ".sandbox", "tmp")
		for _, d := range []string{home, tmp} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, nil, fmt.Errorf("sandbox: %w", err)
			}
		}
		sp.Bwrap = s.cfg.Bwrap
		sp.ReadWrite = append([]string{cmd.WorkTree}, s.cfg.ReadWrite...)
		sp.ReadOnly = append(append([]string{cmd.Program}, s.cfg.ReadOnly...), cmd.ReadOnly...)
		return map[string]string{specEnv: sp.encode(), "HOME": home, "TMPDIR": tmp}, func() {}, nil
	}
	if s.mode == ModeUser {
		// The command reaches its tree by path (HOME, TMPDIR, plan files) through these directories.
		if err := searchable(filepath.Dir(cmd.WorkTree)); err != nil {
			return nil, nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	private := filepath.Join(cmd.WorkTree, ".sandbox")
	home, tmp := filepath.Join(private, "home"), filepath.Join(private, "tmp")
	for _, d := range []string{home, tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	uid, release, err := s.hold(cmd.WorkTree)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range []string{private, home, tmp} {
		if err := os.Lchown(d, uid, uid); err != nil {
			release()
			return nil, nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	sp.UID, sp.GID, sp.Groups = uid, uid, []int{s.cfg.SharedGID}
	sp.Root = filepath.Join(s.cfg.Dir, "root")
	sp.ReadWrite = append([]string{cmd.WorkTree}, s.cfg.ReadWrite...)
	sp.ReadOnly = append(append([]string{cmd.Program}, s.cfg.ReadOnly...), cmd.ReadOnly...)
	return map[string]string{specEnv: sp.encode(), "HOME": home, "TMPDIR": tmp}, release, nil
}

// hold allocates (or shares) the work tree's user, chowning the tree on first use.
func (s *Sandbox) hold(dir string) (int, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.trees[dir]
	if t == nil {
		uid := -1
		for i := 0; i < s.cfg.UIDCount; i++ {
			if !s.used[s.cfg.UIDBase+i] {
				uid = s.cfg.UIDBase + i
				break
			}
		}
		if uid < 0 {
			return 0, nil, fmt.Errorf("sandbox: all %d sandbox users are in use", s.cfg.UIDCount)
		}
		if err := chownTree(dir, uid, uid); err != nil {
			return 0, nil, fmt.Errorf("sandbox: give %s to its user: %w", dir, err)
		}
		t = &tree{uid: uid}
		s.trees[dir] = t
		s.used[uid] = true
	}
	t.refs++
	var once sync.Once
	return t.uid, func() { once.Do(func() { s.let(dir, t) }) }, nil
}

func (s *Sandbox) let(dir string, t *tree) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.refs--
	if t.refs > 0 {
		return
	}
	// Hand the tree back before its user can be given to another tree: a user that keeps files of
	// an earlier tree could read them from the next one's commands.
	if err := chownTree(dir, os.Geteuid(), os.Getegid()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.cfg.Logger.Warn("sandbox: hand a work tree back to the runner", "dir", dir, "err", err)
	}
	delete(s.trees, dir)
	delete(s.used, t.uid)
}

// chownTree gives every file of dir (symbolic links themselves, not their targets) to uid:gid.
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != dir {
				return nil // removed while walking
			}
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
}

// spec is what the launcher is told.
type spec struct {
	Version   int      `json:"v"`
	Mode      Mode     `json:"mode"`
	Program   string   `json:"program"`
	UID       int      `json:"uid,omitempty"`
	GID       int      `json:"gid,omitempty"`
	Groups    []int    `json:"groups,omitempty"` // supplementary groups
	Root      string   `json:"root,omitempty"`   // mount point of the namespaces' root
	ReadWrite []string `json:"rw,omitempty"`
	ReadOnly  []string `json:"ro,omitempty"`
	Inner     bool     `json:"inner,omitempty"` // the process inside the new namespaces
	Hostname  string   `json:"hostname,omitempty"`
	Records   string   `json:"records,omitempty"` // where the launcher records its process group
	Bwrap     string   `json:"bwrap,omitempty"`   // ModeBwrap: the bubblewrap executable
}

func (sp spec) encode() string {
	sp.Version = specVersion
	b, _ := json.Marshal(sp) // plain strings and ints: never fails
	return string(b)
}

func decodeSpec(v string) (spec, error) {
	var sp spec
	if err := json.Unmarshal([]byte(v), &sp); err != nil {
		return spec{}, fmt.Errorf("sandbox spec: %w", err)
	}
	if sp.Version != specVersion {
		return spec{}, fmt.Errorf("sandbox spec version %d, but this launcher speaks version %d: install the %s built with this runner", sp.Version, specVersion, LauncherName)
	}
	if sp.Program == "" {
		return spec{}, errors.New("sandbox spec names no program")
	}
	return sp, nil
}

// environWithout returns environ without the spec variable.
func environWithout(environ []string) []string {
	return slices.DeleteFunc(slices.Clone(environ), func(kv string) bool { return strings.HasPrefix(kv, specEnv+"=") })
}

// share makes the operator's read-write paths writable by every sandboxed command: they are given
// to the shared group (new files inherit it), readable and writable by the group, closed to others.
func (s *Sandbox) share() error {
	for _, dir := range s.cfg.ReadWrite {
		if err := os.MkdirAll(dir, 0o770); err != nil {
			return fmt.Errorf("sandbox: create %s: %w", dir, err)
		}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := os.Lchown(p, -1, s.cfg.SharedGID); err != nil {
				return err
			}
			if d.Type()&fs.ModeSymlink != 0 {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			mode := info.Mode().Perm()&^0o007 | 0o060
			if d.IsDir() {
				mode |= 0o010 | fs.ModeSetgid
			}
			return os.Chmod(p, mode)
		})
		if err != nil {
			return fmt.Errorf("sandbox: share %s with the sandbox users: %w", dir, err)
		}
	}
	return nil
}
