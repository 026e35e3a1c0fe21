package s3_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	s3test "github.com/gitops-runner/runner/internal/testenv/s3"
)

func TestObjectRoundTrip(t *testing.T) {
	srv := s3test.Start()
	t.Cleanup(srv.Close)
	ctx := context.Background()
	if err := srv.CreateBucket(ctx, "artifacts"); err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	body := "hello bundle"
	sum := sha256.Sum256([]byte(body))
	tests := []struct {
		name string
		in   awss3.PutObjectInput
	}{
		{"plain", awss3.PutObjectInput{}},
		{"with sse, metadata and checksum", awss3.PutObjectInput{
			ServerSideEncryption: types.ServerSideEncryptionAes256,
			Metadata:             map[string]string{"sha256": "abc"},
			ChecksumSHA256:       aws.String(base64.StdEncoding.EncodeToString(sum[:])),
			ContentType:          aws.String("application/gzip"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Bucket, in.Key, in.Body = aws.String("artifacts"), aws.String("frontend/"+tt.name), strings.NewReader(body)
			if _, err := c.PutObject(ctx, &in); err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			head, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: in.Bucket, Key: in.Key})
			if err != nil {
				t.Fatalf("HeadObject: %v", err)
			}
			if head.Metadata["sha256"] != in.Metadata["sha256"] {
				t.Errorf("metadata sha256 = %q, want %q", head.Metadata["sha256"], in.Metadata["sha256"])
			}
			got, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: in.Bucket, Key: in.Key})
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			defer got.Body.Close()
			b, _ := io.ReadAll(got.Body)
			if string(b) != body {
				t.Errorf("body = %q, want %q", b, body)
			}
		})
	}
	_, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("artifacts"), Key: aws.String("missing")})
	var nf *types.NotFound
	if !errors.As(err, &nf) {
		t.Errorf("HeadObject of a missing key: err = %v, want NotFound", err)
	}
}
