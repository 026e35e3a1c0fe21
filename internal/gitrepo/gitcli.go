package gitrepo

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gitops-runner/runner/internal/proc"
)

// cliStopGrace is how long a cancelled git fetch gets to stop before its process group is killed.
const cliStopGrace = 5 * time.Second

// fetchCLI fetches into the mirror with the git CLI: `git fetch --prune` of the mirror's refspecs from
// the URL itself (the mirror's own remote configuration plays no part).
//
// The git run here reads no configuration but what is set below: not the system's, not the user's
// (GIT_CONFIG_NOSYSTEM, GIT_CONFIG_GLOBAL=/dev/null), no credential helper, no prompt, no hooks, only
// the http, https and file protocols. The token travels as an Authorization header set through
// GIT_CONFIG_* variables, scoped to the repository's URL: never in argv (which every user of the
// machine can read in /proc) nor in a file. Auto maintenance runs in the foreground, inside the fetch,
// so that it never repacks under a reader: readers wait on the mirror's lock while a fetch runs.
func (m *Mirror) fetchCLI(ctx context.Context, token string, progress io.Writer) error {
	args := []string{"--git-dir", m.path, "fetch", "--quiet", "--progress", "--prune", "--force", "--no-tags",
		"--no-write-fetch-head", "--no-recurse-submodules", m.url}
	for _, s := range fetchSpecs {
		args = append(args, s.String())
	}
	return m.runGit(ctx, token, progress, "git fetch", args...)
}

// cloneCLI makes the mirror with git clone: a bare repository whose remote fetches the mirror's refspecs
// (branches, tags, pull request heads), kept in its configuration for the fetches that follow.
func (m *Mirror) cloneCLI(ctx context.Context, token string, progress io.Writer) error {
	args := []string{"clone", "--bare", "--quiet", "--progress", "--no-tags", "--no-recurse-submodules",
		"--template=", "-c", "core.hooksPath=" + os.DevNull}
	for _, s := range fetchSpecs[1:] { // the first, branches, is what --bare fetches
		args = append(args, "-c", "remote.origin.fetch="+s.String())
	}
	args = append(args, "--", m.url, m.path)
	return m.runGit(ctx, token, progress, "git clone", args...)
}

// runGit runs the git CLI as described at fetchCLI; what names the command in errors.
func (m *Mirror) runGit(ctx context.Context, token string, progress io.Writer, what string, args ...string) error {
	cmd := m.gitCommand(ctx, token, args...)
	tail := &tailBuffer{max: 4096}
	var stderr io.Writer = tail
	if progress != nil {
		stderr = io.MultiWriter(tail, progress)
	}
	cmd.Stderr = stderr
	cmd.Stdout = io.Discard
	err := cmd.Run()
	proc.Reap(cmd)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	said := tail.errorLines()
	if kind := cliErrorKind(said); kind != nil {
		return fmt.Errorf("%w (%s: %s)", kind, what, said)
	}
	return fmt.Errorf("%s: %w: %s", what, err, said)
}

// gitCommand is git with args, run in the mirror's parent folder with only the configuration set here
// (see fetchCLI) and, when token is set, the token as an Authorization header scoped to the URL.
func (m *Mirror) gitCommand(ctx context.Context, token string, args ...string) *exec.Cmd {
	cmd := proc.Command(ctx, cliStopGrace, m.gitBin, args...)
	cmd.Dir = filepath.Dir(m.path)
	cfg := [][2]string{
		{"gc.autoDetach", "false"},
		{"maintenance.autoDetach", "false"},
		{"core.hooksPath", os.DevNull},
		{"credential.helper", ""},
		{"protocol.allow", "never"},
		{"protocol.http.allow", "always"},
		{"protocol.https.allow", "always"},
		{"protocol.file.allow", "always"},
	}
	if token != "" {
		basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
		cfg = append(cfg, [2]string{"http." + m.url + ".extraHeader", "Authorization: Basic " + basic})
	}
	env := append(proc.Inherit(os.Environ(), nil, nil),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=", "SSH_ASKPASS=", "LC_ALL=C", "LANG=C",
		"GIT_CONFIG_COUNT="+strconv.Itoa(len(cfg)))
	for i, kv := range cfg {
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	cmd.Env = env
	return cmd
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// errorLines is git's "fatal:" and "error:" lines, or its last line when it printed none, sanitised
// (the text may quote the server).
func (t *tailBuffer) errorLines() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var picked, all []string
	for _, l := range bytes.FieldsFunc(t.buf, func(r rune) bool { return r == '\n' || r == '\r' }) {
		s := sanitize(string(l))
		if s == "" {
			continue
		}
		all = append(all, s)
		if strings.HasPrefix(s, "fatal:") || strings.HasPrefix(s, "error:") {
			picked = append(picked, s)
		}
	}
	if len(picked) == 0 && len(all) > 0 {
		picked = all[len(all)-1:]
	}
	if len(picked) == 0 {
		return "no output"
	}
	return strings.Join(picked, "; ")
}

// cliErrorKind maps what git said to the errors both transports return, or nil.
func cliErrorKind(said string) error {
	switch {
	case strings.Contains(said, "could not read Username"), strings.Contains(said, "could not read Password"),
		strings.Contains(said, "Authentication failed"), strings.Contains(said, "returned error: 401"),
		strings.Contains(said, "returned error: 403"):
		return ErrAuth
	case strings.Contains(said, "not found") && strings.Contains(said, "repository"),
		strings.Contains(said, "does not appear to be a git repository"), strings.Contains(said, "returned error: 404"):
		return ErrRepoNotFound
	}
	return nil
}
