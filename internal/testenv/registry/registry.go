// Package registry runs go-containerregistry's in-process OCI registry on 127.0.0.1 for tests and the demo,
// with the parts of a real registry (ECR) the runner depends on: basic auth, immutable tags, upload accounting.
package registry

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// Server is a running registry. Its zero value is not usable; call New.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234.
	URL string
	// Host is the URL's host:port, the registry part of an image reference.
	Host string

	srv       *httptest.Server
	inner     http.Handler
	user, pw  string
	immutable bool
	repoOK    func(string) bool

	mu           sync.Mutex // serialises manifest PUTs so the immutable check and the write are atomic
	uploadBytes  atomic.Int64
	blobUploads  atomic.Int64
	manifestPuts atomic.Int64
}

// Option configures a Server.
type Option func(*Server)

// WithBasicAuth makes every /v2/ request require these credentials, answering 401 with a Basic challenge
// otherwise, as ECR does for the token from GetAuthorizationToken.
func WithBasicAuth(user, password string) Option {
	return func(s *Server) { s.user, s.pw = user, password }
}

// WithImmutableTags rejects a manifest PUT to an existing tag that points at a different digest, with the
// error ECR returns for repositories with ImageTagMutability IMMUTABLE. Re-pushing the same digest succeeds.
func WithImmutableTags() Option { return func(s *Server) { s.immutable = true } }

// WithRepositoryCheck rejects pushes to repositories for which exists returns false (NAME_UNKNOWN), as
// ECR does for a repository that was never created.
func WithRepositoryCheck(exists func(repo string) bool) Option {
	return func(s *Server) { s.repoOK = exists }
}

// New starts a registry on 127.0.0.1. Close it when done.
func New(opts ...Option) *Server {
	s := &Server{inner: ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	s.Host = strings.TrimPrefix(s.srv.URL, "http://")
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// UploadedBytes is the number of request-body bytes received by blob upload endpoints
// (POST/PATCH/PUT /v2/<repo>/blobs/uploads/...) since start or the last ResetCounters.
func (s *Server) UploadedBytes() int64 { return s.uploadBytes.Load() }

// BlobUploads is the number of completed blob uploads (a PUT that finishes an upload session, or a
// monolithic POST with a digest).
func (s *Server) BlobUploads() int64 { return s.blobUploads.Load() }

// ManifestPuts is the number of manifest PUT requests received.
func (s *Server) ManifestPuts() int64 { return s.manifestPuts.Load() }

// ResetCounters zeroes UploadedBytes, BlobUploads and ManifestPuts.
func (s *Server) ResetCounters() {
	s.uploadBytes.Store(0)
	s.blobUploads.Store(0)
	s.manifestPuts.Store(0)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.user != "" && strings.HasPrefix(r.URL.Path, "/v2") {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(s.user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(s.pw)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+s.URL+`"`)
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
			return
		}
	}
	repo, kind, ref := split(r.URL.Path)
	if s.repoOK != nil && repo != "" && (r.Method == http.MethodPut || r.Method == http.MethodPost ||
		r.Method == http.MethodPatch) && !s.repoOK(repo) {
		writeError(w, http.StatusNotFound, "NAME_UNKNOWN",
			fmt.Sprintf("The repository with name '%s' does not exist in the registry", repo))
		return
	}
	switch {
	case kind == "blobs" && strings.HasPrefix(ref, "uploads") && r.Method != http.MethodGet &&
		r.Method != http.MethodHead && r.Method != http.MethodDelete:
		if r.Body != nil {
			r.Body = &countingBody{ReadCloser: r.Body, n: &s.uploadBytes}
		}
		if r.Method == http.MethodPut || (r.Method == http.MethodPost && r.URL.Query().Get("digest") != "") {
			s.blobUploads.Add(1)
		}
	case kind == "manifests" && r.Method == http.MethodPut:
		s.manifestPuts.Add(1)
		s.putManifest(w, r, repo, ref)
		return
	}
	s.inner.ServeHTTP(w, r)
}

// putManifest enforces immutable tags before handing the PUT to the registry.
func (s *Server) putManifest(w http.ResponseWriter, r *http.Request, repo, ref string) {
	if !s.immutable || strings.HasPrefix(ref, "sha256:") {
		s.inner.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", err.Error())
		return
	}
	sum := sha256.Sum256(body)
	want := "sha256:" + hex.EncodeToString(sum[:])

	s.mu.Lock()
	defer s.mu.Unlock()
	head := httptest.NewRecorder()
	hr := httptest.NewRequestWithContext(r.Context(), http.MethodHead, r.URL.Path, nil)
	s.inner.ServeHTTP(head, hr)
	if head.Code == http.StatusOK {
		if have := head.Header().Get("Docker-Content-Digest"); have != want {
			writeError(w, http.StatusBadRequest, "TAG_INVALID", fmt.Sprintf(
				"The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the repository is immutable.",
				ref, repo))
			return
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	s.inner.ServeHTTP(w, r)
}

// split parses /v2/<repo>/<kind>/<ref...> where kind is blobs, manifests or tags.
func split(p string) (repo, kind, ref string) {
	p = strings.TrimPrefix(p, "/v2/")
	for _, k := range []string{"/blobs/", "/manifests/", "/tags/"} {
		if i := strings.LastIndex(p, k); i > 0 {
			return p[:i], strings.Trim(k, "/"), p[i+len(k):]
		}
	}
	return "", "", ""
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]string{{"code": code, "message": msg}},
	})
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}
