package gitrepo

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Transport is how a mirror fetches from its remote. Reading (work trees, diffs, merge bases) is
// go-git's either way; only the fetch differs.
type Transport string

// The transports. TransportAuto takes the git CLI when a recent enough one is on PATH, else go-git.
const (
	TransportAuto  Transport = "auto"
	TransportGoGit Transport = "go-git"
	TransportGit   Transport = "git"
)

// ParseTransport reads a transport setting; "" is TransportAuto.
func ParseTransport(s string) (Transport, error) {
	switch t := Transport(strings.ToLower(strings.TrimSpace(s))); t {
	case "":
		return TransportAuto, nil
	case TransportAuto, TransportGoGit, TransportGit:
		return t, nil
	}
	return "", fmt.Errorf("git transport %q: want auto, go-git or git", s)
}

// Option configures Mirrors.
type Option func(*Mirrors)

// WithTransport chooses the fetch transport (default TransportAuto).
func WithTransport(t Transport) Option { return func(m *Mirrors) { m.transport = t } }

// WithGitBinary names the git CLI the git transport runs (default: git on PATH).
func WithGitBinary(path string) Option { return func(m *Mirrors) { m.gitBin = path } }

// The oldest git CLI the git transport runs: GIT_CONFIG_COUNT (the token as a header, never in argv)
// arrived in 2.31.
const (
	minGitMajor = 2
	minGitMinor = 31
)

var gitVersionRE = regexp.MustCompile(`^git version (\d+)\.(\d+)`)

// resolveTransport decides, once per Mirrors, which transport Auto means and checks that an explicit
// git transport can run. It returns the transport and the git binary's path.
func resolveTransport(ctx context.Context, t Transport, bin string) (Transport, string, string, error) {
	if t == TransportGoGit {
		return TransportGoGit, "", "go-git", nil
	}
	if bin == "" {
		bin = "git"
	}
	path, version, err := gitCLI(ctx, bin)
	if err != nil {
		if t == TransportGit {
			return "", "", "", fmt.Errorf("git transport: %w", err)
		}
		return TransportGoGit, "", fmt.Sprintf("go-git (the git CLI is not usable: %v)", err), nil
	}
	return TransportGit, path, "git CLI " + version + " at " + path, nil
}

// gitCLI finds bin and checks its version.
func gitCLI(ctx context.Context, bin string) (path, version string, err error) {
	path, err = exec.LookPath(bin)
	if err != nil {
		return "", "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "version")
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C", "GIT_CONFIG_NOSYSTEM=1"}
	out, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("%s version: %w", path, err)
	}
	line := strings.TrimSpace(string(out))
	m := gitVersionRE.FindStringSubmatch(line)
	if m == nil {
		return "", "", fmt.Errorf("%s version: unexpected answer %.100q", path, line)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if major < minGitMajor || (major == minGitMajor && minor < minGitMinor) {
		return "", "", fmt.Errorf("%s is git %d.%d, older than %d.%d", path, major, minor, minGitMajor, minGitMinor)
	}
	return path, strings.TrimPrefix(line, "git version "), nil
}
