// Package ecr is the runner's view of Amazon ECR: registry login for image pushes, repository checks
// (created with scan-on-push and immutable tags), image lookups and scan results, over aws-sdk-go-v2.
package ecr

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
)

// Registry talks to ECR with credentials from the caller's aws.Config (env, profile, ECS task role, IRSA).
type Registry struct {
	api *awsecr.Client
}

// New wraps an ECR client.
func New(c *awsecr.Client) *Registry { return &Registry{api: c} }

// NewFromConfig makes the client from cfg; optFns can set e.g. BaseEndpoint.
func NewFromConfig(cfg aws.Config, optFns ...func(*awsecr.Options)) *Registry {
	return New(awsecr.NewFromConfig(cfg, optFns...))
}

// ErrRepositoryNotFound is returned by EnsureRepository when the repository is missing and may not be created.
var ErrRepositoryNotFound = errors.New("ECR repository not found")

// Login is a registry credential from GetAuthorizationToken.
type Login struct {
	// Host is the registry host (the proxy endpoint without scheme), e.g. 1234.dkr.ecr.us-east-1.amazonaws.com.
	Host string
	// Auth carries user AWS and the token password. Never log it.
	Auth      authn.Authenticator
	ExpiresAt time.Time
}

// Keychain answers Auth for Host and anonymous for any other registry.
func (l Login) Keychain() authn.Keychain { return loginKeychain(l) }

type loginKeychain Login

func (k loginKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() == k.Host {
		return k.Auth, nil
	}
	return authn.Anonymous, nil
}

// Login fetches a registry token (valid 12 hours) for the account's default registry.
func (r *Registry) Login(ctx context.Context) (Login, error) {
	out, err := r.api.GetAuthorizationToken(ctx, &awsecr.GetAuthorizationTokenInput{})
	if err != nil {
		return Login{}, fmt.Errorf("ecr login: %w", err)
	}
	if len(out.AuthorizationData) == 0 {
		return Login{}, errors.New("ecr login: no authorization data returned")
	}
	d := out.AuthorizationData[0]
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(d.AuthorizationToken))
	if err != nil {
		return Login{}, fmt.Errorf("ecr login: decode token: %w", err)
	}
	user, pw, ok := strings.Cut(string(raw), ":")
	if !ok {
		return Login{}, errors.New("ecr login: token is not user:password")
	}
	host := aws.ToString(d.ProxyEndpoint)
	if u, err := url.Parse(host); err == nil && u.Host != "" {
		host = u.Host
	}
	return Login{
		Host:      host,
		Auth:      &authn.Basic{Username: user, Password: pw},
		ExpiresAt: aws.ToTime(d.ExpiresAt),
	}, nil
}

// Repository is what the runner needs to know about an ECR repository.
type Repository struct {
	Name string
	// URI is host/name, the repository part of an image reference.
	URI string
	// ImmutableTags is true for ImageTagMutability IMMUTABLE (or IMMUTABLE_WITH_EXCLUSION).
	ImmutableTags bool
	ScanOnPush    bool
	// Created is true when EnsureRepository created it.
	Created bool
}

// EnsureRepository returns the repository, creating it (scan on push, immutable tags) when it is missing
// and create is true; when it is missing and create is false the error matches ErrRepositoryNotFound.
func (r *Registry) EnsureRepository(ctx context.Context, name string, create bool) (Repository, error) {
	out, err := r.api.DescribeRepositories(ctx, &awsecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
	var nf *types.RepositoryNotFoundException
	switch {
	case err == nil && len(out.Repositories) > 0:
		return repository(out.Repositories[0], false), nil
	case err == nil, errors.As(err, &nf):
		if !create {
			return Repository{}, fmt.Errorf("ecr repository %s: %w (creation not allowed)", name, ErrRepositoryNotFound)
		}
	default:
		return Repository{}, fmt.Errorf("ecr repository %s: describe: %w", name, err)
	}
	cr, err := r.api.CreateRepository(ctx, &awsecr.CreateRepositoryInput{
		RepositoryName:             aws.String(name),
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true},
		ImageTagMutability:         types.ImageTagMutabilityImmutable,
	})
	var exists *types.RepositoryAlreadyExistsException
	if errors.As(err, &exists) {
		// Another run created it between our describe and create.
		return r.EnsureRepository(ctx, name, false)
	}
	if err != nil {
		return Repository{}, fmt.Errorf("ecr repository %s: create: %w", name, err)
	}
	return repository(*cr.Repository, true), nil
}

func repository(t types.Repository, created bool) Repository {
	rep := Repository{
		Name:          aws.ToString(t.RepositoryName),
		URI:           aws.ToString(t.RepositoryUri),
		ImmutableTags: strings.HasPrefix(string(t.ImageTagMutability), string(types.ImageTagMutabilityImmutable)),
		Created:       created,
	}
	if t.ImageScanningConfiguration != nil {
		rep.ScanOnPush = t.ImageScanningConfiguration.ScanOnPush
	}
	return rep
}

// ImageExists reports whether repo has an image with this tag or digest ("sha256:...").
func (r *Registry) ImageExists(ctx context.Context, repo, tagOrDigest string) (bool, error) {
	_, err := r.api.DescribeImages(ctx, &awsecr.DescribeImagesInput{
		RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{imageID(tagOrDigest)},
	})
	var nf *types.ImageNotFoundException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &nf):
		return false, nil
	default:
		return false, fmt.Errorf("ecr image %s:%s: %w", repo, tagOrDigest, err)
	}
}

func imageID(ref string) types.ImageIdentifier {
	if strings.HasPrefix(ref, "sha256:") {
		return types.ImageIdentifier{ImageDigest: aws.String(ref)}
	}
	return types.ImageIdentifier{ImageTag: aws.String(ref)}
}
