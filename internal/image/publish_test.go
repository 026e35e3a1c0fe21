package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gitops-runner/runner/internal/image"
	"github.com/gitops-runner/runner/internal/testenv/registry"
)

// pushBase pushes a two-platform base image whose layer holds /etc/base-<arch> and whose user is 1000.
func pushBase(t *testing.T, s *stack) string {
	t.Helper()
	s.fake.AddRepository("base", false, false)
	ref := s.reg.Host + "/base:v1"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, baseIndex(t), remote.WithAuth(s.login.Auth)); err != nil {
		t.Fatalf("push base: %v", err)
	}
	return ref
}

// baseIndex is pushBase's image.
func baseIndex(t *testing.T) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		layer := static.NewLayer(tarOf(t, "etc/base-"+arch, "base"), types.OCILayer)
		img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		cf.Config.User = "1000"
		cf.Config.Env = []string{"PATH=/usr/bin"}
		cf.Config.Labels = map[string]string{"base": "test"}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
}

// gzipped tar would be more realistic, but static layers are fine uncompressed for a base.
func tarOf(t *testing.T, path, content string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	_ = tw.WriteHeader(&tar.Header{Name: path, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte(content))
	_ = tw.Close()
	return b.Bytes()
}

func TestBuildAndPublishToECR(t *testing.T) {
	tests := []struct {
		name      string
		platforms []string
		pushBase  bool
		wantUser  string
		wantBase  bool // base layer and labels present
	}{
		{name: "single platform on scratch", platforms: []string{"linux/amd64"}, wantUser: image.NonRootUser},
		{name: "amd64 and arm64 index on a base image", platforms: []string{"linux/amd64", "linux/arm64"},
			pushBase: true, wantUser: "1000", wantBase: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := newStack(t)
			sp := spec(tt.platforms...)
			if tt.pushBase {
				sp.BaseImage = pushBase(t, s)
			}
			repo, err := s.ecr.EnsureRepository(ctx, "backend", true)
			if err != nil {
				t.Fatal(err)
			}
			var log syncBuffer
			res, err := s.builder(t).Build(ctx, sp, &log)
			if err != nil {
				t.Fatalf("build: %v\n%s", err, log.String())
			}
			pub, err := s.publisher(repo).Publish(ctx, res, repo.URI, revision, &log)
			if err != nil {
				t.Fatalf("publish: %v\n%s", err, log.String())
			}
			if !pub.Pushed || pub.Ref != repo.URI+"@"+res.Digest || pub.Digest != res.Digest {
				t.Fatalf("published %+v, want pushed %s@%s", pub, repo.URI, res.Digest)
			}
			if !strings.Contains(log.String(), "uploaded") || !strings.Contains(log.String(), "upload 100%") {
				t.Errorf("log lacks upload progress:\n%s", log.String())
			}
			if ok, err := s.ecr.ImageExists(ctx, "backend", revision); err != nil || !ok {
				t.Errorf("ImageExists(tag) = %v, %v; want true", ok, err)
			}

			// Read it back from the registry, by digest, through the ECR login.
			ref, err := name.ParseReference(pub.Ref)
			if err != nil {
				t.Fatal(err)
			}
			ropts := []remote.Option{remote.WithAuthFromKeychain(s.login.Keychain())}
			desc, err := remote.Get(ref, ropts...)
			if err != nil {
				t.Fatal(err)
			}
			if desc.Digest.String() != res.Digest {
				t.Errorf("registry digest %s, built %s", desc.Digest, res.Digest)
			}
			imgs := map[string]v1.Image{}
			if len(tt.platforms) == 1 {
				if desc.MediaType != types.OCIManifestSchema1 {
					t.Errorf("media type %s, want OCI manifest", desc.MediaType)
				}
				img, err := desc.Image()
				if err != nil {
					t.Fatal(err)
				}
				imgs[tt.platforms[0]] = img
			} else {
				if desc.MediaType != types.OCIImageIndex {
					t.Errorf("media type %s, want OCI index", desc.MediaType)
				}
				idx, err := desc.ImageIndex()
				if err != nil {
					t.Fatal(err)
				}
				im, err := idx.IndexManifest()
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, m := range im.Manifests {
					got = append(got, m.Platform.String())
					img, err := idx.Image(m.Digest)
					if err != nil {
						t.Fatal(err)
					}
					imgs[m.Platform.String()] = img
				}
				if !slices.Equal(got, tt.platforms) {
					t.Errorf("index platforms %v, want %v", got, tt.platforms)
				}
			}
			for plat, img := range imgs {
				checkImage(t, img, plat, tt.wantUser, tt.wantBase)
			}
			if p := "linux/" + runtime.GOARCH; runtime.GOOS == "linux" && imgs[p] != nil {
				runBinary(t, imgs[p])
			}
		})
	}
}

func checkImage(t *testing.T, img v1.Image, plat, wantUser string, wantBase bool) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if got := cf.OS + "/" + cf.Architecture; got != plat {
		t.Errorf("%s: config platform %s", plat, got)
	}
	if !slices.Equal(c.Entrypoint, []string{"/app/app"}) || c.User != wantUser || c.WorkingDir != "/app" {
		t.Errorf("%s: entrypoint %v user %q workdir %q; want [/app/app] %q /app", plat, c.Entrypoint, c.User,
			c.WorkingDir, wantUser)
	}
	wantLabels := map[string]string{
		image.LabelSource: sourceURL, image.LabelRevision: revision, image.LabelCreated: "2024-05-17T12:30:45Z",
	}
	if wantBase {
		wantLabels["base"] = "test"
	}
	for k, v := range wantLabels {
		if c.Labels[k] != v {
			t.Errorf("%s: label %s = %q, want %q", plat, k, c.Labels[k], v)
		}
	}
	if !cf.Created.Time.Equal(commitTime) {
		t.Errorf("%s: created %v, want commit time %v", plat, cf.Created.Time, commitTime)
	}
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("%s: manifest media type %s", plat, mt)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	wantLayers := 1
	if wantBase {
		wantLayers = 2
		files := layerFiles(t, layers[0])
		if _, ok := files["etc/base-"+cf.Architecture]; !ok {
			t.Errorf("%s: base layer is not the %s one: %v", plat, cf.Architecture, files)
		}
	}
	if len(layers) != wantLayers {
		t.Fatalf("%s: %d layers, want %d", plat, len(layers), wantLayers)
	}
	files := layerFiles(t, layers[len(layers)-1])
	h, ok := files["app/app"]
	if !ok {
		t.Fatalf("%s: app layer has %v", plat, files)
	}
	if h.Mode != 0o755 || h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(commitTime) || h.Size == 0 {
		t.Errorf("%s: app/app header mode %o uid %d gid %d mtime %v size %d", plat, h.Mode, h.Uid, h.Gid,
			h.ModTime, h.Size)
	}
}

func layerFiles(t *testing.T, l v1.Layer) map[string]*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}

// runBinary extracts /app/app from the image and runs it: the image holds a working program.
func runBinary(t *testing.T, img v1.Image) {
	t.Helper()
	layers, _ := img.Layers()
	rc, err := layers[len(layers)-1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	bin := filepath.Join(t.TempDir(), "app")
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("app/app not found: %v", err)
		}
		if h.Name == "app/app" {
			b, _ := io.ReadAll(tr)
			if err := os.WriteFile(bin, b, 0o755); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "app ok" {
		t.Errorf("run image binary: %v %q", err, out)
	}
}

func TestPublishSameCommitAgainPushesNothing(t *testing.T) {
	ctx := context.Background()
	s := newStack(t)
	repo, err := s.ecr.EnsureRepository(ctx, "backend", true)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.builder(t).Build(ctx, spec(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	firstPub, err := s.publisher(repo).Publish(ctx, first, repo.URI, revision, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.reg.UploadedBytes() == 0 {
		t.Fatal("first push uploaded no bytes")
	}
	// The publisher counts what the registry received (for metrics).
	if firstPub.UploadedBytes != s.reg.UploadedBytes() || firstPub.UploadedBlobs < 2 {
		t.Errorf("first push counted %d bytes in %d blobs; the registry received %d bytes (want equal, and at least a layer and a config)",
			firstPub.UploadedBytes, firstPub.UploadedBlobs, s.reg.UploadedBytes())
	}

	// A second run: new builder, new temp dir, same commit.
	s.reg.ResetCounters()
	second, err := s.builder(t).Build(ctx, spec(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if second.Digest != first.Digest {
		t.Fatalf("rebuild of the same commit: digest %s, first %s", second.Digest, first.Digest)
	}
	var log syncBuffer
	pub, err := s.publisher(repo).Publish(ctx, second, repo.URI, revision, &log)
	if err != nil {
		t.Fatal(err)
	}
	if pub.Pushed || pub.UploadedBytes != 0 || pub.UploadedBlobs != 0 {
		t.Errorf("second push: Pushed %v, counted %d bytes in %d blobs; want false, 0, 0", pub.Pushed, pub.UploadedBytes, pub.UploadedBlobs)
	}
	if n, m := s.reg.UploadedBytes(), s.reg.ManifestPuts(); n != 0 || m != 0 {
		t.Errorf("second push sent %d blob bytes and %d manifests, want 0 and 0", n, m)
	}
	if !strings.Contains(log.String(), "nothing to push") {
		t.Errorf("log: %s", log.String())
	}
}

func TestPublishNewTagReusesLayers(t *testing.T) {
	ctx := context.Background()
	s := newStack(t)
	repo, err := s.ecr.EnsureRepository(ctx, "backend", true)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.builder(t).Build(ctx, spec(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	pub := s.publisher(repo)
	if _, err := pub.Publish(ctx, res, repo.URI, revision, io.Discard); err != nil {
		t.Fatal(err)
	}
	s.reg.ResetCounters()
	var log syncBuffer
	p, err := pub.Publish(ctx, res, repo.URI, "release-1", &log)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Pushed || s.reg.ManifestPuts() != 1 {
		t.Errorf("pushed %v, manifest PUTs %d; want true, 1", p.Pushed, s.reg.ManifestPuts())
	}
	if n := s.reg.UploadedBytes(); n != 0 {
		t.Errorf("new tag of a pushed image uploaded %d blob bytes, want 0", n)
	}
	if !strings.Contains(log.String(), "already present") {
		t.Errorf("log does not say layers were present:\n%s", log.String())
	}
}

func TestPublishImmutableTagConflict(t *testing.T) {
	tests := []struct {
		name string
		// checkFirst is the publisher's ImmutableTags: true checks before pushing; false lets the
		// registry reject the manifest as ECR would.
		checkFirst  bool
		wantNoBytes bool
	}{
		{name: "detected before pushing", checkFirst: true, wantNoBytes: true},
		{name: "rejected by the registry", checkFirst: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := newStack(t)
			repo, err := s.ecr.EnsureRepository(ctx, "backend", true)
			if err != nil {
				t.Fatal(err)
			}
			a, err := s.builder(t).Build(ctx, spec(), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			other := spec()
			other.Created = commitTime.Add(time.Hour) // same tag, different image
			b, err := s.builder(t).Build(ctx, other, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			pub := s.publisher(repo)
			if _, err := pub.Publish(ctx, a, repo.URI, revision, io.Discard); err != nil {
				t.Fatal(err)
			}
			s.reg.ResetCounters()
			pub.ImmutableTags = tt.checkFirst
			_, err = pub.Publish(ctx, b, repo.URI, revision, io.Discard)
			var tc *image.TagConflictError
			if !errors.Is(err, image.ErrTagExists) || !errors.As(err, &tc) {
				t.Fatalf("err = %v, want a TagConflictError", err)
			}
			if tt.wantNoBytes && (s.reg.UploadedBytes() != 0 || s.reg.ManifestPuts() != 0) {
				t.Errorf("sent %d bytes, %d manifests before failing", s.reg.UploadedBytes(), s.reg.ManifestPuts())
			}
			tag, err := name.NewTag(repo.URI + ":" + revision)
			if err != nil {
				t.Fatal(err)
			}
			desc, err := remote.Head(tag, remote.WithAuth(s.login.Auth))
			if err != nil || desc.Digest.String() != a.Digest {
				t.Errorf("tag now %v (%v), want it unchanged at %s", desc, err, a.Digest)
			}
		})
	}
}

func TestPublishToMissingRepositoryFails(t *testing.T) {
	ctx := context.Background()
	s := newStack(t)
	res, err := s.builder(t).Build(ctx, spec(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	pub := &image.RemotePublisher{Auth: s.login.Auth}
	if _, err := pub.Publish(ctx, res, s.reg.Host+"/never-created", revision, io.Discard); err == nil {
		t.Fatal("push to a repository ECR does not have succeeded")
	}
}

// pushSingleBase pushes a base image that is one manifest (no index) for linux/arch, as a base built for one
// architecture is.
func pushSingleBase(t *testing.T, s *stack, arch string) string {
	t.Helper()
	s.fake.AddRepository("single-base", false, false)
	layer := static.NewLayer(tarOf(t, "etc/base-"+arch, "base"), types.OCILayer)
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Labels = map[string]string{"base": "test"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref := s.reg.Host + "/single-base:" + arch
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithAuth(s.login.Auth)); err != nil {
		t.Fatalf("push base: %v", err)
	}
	return ref
}

// A registry hands out a single-platform base for any platform asked for; stacking an amd64 base under an arm64
// binary would yield an arm64 image whose base files (shell, libc) cannot run.
func TestBuildRejectsABaseImageOfAnotherPlatform(t *testing.T) {
	tests := []struct {
		name      string
		platforms []string
		wantErr   string // empty: the build succeeds
	}{
		{name: "base of the platform built", platforms: []string{"linux/amd64"}},
		{name: "base of another platform", platforms: []string{"linux/arm64"}, wantErr: "linux/amd64"},
		{name: "one platform of an index has no base", platforms: []string{"linux/amd64", "linux/arm64"},
			wantErr: "linux/amd64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t)
			sp := spec(tt.platforms...)
			sp.BaseImage = pushSingleBase(t, s, "amd64")
			var log syncBuffer
			res, err := s.builder(t).Build(context.Background(), sp, &log)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("build: %v\n%s", err, log.String())
				}
				checkImage(t, res.Image, "linux/amd64", image.NonRootUser, true)
				return
			}
			if err == nil || !strings.Contains(err.Error(), "base image") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want the base image's platform %s named", err, tt.wantErr)
			}
		})
	}
}

// The default base image lives in another registry (gcr.io) than the one pushed to (ECR): its layers are read
// from there while the image is pushed, after Build has returned.
func TestPublishBaseImageFromAnotherRegistry(t *testing.T) {
	tests := []struct {
		name      string
		platforms []string
	}{
		{name: "single platform", platforms: []string{"linux/amd64"}},
		{name: "index", platforms: []string{"linux/amd64", "linux/arm64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := newStack(t)
			// The base's registry: another host, anonymous pulls, as gcr.io is.
			baseReg := registry.New()
			t.Cleanup(baseReg.Close)
			baseRef, err := name.ParseReference(baseReg.Host + "/distroless/static:nonroot")
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.WriteIndex(baseRef, baseIndex(t)); err != nil {
				t.Fatal(err)
			}

			sp := spec(tt.platforms...)
			sp.BaseImage = baseRef.String()
			repo, err := s.ecr.EnsureRepository(ctx, "backend", true)
			if err != nil {
				t.Fatal(err)
			}
			var log syncBuffer
			res, err := s.builder(t).Build(ctx, sp, &log)
			if err != nil {
				t.Fatalf("build: %v\n%s", err, log.String())
			}
			pub, err := s.publisher(repo).Publish(ctx, res, repo.URI, revision, &log)
			if err != nil {
				t.Fatalf("publish: %v\n%s", err, log.String())
			}
			ref, err := name.ParseReference(pub.Ref)
			if err != nil {
				t.Fatal(err)
			}
			img, err := remote.Image(ref, remote.WithAuthFromKeychain(s.login.Keychain()),
				remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
			if err != nil {
				t.Fatal(err)
			}
			checkImage(t, img, "linux/amd64", "1000", true)
		})
	}
}

// The stage log counts an image's layers as they are pushed, each once with its size.
func TestPublishCountsLayers(t *testing.T) {
	ctx := context.Background()
	s := newStack(t)
	repo, err := s.ecr.EnsureRepository(ctx, "backend", true)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.builder(t).Build(ctx, spec(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Image == nil {
		t.Skip("the build made an index: layers are counted per image")
	}
	layers, err := res.Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	n := len(layers)
	pub := s.publisher(repo)
	for _, tc := range []struct {
		tag, verb string
	}{{revision, "pushed"}, {"release-1", "have"}} {
		var log syncBuffer
		if _, err := pub.Publish(ctx, res, repo.URI, tc.tag, &log); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= n; i++ {
			want := fmt.Sprintf("%s layer %d/%d sha256:", tc.verb, i, n)
			if c := strings.Count(log.String(), want); c != 1 {
				t.Errorf("%s: %q appears %d times, want once:\n%s", tc.tag, want, c, log.String())
			}
		}
		if !strings.Contains(log.String(), " MiB): ") {
			t.Errorf("%s: layer sizes missing:\n%s", tc.tag, log.String())
		}
	}
}
