// Package fakeecr is an in-process stand-in for the Amazon ECR control-plane API (JSON 1.1 over POST /),
// reached by the real aws-sdk-go-v2 ECR client through BaseEndpoint. Image bytes live in a real registry.
package fakeecr

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const targetPrefix = "AmazonEC2ContainerRegistry_V20150921."

// Images answers which digest a repository's tag or digest names in the backing registry; ok is false
// when the image is not there. The fake uses it for DescribeImages and to find the image of a scan.
type Images func(repo, reference string) (digest string, ok bool)

// Options configure a Server.
type Options struct {
	// RegistryURL is the real registry the proxy endpoint and repository URIs point at (http://127.0.0.1:port).
	RegistryURL string
	// Password is the registry password handed out as base64("AWS:<Password>").
	Password string
	// AccountID defaults to 123456789012; Region to us-east-1 (only used in ARNs).
	AccountID, Region string
	// Images looks images up in the registry; nil means no image exists.
	Images Images
	// ScanPolls is how many DescribeImageScanFindings calls answer IN_PROGRESS before COMPLETE (default 1).
	ScanPolls int
}

// Repository is what the fake knows about a repository.
type Repository struct {
	Name       string
	URI        string
	Immutable  bool
	ScanOnPush bool
	Created    time.Time
}

// Server is a running fake. Create it with New and Close it when done.
type Server struct {
	URL string

	opt      Options
	regHost  string
	srv      *httptest.Server
	mu       sync.Mutex
	repos    map[string]*Repository
	findings map[string]map[string]int32 // digest -> severity -> count
	polls    map[string]int              // digest -> DescribeImageScanFindings calls so far
	calls    []string
}

// New starts the fake on 127.0.0.1.
func New(opt Options) *Server {
	if opt.AccountID == "" {
		opt.AccountID = "123456789012"
	}
	if opt.Region == "" {
		opt.Region = "us-east-1"
	}
	if opt.ScanPolls == 0 {
		opt.ScanPolls = 1
	}
	s := &Server{
		opt:      opt,
		regHost:  strings.TrimPrefix(strings.TrimPrefix(opt.RegistryURL, "http://"), "https://"),
		repos:    map[string]*Repository{},
		findings: map[string]map[string]int32{},
		polls:    map[string]int{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// AddRepository creates a repository as if CreateRepository had been called.
func (s *Server) AddRepository(name string, immutable, scanOnPush bool) Repository {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.addLocked(name, immutable, scanOnPush)
}

// HasRepository reports whether the repository exists; pass it to the registry's repository check.
func (s *Server) HasRepository(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.repos[name]
	return ok
}

// Repository returns the repository and whether it exists.
func (s *Server) Repository(name string) (Repository, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[name]
	if !ok {
		return Repository{}, false
	}
	return *r, true
}

// SetFindings sets the severity counts the scan of digest reports once complete.
func (s *Server) SetFindings(digest string, counts map[string]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.findings[digest] = counts
}

// Calls returns the operation names received, in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *Server) addLocked(name string, immutable, scanOnPush bool) *Repository {
	r := &Repository{
		Name: name, URI: s.regHost + "/" + name, Immutable: immutable, ScanOnPush: scanOnPush,
		Created: time.Now().UTC().Truncate(time.Second),
	}
	s.repos[name] = r
	return r
}

type apiError struct {
	Type, Message string
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		writeErr(w, apiError{"UnknownOperationException", "POST / only"})
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if !ok {
		writeErr(w, apiError{"UnknownOperationException", "missing or unknown X-Amz-Target"})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		writeErr(w, apiError{"SerializationException", "unexpected Content-Type " + ct})
		return
	}
	var in map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeErr(w, apiError{"SerializationException", err.Error()})
		return
	}
	s.mu.Lock()
	s.calls = append(s.calls, op)
	s.mu.Unlock()

	var out any
	var aerr *apiError
	switch op {
	case "GetAuthorizationToken":
		out = s.getAuthorizationToken()
	case "DescribeRepositories":
		out, aerr = s.describeRepositories(in)
	case "CreateRepository":
		out, aerr = s.createRepository(in)
	case "DescribeImages":
		out, aerr = s.describeImages(in)
	case "DescribeImageScanFindings":
		out, aerr = s.describeImageScanFindings(in)
	default:
		aerr = &apiError{"UnknownOperationException", "operation " + op + " is not faked"}
	}
	if aerr != nil {
		writeErr(w, *aerr)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func writeErr(w http.ResponseWriter, e apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.Type, "message": e.Message})
}

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func (s *Server) getAuthorizationToken() any {
	tok := base64.StdEncoding.EncodeToString([]byte("AWS:" + s.opt.Password))
	return map[string]any{"authorizationData": []map[string]any{{
		"authorizationToken": tok,
		"expiresAt":          epoch(time.Now().Add(12 * time.Hour)),
		"proxyEndpoint":      s.opt.RegistryURL,
	}}}
}

func (s *Server) repoJSON(r *Repository) map[string]any {
	mut := "MUTABLE"
	if r.Immutable {
		mut = "IMMUTABLE"
	}
	return map[string]any{
		"repositoryArn":              fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", s.opt.Region, s.opt.AccountID, r.Name),
		"registryId":                 s.opt.AccountID,
		"repositoryName":             r.Name,
		"repositoryUri":              r.URI,
		"createdAt":                  epoch(r.Created),
		"imageTagMutability":         mut,
		"imageScanningConfiguration": map[string]bool{"scanOnPush": r.ScanOnPush},
		"encryptionConfiguration":    map[string]string{"encryptionType": "AES256"},
	}
}

func str(in map[string]json.RawMessage, key string) string {
	var v string
	_ = json.Unmarshal(in[key], &v)
	return v
}

func (s *Server) describeRepositories(in map[string]json.RawMessage) (any, *apiError) {
	var names []string
	_ = json.Unmarshal(in["repositoryNames"], &names)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	if len(names) == 0 {
		for _, r := range s.repos {
			out = append(out, s.repoJSON(r))
		}
	}
	for _, n := range names {
		r, ok := s.repos[n]
		if !ok {
			return nil, &apiError{"RepositoryNotFoundException", fmt.Sprintf(
				"The repository with name '%s' does not exist in the registry with id '%s'", n, s.opt.AccountID)}
		}
		out = append(out, s.repoJSON(r))
	}
	return map[string]any{"repositories": out}, nil
}

func (s *Server) createRepository(in map[string]json.RawMessage) (any, *apiError) {
	name := str(in, "repositoryName")
	if name == "" || strings.ToLower(name) != name {
		return nil, &apiError{"InvalidParameterException", "invalid repositoryName " + name}
	}
	var scan struct {
		ScanOnPush bool `json:"scanOnPush"`
	}
	_ = json.Unmarshal(in["imageScanningConfiguration"], &scan)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.repos[name]; ok {
		return nil, &apiError{"RepositoryAlreadyExistsException", fmt.Sprintf(
			"The repository with name '%s' already exists in the registry with id '%s'", name, s.opt.AccountID)}
	}
	r := s.addLocked(name, str(in, "imageTagMutability") == "IMMUTABLE", scan.ScanOnPush)
	return map[string]any{"repository": s.repoJSON(r)}, nil
}

type imageID struct {
	ImageDigest string `json:"imageDigest,omitempty"`
	ImageTag    string `json:"imageTag,omitempty"`
}

// resolve finds the digest of id in repo, or returns the error ECR would.
func (s *Server) resolve(repo string, id imageID) (string, *apiError) {
	s.mu.Lock()
	_, ok := s.repos[repo]
	s.mu.Unlock()
	if !ok {
		return "", &apiError{"RepositoryNotFoundException", fmt.Sprintf(
			"The repository with name '%s' does not exist in the registry with id '%s'", repo, s.opt.AccountID)}
	}
	ref := id.ImageDigest
	if ref == "" {
		ref = id.ImageTag
	}
	if ref != "" && s.opt.Images != nil {
		if d, ok := s.opt.Images(repo, ref); ok {
			return d, nil
		}
	}
	return "", &apiError{"ImageNotFoundException", fmt.Sprintf(
		"The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name '%s' in the registry with id '%s'",
		id.ImageDigest, id.ImageTag, repo, s.opt.AccountID)}
}

func (s *Server) describeImages(in map[string]json.RawMessage) (any, *apiError) {
	repo := str(in, "repositoryName")
	var ids []imageID
	_ = json.Unmarshal(in["imageIds"], &ids)
	var out []map[string]any
	for _, id := range ids {
		d, aerr := s.resolve(repo, id)
		if aerr != nil {
			return nil, aerr
		}
		detail := map[string]any{
			"registryId": s.opt.AccountID, "repositoryName": repo, "imageDigest": d,
			"imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",
		}
		if id.ImageTag != "" {
			detail["imageTags"] = []string{id.ImageTag}
		}
		out = append(out, detail)
	}
	return map[string]any{"imageDetails": out}, nil
}

func (s *Server) describeImageScanFindings(in map[string]json.RawMessage) (any, *apiError) {
	repo := str(in, "repositoryName")
	var id imageID
	_ = json.Unmarshal(in["imageId"], &id)
	d, aerr := s.resolve(repo, id)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	counts, configured := s.findings[d]
	if !configured && !s.repos[repo].ScanOnPush {
		return nil, &apiError{"ScanNotFoundException", fmt.Sprintf(
			"Image scan does not exist for the image with '{imageDigest:%s}' in the repository with name '%s' in the registry with id '%s'",
			d, repo, s.opt.AccountID)}
	}
	s.polls[d]++
	out := map[string]any{
		"registryId": s.opt.AccountID, "repositoryName": repo,
		"imageId": imageID{ImageDigest: d, ImageTag: id.ImageTag},
	}
	if s.polls[d] <= s.opt.ScanPolls {
		out["imageScanStatus"] = map[string]string{"status": "IN_PROGRESS", "description": "scan in progress"}
		return out, nil
	}
	out["imageScanStatus"] = map[string]string{"status": "COMPLETE", "description": "The scan was completed successfully."}
	out["imageScanFindings"] = map[string]any{
		"imageScanCompletedAt": epoch(time.Now()), "findingSeverityCounts": counts, "findings": []any{},
	}
	return out, nil
}

// RegistryImages looks images up in a real registry (host:port) with the given credentials; pass it as
// Options.Images so DescribeImages answers from what was actually pushed.
func RegistryImages(registryHost string, auth authn.Authenticator) Images {
	return func(repo, reference string) (string, bool) {
		sep := ":"
		if strings.HasPrefix(reference, "sha256:") {
			sep = "@"
		}
		ref, err := name.ParseReference(registryHost+"/"+repo+sep+reference, name.Insecure)
		if err != nil {
			return "", false
		}
		desc, err := remote.Head(ref, remote.WithAuth(auth))
		if err != nil {
			return "", false
		}
		return desc.Digest.String(), true
	}
}
