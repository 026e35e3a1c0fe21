package image_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/gitops-runner/runner/internal/image"
	"github.com/gitops-runner/runner/internal/image/ecr"
	"github.com/gitops-runner/runner/internal/testenv/fakeecr"
	"github.com/gitops-runner/runner/internal/testenv/registry"
)

const (
	appDir    = "testdata/app"
	sourceURL = "https://github.com/example/app"
	revision  = "0123456789abcdef0123456789abcdef01234567"
	password  = "ecr-registry-password"
)

var commitTime = time.Date(2024, 5, 17, 12, 30, 45, 0, time.UTC)

// stack is ECR as the runner sees it: the fake control plane, reached by the real SDK client, in front
// of a real registry that requires the token it hands out and enforces immutable tags.
type stack struct {
	reg   *registry.Server
	fake  *fakeecr.Server
	ecr   *ecr.Registry
	login ecr.Login
}

func newStack(t testing.TB) *stack {
	t.Helper()
	s := &stack{}
	s.reg = registry.New(registry.WithBasicAuth("AWS", password), registry.WithImmutableTags(),
		registry.WithRepositoryCheck(func(repo string) bool { return s.fake.HasRepository(repo) }))
	t.Cleanup(s.reg.Close)
	s.fake = fakeecr.New(fakeecr.Options{
		RegistryURL: s.reg.URL, Password: password,
		Images: fakeecr.RegistryImages(s.reg.Host, &authn.Basic{Username: "AWS", Password: password}),
	})
	t.Cleanup(s.fake.Close)
	cfg := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		RetryMaxAttempts: 1,
	}
	s.ecr = ecr.NewFromConfig(cfg, func(o *awsecr.Options) { o.BaseEndpoint = aws.String(s.fake.URL) })
	login, err := s.ecr.Login(context.Background())
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	s.login = login
	return s
}

// publisher pushes with the ECR login, as the pipeline does.
func (s *stack) publisher(repo ecr.Repository) *image.RemotePublisher {
	return &image.RemotePublisher{Keychain: s.login.Keychain(), ImmutableTags: repo.ImmutableTags}
}

// builder pulls base images with the ECR login, as the pipeline does for bases kept in ECR.
func (s *stack) builder(t testing.TB) *image.GoBuilder {
	return &image.GoBuilder{TempDir: t.TempDir(), InsecureBase: true, BaseKeychain: s.login.Keychain()}
}

func spec(platforms ...string) image.Spec {
	return image.Spec{AppDir: appDir, Name: "app", Platforms: platforms, BaseImage: image.Scratch,
		SourceURL: sourceURL, Revision: revision, Created: commitTime}
}

// syncBuffer is a log that tests read while builds write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
