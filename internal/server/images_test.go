package server

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/pipeline"
	"github.com/gitops-runner/runner/internal/testenv/stack"
)

// A base image kept in the account's own (private) registry is pulled with the
// ECR login, as the push is: anonymously, the registry answers 401.
func TestImagesPullAPrivateBaseWithTheECRLogin(t *testing.T) {
	if _, err := execLookPath("go"); err != nil {
		t.Skipf("go not on PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st := stack.Start()
	t.Cleanup(st.Close)

	client := awsecr.NewFromConfig(aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), RetryMaxAttempts: 1,
	}, func(o *awsecr.Options) { o.BaseEndpoint = aws.String(st.AWSEndpoint()) })
	if _, err := client.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("base/static")}); err != nil {
		t.Fatal(err)
	}
	base, err := name.ParseReference(st.Registry.Host+"/base/static:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.ConfigFile(empty.Image, mustConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	auth := remote.WithAuth(&authn.Basic{Username: "AWS", Password: stack.RegistryPassword})
	if err := remote.Write(base, img, auth, remote.WithContext(ctx)); err != nil {
		t.Fatalf("seed the private base image: %v", err)
	}

	app := t.TempDir()
	for file, text := range map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() {}\n",
	} {
		if err := os.WriteFile(filepath.Join(app, file), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	ref, err := NewImages(client, ImageOptions{Insecure: true}).BuildAndPush(ctx, pipeline.ImageRequest{
		App: config.App{Name: "backend", Path: "apps/backend", Kind: config.AppKindImage, Repository: "backend",
			Platforms: []string{"linux/amd64"}, BaseImage: base.String(), CreateRepository: true},
		Dir: app, Revision: "0123456789abcdef0123456789abcdef01234567", Created: time.Unix(1700000000, 0).UTC(), Log: &log,
	})
	if err != nil {
		t.Fatalf("BuildAndPush: %v\n%s", err, log.String())
	}
	t.Logf("pushed %s", ref)
}

// mustConfig is a linux/amd64 image config (the builder checks the base's platform).
func mustConfig(t *testing.T) *v1.ConfigFile {
	t.Helper()
	return &v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers"}}
}
