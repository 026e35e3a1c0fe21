// Package gitserver serves git repositories over smart HTTP on 127.0.0.1 with
// the real `git http-backend`, behind token auth like GitHub's (user
// x-access-token, password = the token).
package gitserver

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Server is a running git HTTP server.
type Server struct {
	*httptest.Server
	Root  string // directory holding <owner>/<name>.git repositories
	Token string // the one token Start accepts; empty with StartVerifying
}

// Start serves the repositories under root to requests that carry token (none
// needed when token is empty). It fails when git is not installed.
func Start(root, token string) (*Server, error) {
	if token == "" {
		return start(root, "", nil)
	}
	return start(root, token, func(got string) bool {
		return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
	})
}

// StartVerifying serves the repositories under root to requests whose token
// valid accepts, asked on every request: as GitHub accepts the installation
// tokens it minted and not yet expired.
func StartVerifying(root string, valid func(token string) bool) (*Server, error) {
	if valid == nil {
		return nil, fmt.Errorf("git http server: no token check")
	}
	return start(root, "", valid)
}

func start(root, token string, valid func(string) bool) (*Server, error) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("git http server: %w", err)
	}
	out, err := exec.Command(gitBin, "--exec-path").Output()
	if err != nil {
		return nil, fmt.Errorf("git --exec-path: %w", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		return nil, fmt.Errorf("git http-backend: %w", err)
	}
	h := &cgi.Handler{
		Path: backend,
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	s := &Server{Root: root, Token: token}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if valid != nil {
			_, pw, ok := r.BasicAuth()
			if !ok || !valid(pw) {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	return s, nil
}

// URL returns the clone URL of owner/name.
func (s *Server) URL(repo string) string { return s.Server.URL + "/" + repo + ".git" }
