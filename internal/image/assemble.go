package image

import (
	"context"
	"fmt"
	"maps"
	"path"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// OCI label keys set on every image.
const (
	LabelSource   = "org.opencontainers.image.source"
	LabelRevision = "org.opencontainers.image.revision"
	LabelCreated  = "org.opencontainers.image.created"
)

// baseFunc returns the base image for one platform.
type baseFunc func(ctx context.Context, p v1.Platform) (v1.Image, error)

func (b *GoBuilder) base(ref string) (baseFunc, error) {
	if ref == "" {
		ref = DefaultBaseImage
	}
	if ref == Scratch {
		return func(context.Context, v1.Platform) (v1.Image, error) { return empty.Image, nil }, nil
	}
	var nopts []name.Option
	if b.InsecureBase {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return nil, fmt.Errorf("base image %q: %w", ref, err)
	}
	kc := b.BaseKeychain
	if kc == nil {
		kc = authn.NewMultiKeychain() // resolves to anonymous
	}
	return func(ctx context.Context, p v1.Platform) (v1.Image, error) {
		img, err := remote.Image(r, remote.WithContext(ctx), remote.WithPlatform(p), remote.WithAuthFromKeychain(kc))
		if err != nil {
			return nil, fmt.Errorf("pull base image %s for %s: %w", r, p, err)
		}
		// WithPlatform only selects from an index: a single-platform base comes back whatever its platform.
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("pull base image %s for %s: %w", r, p, err)
		}
		if (cf.OS != "" && cf.OS != p.OS) || (cf.Architecture != "" && cf.Architecture != p.Architecture) {
			return nil, fmt.Errorf("base image %s is for %s/%s, not %s", r, cf.OS, cf.Architecture, p)
		}
		return img, nil
	}, nil
}

// assemble stacks the binary at bin onto the platform's base image and sets the config.
func assemble(img v1.Image, bin string, s Spec, p v1.Platform) (v1.Image, error) {
	mtime := s.Created
	if mtime.IsZero() {
		mtime = time.Unix(0, 0)
	}
	layer, err := binaryLayer(bin, s.Name, mtime)
	if err != nil {
		return nil, err
	}
	hist := v1.History{CreatedBy: "gitops-runner: go build " + s.Name, Comment: s.Revision}
	if !s.Created.IsZero() {
		hist.Created = v1.Time{Time: s.Created.UTC()}
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: hist, MediaType: types.OCILayer})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cfg := cf.Config
	cfg.Entrypoint = []string{path.Join(appDir, s.Name)}
	cfg.Cmd = nil
	cfg.WorkingDir = appDir
	if cfg.User == "" {
		cfg.User = NonRootUser
	}
	labels := maps.Clone(cfg.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	if s.SourceURL != "" {
		labels[LabelSource] = s.SourceURL
	}
	if s.Revision != "" {
		labels[LabelRevision] = s.Revision
	}
	if !s.Created.IsZero() {
		labels[LabelCreated] = s.Created.UTC().Format(time.RFC3339)
	}
	cfg.Labels = labels
	cf.Config = cfg
	cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = p.OS, p.Architecture, p.Variant, p.OSVersion
	cf.Created = v1.Time{Time: s.Created.UTC()}
	if s.Created.IsZero() {
		cf.Created = v1.Time{}
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return img, nil
}

// result wraps one image, or several in an OCI index with their platforms.
func result(imgs []v1.Image, plats []v1.Platform) (Result, error) {
	if len(imgs) == 1 {
		d, err := imgs[0].Digest()
		if err != nil {
			return Result{}, err
		}
		return Result{Image: imgs[0], Digest: d.String(), Platforms: plats}, nil
	}
	adds := make([]mutate.IndexAddendum, len(imgs))
	for i, img := range imgs {
		adds[i] = mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			MediaType: types.OCIManifestSchema1, Platform: &plats[i],
		}}
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	d, err := idx.Digest()
	if err != nil {
		return Result{}, err
	}
	return Result{Index: idx, Digest: d.String(), Platforms: plats}, nil
}
