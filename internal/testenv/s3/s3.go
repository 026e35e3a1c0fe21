// Package s3 is the S3 stand-in for tests and `runner demo`: gofakes3 with its in-memory backend on
// 127.0.0.1, and a real aws-sdk-go-v2 S3 client pointed at it.
package s3

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server is a running S3 stand-in.
type Server struct {
	// URL is the endpoint to give an S3 client (path-style addressing).
	URL string

	backend *s3mem.Backend
	server  *httptest.Server
}

// Start starts an S3 stand-in on 127.0.0.1; Close stops it.
func Start() *Server {
	backend := s3mem.New()
	faker := gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog()))
	srv := httptest.NewServer(faker.Server())
	return &Server{URL: srv.URL, backend: backend, server: srv}
}

// Close stops the server; its objects are gone with it.
func (s *Server) Close() { s.server.Close() }

// Client returns a real S3 client for the stand-in: path-style, BaseEndpoint, static credentials, no retries.
func (s *Server) Client() *awss3.Client {
	return awss3.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDFAKE", "fake-secret", ""),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Timeout: 30 * time.Second},
	}, func(o *awss3.Options) {
		o.BaseEndpoint = aws.String(s.URL)
		o.UsePathStyle = true
	})
}

// CreateBucket creates a bucket through the S3 API, as production code would see it made.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	if _, err := s.Client().CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}
