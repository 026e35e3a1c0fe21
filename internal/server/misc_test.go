//go:build e2e

package server_test

import (
	"github.com/gitops-runner/runner/internal/server"
	"reflect"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func headObject(bucket, key string) *s3.HeadObjectInput {
	return &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
}

func reflectEqual(a, b any) bool { return reflect.DeepEqual(a, b) }

// serverCollaborators leaves every collaborator to the configuration.
func serverCollaborators() server.Collaborators { return server.Collaborators{} }
