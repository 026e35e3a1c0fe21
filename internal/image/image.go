// Package image builds container images for Go apps without a Docker daemon (go build + go-containerregistry)
// and publishes them to a registry by commit tag, handing back repository@digest for deployment.
package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DefaultBaseImage is used when Spec.BaseImage is empty. "scratch" means an empty base.
const DefaultBaseImage = "gcr.io/distroless/static-debian12:nonroot"

// Scratch as Spec.BaseImage builds on an empty image.
const Scratch = "scratch"

// NonRootUser is the user set when the base image names none (distroless' "nonroot").
const NonRootUser = "65532"

// Spec says what to build.
type Spec struct {
	// AppDir is the directory of the Go app's main package; it has its own go.mod.
	AppDir string
	// Name is the binary's name; the image runs /app/<Name>.
	Name string
	// Platforms such as "linux/amd64", "linux/arm64"; default linux/amd64. More than one yields an index.
	Platforms []string
	// BaseImage is a reference, "scratch", or empty for DefaultBaseImage.
	BaseImage string
	// SourceURL and Revision become the OCI source and revision labels.
	SourceURL, Revision string
	// Created is the commit time: the image's created time and every file's mtime, so that rebuilding a
	// commit yields the same digest. Zero means the Unix epoch for files and no created time.
	Created time.Time
}

// Result is a built image: exactly one of Image and Index is set.
type Result struct {
	Image v1.Image
	Index v1.ImageIndex
	// Digest of the manifest (Image) or index (Index), "sha256:...".
	Digest string
	// Platforms built, in Spec order.
	Platforms []v1.Platform
}

// Published is where a Result now lives.
type Published struct {
	// Ref is repository@sha256:..., the reference to deploy.
	Ref string
	// Tag is repository:tag.
	Tag string
	// Digest is "sha256:...".
	Digest string
	// Pushed is false when the tag already named this digest and nothing was sent.
	Pushed bool
	// UploadedBytes and UploadedBlobs count the blobs (layers, configs) sent to the registry; blobs it
	// had already (or mounted from another repository) are not counted.
	UploadedBytes int64
	UploadedBlobs int
}

// Builder builds an image from a Spec, streaming build output to log.
type Builder interface {
	Build(ctx context.Context, s Spec, log io.Writer) (Result, error)
}

// Publisher pushes a Result to repo under tag.
type Publisher interface {
	Publish(ctx context.Context, r Result, repo, tag string, log io.Writer) (Published, error)
}

// ErrTagExists is matched (errors.Is) by a *TagConflictError.
var ErrTagExists = errors.New("image tag already exists with a different digest")

// TagConflictError says an immutable tag already names another image; pushing would fail
// (ECR: ImageTagAlreadyExistsException), so nothing was pushed.
type TagConflictError struct {
	Tag            string
	Existing, Want string
}

func (e *TagConflictError) Error() string {
	return fmt.Sprintf("tag %s already names %s, this build is %s, and the repository's tags are immutable "+
		"(the build is not reproducible for this commit, or the base image changed)", e.Tag, e.Existing, e.Want)
}

// Is makes errors.Is(err, ErrTagExists) true.
func (e *TagConflictError) Is(target error) bool { return target == ErrTagExists }
