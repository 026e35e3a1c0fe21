package server

import (
	"context"
	"fmt"
	"path"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/gitops-runner/runner/internal/image"
	ecrreg "github.com/gitops-runner/runner/internal/image/ecr"
	"github.com/gitops-runner/runner/internal/pipeline"
)

// ImageOptions tune image builds.
type ImageOptions struct {
	Insecure     bool          // plain HTTP to the registry (127.0.0.1 stand-ins)
	ScanInterval time.Duration // first poll interval of the scan wait; default the ecr package's
	Observer     ImageObserver // nil: nobody
}

type images struct {
	ecr   *ecrreg.Registry
	build *image.GoBuilder
	opts  ImageOptions
}

// ImageObserver learns how image builds and pushes went (metrics).
type ImageObserver interface {
	ObserveImageBuild(result string, d time.Duration)
	ObserveImagePush(bytes int64, layers int)
}

// NewImages returns the pipeline's image builder: `go build` without a Docker
// daemon, layered onto the base image, pushed to ECR by digest.
func NewImages(c *ecr.Client, opts ImageOptions) pipeline.ImageBuilder {
	return &images{ecr: ecrreg.New(c), build: &image.GoBuilder{}, opts: opts}
}

func (i *images) BuildAndPush(ctx context.Context, req pipeline.ImageRequest) (string, error) {
	login, err := i.ecr.Login(ctx)
	if err != nil {
		return "", err
	}
	repo, err := i.ecr.EnsureRepository(ctx, req.App.Repository, req.App.CreateRepository)
	if err != nil {
		return "", err
	}
	if repo.Created {
		fmt.Fprintf(req.Log, "created ECR repository %s (scan on push, immutable tags)\n", repo.URI)
	}
	fmt.Fprintf(req.Log, "building %s for %v on %s (no Docker daemon)\n", req.App.Name, req.App.Platforms, req.App.BaseImage)
	start := time.Now()
	// A base image kept in the account's own registry is pulled with the same login (others anonymously).
	build := *i.build
	build.BaseKeychain = login.Keychain()
	res, err := build.Build(ctx, image.Spec{
		AppDir: req.Dir, Name: path.Base(req.App.Path), Platforms: req.App.Platforms, BaseImage: req.App.BaseImage,
		SourceURL: req.SourceURL, Revision: req.Revision, Created: req.Created,
	}, req.Log)
	i.observeBuild(err, time.Since(start))
	if err != nil {
		return "", err
	}
	fmt.Fprintf(req.Log, "built %s in %s\n", res.Digest, time.Since(start).Round(time.Millisecond))
	pub := &image.RemotePublisher{Keychain: login.Keychain(), Insecure: i.opts.Insecure, ImmutableTags: repo.ImmutableTags}
	p, err := pub.Publish(ctx, res, repo.URI, req.Revision, req.Log)
	if err != nil {
		return "", err
	}
	if i.opts.Observer != nil {
		i.opts.Observer.ObserveImagePush(p.UploadedBytes, p.UploadedBlobs)
	}
	if p.Pushed {
		fmt.Fprintf(req.Log, "pushed %s\n", p.Tag)
	} else {
		fmt.Fprintf(req.Log, "%s already holds this image: nothing pushed\n", p.Tag)
	}
	if req.App.FailOnCritical {
		fmt.Fprintf(req.Log, "waiting for the image scan of %s\n", p.Digest)
		scan, err := i.ecr.WaitForScan(ctx, repo.Name, p.Digest, ecrreg.ScanOptions{FailOnCritical: true, FirstInterval: i.opts.ScanInterval, MaxInterval: 4 * i.opts.ScanInterval})
		if err != nil {
			return "", err
		}
		fmt.Fprintf(req.Log, "scan %s: %v\n", scan.Status, scan.Counts)
	}
	return p.Ref, nil
}

func (i *images) observeBuild(err error, d time.Duration) {
	if i.opts.Observer == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	i.opts.Observer.ObserveImageBuild(result, d)
}
