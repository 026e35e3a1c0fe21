package frontend_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/gitops-runner/runner/internal/frontend"
	"github.com/gitops-runner/runner/internal/testenv/moto"
	s3test "github.com/gitops-runner/runner/internal/testenv/s3"
)

func TestKey(t *testing.T) {
	if got, want := frontend.Key("0123abc"), "frontend/0123abc.tar.gz"; got != want {
		t.Errorf("Key = %q, want %q", got, want)
	}
}

func packBundle(t *testing.T, index string) frontend.Bundle {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"index.html": index}, time.Now(), 0o644)
	b, err := frontend.Pack(dir, filepath.Join(t.TempDir(), "bundle.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUploadSkipsAnIdenticalBundle(t *testing.T) {
	srv := s3test.Start()
	t.Cleanup(srv.Close)
	ctx := context.Background()
	if err := srv.CreateBucket(ctx, "artifacts"); err != nil {
		t.Fatal(err)
	}
	client := srv.Client()
	a, b := packBundle(t, "<html>a</html>"), packBundle(t, "<html>b</html>")
	key := frontend.Key("4f2c0ffee")
	steps := []struct {
		name         string
		bundle       frontend.Bundle
		wantUploaded bool
		wantLog      string
	}{
		{"first upload", a, true, "uploaded s3://artifacts/frontend/4f2c0ffee.tar.gz"},
		{"same bundle again is skipped", a, false, "already holds this bundle"},
		{"another bundle replaces it", b, true, "holds another bundle"},
		{"which is then skipped", b, false, "already holds this bundle"},
	}
	for _, st := range steps {
		var log strings.Builder
		uploaded, err := frontend.Upload(ctx, client, "artifacts", key, st.bundle, &log)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if uploaded != st.wantUploaded {
			t.Errorf("%s: uploaded = %t, want %t", st.name, uploaded, st.wantUploaded)
		}
		if !strings.Contains(log.String(), st.wantLog) {
			t.Errorf("%s: log %q lacks %q", st.name, log.String(), st.wantLog)
		}
		head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if head.Metadata[frontend.MetadataSHA256] != st.bundle.SHA256 || aws.ToString(head.ContentType) != "application/gzip" {
			t.Errorf("%s: object metadata %v, content type %q", st.name, head.Metadata, aws.ToString(head.ContentType))
		}
		obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != st.bundle.SHA256 {
			t.Errorf("%s: stored object does not hash to the bundle's sha256", st.name)
		}
	}
}

func TestUploadErrors(t *testing.T) {
	srv := s3test.Start()
	t.Cleanup(srv.Close)
	ctx := context.Background()
	if err := srv.CreateBucket(ctx, "artifacts"); err != nil {
		t.Fatal(err)
	}
	good := packBundle(t, "x")
	missing := good
	missing.Path = filepath.Join(t.TempDir(), "gone.tar.gz")
	badSum := good
	badSum.SHA256 = "not-hex"
	tests := []struct {
		name   string
		bucket string
		bundle frontend.Bundle
	}{
		{"no such bucket", "nope", good},
		{"bundle file missing", "artifacts", missing},
		{"bad checksum", "artifacts", badSum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := frontend.Upload(ctx, srv.Client(), tt.bucket, frontend.Key(tt.name[:2]), tt.bundle, nil); err == nil {
				t.Error("Upload succeeded")
			}
		})
	}
	if _, err := os.Stat(good.Path); err != nil {
		t.Fatal(err)
	}
}

// The artifacts bucket encrypts with the environment's KMS key by default (terraform/modules/artifacts) and the
// instances are given kms:Decrypt for it: an upload must not replace that with another encryption.
func TestUploadKeepsTheBucketsDefaultEncryption(t *testing.T) {
	srv := moto.Start(t)
	client := s3.NewFromConfig(srv.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	ctx := t.Context()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("artifacts")}); err != nil {
		t.Fatal(err)
	}
	kmsKey := "arn:aws:kms:" + moto.Region + ":" + moto.AccountID + ":key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
	if _, err := client.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String("artifacts"),
		ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{
				SSEAlgorithm: s3types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String(kmsKey)},
			BucketKeyEnabled: aws.Bool(true),
		}}},
	}); err != nil {
		t.Fatal(err)
	}
	key := frontend.Key("4f2c0ffee")
	if _, err := frontend.Upload(ctx, client, "artifacts", key, packBundle(t, "<html>a</html>"), nil); err != nil {
		t.Fatal(err)
	}
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("artifacts"), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if head.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || aws.ToString(head.SSEKMSKeyId) != kmsKey {
		t.Errorf("bundle encrypted with %q (key %q), want the bucket's aws:kms with %s", head.ServerSideEncryption,
			aws.ToString(head.SSEKMSKeyId), kmsKey)
	}
}
