package frontend

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// MetadataSHA256 is the object metadata key (x-amz-meta-sha256) holding the bundle's hex SHA-256.
const MetadataSHA256 = "sha256"

// S3API is the part of the S3 API Upload uses.
type S3API interface {
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

var _ S3API = (*s3.Client)(nil)

// Key is where the bundle of commit sha lives in the artifacts bucket; Terraform's frontend_version names it.
func Key(sha string) string { return "frontend/" + sha + ".tar.gz" }

// Upload puts the bundle at bucket/key unless an object with the same SHA-256 (metadata "sha256") is already
// there, and reports whether it uploaded. The object is gzip-typed, encrypted with the bucket's default encryption
// (the environment's KMS key, which the instances may decrypt with), and sent with its SHA-256 checksum so S3
// rejects a corrupted upload.
func Upload(ctx context.Context, client S3API, bucket, key string, b Bundle, log io.Writer) (bool, error) {
	if log == nil {
		log = io.Discard
	}
	where := fmt.Sprintf("s3://%s/%s", bucket, key)
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	switch {
	case err == nil && head.Metadata[MetadataSHA256] == b.SHA256:
		fmt.Fprintf(log, "%s already holds this bundle (sha256 %s); not uploading\n", where, b.SHA256)
		return false, nil
	case err == nil:
		fmt.Fprintf(log, "%s holds another bundle (sha256 %q); replacing it\n", where, head.Metadata[MetadataSHA256])
	case !notFound(err):
		return false, fmt.Errorf("upload %s: head: %w", where, err)
	}

	sum, err := hex.DecodeString(b.SHA256)
	if err != nil || len(sum) != 32 {
		return false, fmt.Errorf("upload %s: bundle sha256 %q is not a hex SHA-256", where, b.SHA256)
	}
	f, err := os.Open(b.Path)
	if err != nil {
		return false, fmt.Errorf("upload %s: %w", where, err)
	}
	defer f.Close()
	_, err = client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:         aws.String(bucket),
		Key:            aws.String(key),
		Body:           f,
		ContentLength:  aws.Int64(b.Size),
		ContentType:    aws.String("application/gzip"),
		Metadata:       map[string]string{MetadataSHA256: b.SHA256},
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum)),
	})
	if err != nil {
		return false, fmt.Errorf("upload %s: %w", where, err)
	}
	fmt.Fprintf(log, "uploaded %s (%d bytes, sha256 %s)\n", where, b.Size, b.SHA256)
	return true, nil
}

// notFound reports whether a HeadObject error means "no such object". S3 answers a HEAD with a bare 404.
func notFound(err error) bool {
	var nf *types.NotFound
	if errors.As(err, &nf) {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}
