package server

import (
	"context"
	"fmt"

	"github.com/gitops-runner/runner/internal/frontend"
	"github.com/gitops-runner/runner/internal/pipeline"
)

type bundles struct{ s3 frontend.S3API }

// NewBundles returns the pipeline's bundle builder: npm ci && npm run build, then S3.
func NewBundles(s3 frontend.S3API) pipeline.BundleBuilder { return &bundles{s3: s3} }

func (b *bundles) BuildAndUpload(ctx context.Context, req pipeline.BundleRequest) (string, error) {
	fmt.Fprintf(req.Log, "building %s with VITE_API_URL=%s\n", req.App.Name, req.APIURL)
	bundle, err := frontend.Build(ctx, req.Dir, req.APIURL, req.Log)
	if err != nil {
		return "", err
	}
	key := frontend.Key(req.Revision)
	uploaded, err := frontend.Upload(ctx, b.s3, req.Bucket, key, bundle, req.Log)
	if err != nil {
		return "", err
	}
	if uploaded {
		fmt.Fprintf(req.Log, "uploaded s3://%s/%s (%d bytes, sha256 %s)\n", req.Bucket, key, bundle.Size, bundle.SHA256)
	} else {
		fmt.Fprintf(req.Log, "s3://%s/%s already holds this bundle: upload skipped\n", req.Bucket, key)
	}
	return req.Revision, nil
}
