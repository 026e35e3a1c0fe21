package ecr_test

// These tests drive Registry's real ECR client against moto_server's ECR API (see internal/testenv/moto). moto
// has no registry behind its API: its login token names a registry host that does not exist, so nothing is
// pushed here; images are recorded with PutImage (a manifest, no blobs), which is all DescribeImages needs.
// moto never scans on push: a scan exists only after StartImageScan, and its findings are moto's static answer
// unless set through moto's API (setScanResult). Pushing through a real registry stays with fakeecr in
// ecr_test.go.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/gitops-runner/runner/internal/image/ecr"
	"github.com/gitops-runner/runner/internal/testenv/moto"
)

// motoRegistry is the registry host moto's repository URIs and login name.
const motoRegistry = moto.AccountID + ".dkr.ecr." + moto.Region + ".amazonaws.com"

func TestEnsureRepositoryMoto(t *testing.T) {
	t.Parallel()
	srv := moto.Start(t)
	api := awsecr.NewFromConfig(srv.Config())
	tests := []struct {
		name string
		// existing, when set, creates the repository first, as someone else would have.
		existing *awsecr.CreateRepositoryInput
		create   bool
		wantErr  error
		want     ecr.Repository
		// wantStored is the repository's mutability and scan on push as moto holds them afterwards.
		wantStored types.ImageTagMutability
		wantScan   bool
	}{
		{name: "a missing repository is created with scan on push and immutable tags", create: true,
			want:       ecr.Repository{ImmutableTags: true, ScanOnPush: true, Created: true},
			wantStored: types.ImageTagMutabilityImmutable, wantScan: true},
		{name: "an existing mutable repository is used as it is", create: true,
			existing:   &awsecr.CreateRepositoryInput{},
			want:       ecr.Repository{},
			wantStored: types.ImageTagMutabilityMutable},
		{name: "immutable tags with exclusions count as immutable", create: true,
			existing: &awsecr.CreateRepositoryInput{ImageTagMutability: types.ImageTagMutabilityImmutableWithExclusion,
				ImageTagMutabilityExclusionFilters: []types.ImageTagMutabilityExclusionFilter{
					{Filter: aws.String("latest*"), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard}},
				ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true}},
			want:       ecr.Repository{ImmutableTags: true, ScanOnPush: true},
			wantStored: types.ImageTagMutabilityImmutableWithExclusion, wantScan: true},
		{name: "a missing repository without permission to create fails", wantErr: ecr.ErrRepositoryNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if err := srv.Reset(ctx); err != nil {
				t.Fatal(err)
			}
			if tt.existing != nil {
				tt.existing.RepositoryName = aws.String("backend")
				if _, err := api.CreateRepository(ctx, tt.existing); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ecr.NewFromConfig(srv.Config()).EnsureRepository(ctx, "backend", tt.create)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			stored, found := describeRepository(t, api, "backend")
			if tt.wantErr != nil {
				if found {
					t.Error("the repository exists after a refused create")
				}
				return
			}
			tt.want.Name, tt.want.URI = "backend", motoRegistry+"/backend"
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			scan := stored.ImageScanningConfiguration != nil && stored.ImageScanningConfiguration.ScanOnPush
			if !found || stored.ImageTagMutability != tt.wantStored || scan != tt.wantScan {
				t.Errorf("moto holds %s with scan on push %t, want %s, %t", stored.ImageTagMutability, scan, tt.wantStored, tt.wantScan)
			}
			// A second run finds what the first one left, and creates nothing.
			again, err := ecr.NewFromConfig(srv.Config()).EnsureRepository(ctx, "backend", tt.create)
			want := tt.want
			want.Created = false
			if err != nil || again != want {
				t.Errorf("second call: %+v, %v; want %+v", again, err, want)
			}
		})
	}

	// Another run can create the repository between EnsureRepository's describe and its create. The race is made
	// on purpose: a middleware on the client creates the repository (mutable, as another tool might) just before
	// our CreateRepository goes out, and moto answers RepositoryAlreadyExistsException.
	t.Run("losing the create race returns the other run's repository", func(t *testing.T) {
		ctx := t.Context()
		if err := srv.Reset(ctx); err != nil {
			t.Fatal(err)
		}
		var raced bool
		createFirst := func(o *awsecr.Options) {
			o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
				return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("otherRunCreates", func(ctx context.Context,
					in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if cr, ok := in.Parameters.(*awsecr.CreateRepositoryInput); ok && !raced {
						raced = true
						if _, err := api.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: cr.RepositoryName}); err != nil {
							return middleware.InitializeOutput{}, middleware.Metadata{}, err
						}
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
			})
		}
		got, err := ecr.NewFromConfig(srv.Config(), createFirst).EnsureRepository(ctx, "backend", true)
		if err != nil {
			t.Fatal(err)
		}
		want := ecr.Repository{Name: "backend", URI: motoRegistry + "/backend"}
		if !raced || got != want {
			t.Errorf("got %+v (raced %t), want the other run's repository %+v", got, raced, want)
		}
	})
}

func TestImageExistsMoto(t *testing.T) {
	t.Parallel()
	srv := moto.Start(t)
	reg := ecr.NewFromConfig(srv.Config())
	if _, err := reg.EnsureRepository(t.Context(), "backend", true); err != nil {
		t.Fatal(err)
	}
	digest := putImage(t, awsecr.NewFromConfig(srv.Config()), "backend", "v1")
	tests := []struct {
		name, repo, ref string
		want            bool
		wantErr         bool
	}{
		{name: "by tag", repo: "backend", ref: "v1", want: true},
		{name: "by digest", repo: "backend", ref: digest, want: true},
		{name: "unknown tag", repo: "backend", ref: "v2"},
		{name: "unknown digest", repo: "backend", ref: "sha256:" + strings.Repeat("0", 64)},
		{name: "unknown repository", repo: "nope", ref: "v1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := reg.ImageExists(t.Context(), tt.repo, tt.ref)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ImageExists = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
			var nf *types.RepositoryNotFoundException
			if tt.wantErr && !errors.As(err, &nf) {
				t.Errorf("err = %v, want RepositoryNotFoundException", err)
			}
		})
	}
}

func TestWaitForScanMoto(t *testing.T) {
	t.Parallel()
	srv := moto.Start(t)
	api := awsecr.NewFromConfig(srv.Config())
	fast := ecr.ScanOptions{FailOnCritical: true, FirstInterval: 5 * time.Millisecond, MaxInterval: 20 * time.Millisecond, Timeout: 10 * time.Second}
	short := fast
	short.Timeout = 200 * time.Millisecond
	tests := []struct {
		name string
		// scanned starts a scan, as ECR's scan on push would have.
		scanned bool
		// status and counts, when status is set, replace moto's static findings for the image.
		status     types.ScanStatus
		counts     map[string]int32
		opts       ecr.ScanOptions
		wantErr    error
		wantErrMsg string
		want       ecr.ScanResult
	}{
		{name: "no scan is unavailable", opts: fast, wantErr: ecr.ErrScanUnavailable},
		{name: "moto's own findings complete without CRITICAL", scanned: true, opts: fast,
			want: ecr.ScanResult{Status: "COMPLETE", Counts: map[string]int32{"HIGH": 1}}},
		{name: "CRITICAL findings fail", scanned: true, status: types.ScanStatusComplete,
			counts: map[string]int32{"CRITICAL": 2, "HIGH": 1}, opts: fast, wantErr: ecr.ErrCriticalFindings,
			want: ecr.ScanResult{Status: "COMPLETE", Counts: map[string]int32{"CRITICAL": 2, "HIGH": 1}}},
		{name: "a failed scan fails with ECR's description", scanned: true, status: types.ScanStatusFailed, opts: fast,
			wantErrMsg: "failed: scanner broke", want: ecr.ScanResult{Status: "FAILED"}},
		{name: "an unsupported image is unavailable", scanned: true, status: types.ScanStatusUnsupportedImage, opts: fast,
			wantErr: ecr.ErrScanUnavailable, want: ecr.ScanResult{Status: "UNSUPPORTED_IMAGE"}},
		{name: "a scan that never finishes times out", scanned: true, status: types.ScanStatusInProgress, opts: short,
			wantErrMsg: "not finished after 200ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if err := srv.Reset(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := api.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String("backend"),
				ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true}}); err != nil {
				t.Fatal(err)
			}
			digest := putImage(t, api, "backend", "v1")
			if tt.scanned {
				if _, err := api.StartImageScan(ctx, &awsecr.StartImageScanInput{RepositoryName: aws.String("backend"),
					ImageId: &types.ImageIdentifier{ImageDigest: aws.String(digest)}}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.status != "" {
				setScanResult(t, srv, "backend", digest, tt.status, tt.counts)
			}
			got, err := ecr.NewFromConfig(srv.Config()).WaitForScan(ctx, "backend", digest, tt.opts)
			switch {
			case tt.wantErr == nil && tt.wantErrMsg == "" && err != nil:
				t.Fatalf("err = %v, want nil", err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			case tt.wantErrMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErrMsg)):
				t.Fatalf("err = %v, want it to say %q", err, tt.wantErrMsg)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("result %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoginMoto(t *testing.T) {
	t.Parallel()
	srv := moto.Start(t)
	login, err := ecr.NewFromConfig(srv.Config()).Login(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if login.Host != motoRegistry || login.ExpiresAt.IsZero() {
		t.Errorf("login for %q expiring %v, want %q and a time", login.Host, login.ExpiresAt, motoRegistry)
	}
	reg, err := name.NewRegistry(motoRegistry)
	if err != nil {
		t.Fatal(err)
	}
	a, err := login.Keychain().Resolve(reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := a.Authorization()
	// moto's token is the fixed "AWS:<account>-auth-token".
	if err != nil || cfg.Username != "AWS" || cfg.Password != moto.AccountID+"-auth-token" {
		t.Errorf("credentials %q / %q (%v), want moto's token", cfg.Username, cfg.Password, err)
	}
}

// describeRepository returns the repository as moto holds it.
func describeRepository(t *testing.T, api *awsecr.Client, repo string) (types.Repository, bool) {
	t.Helper()
	out, err := api.DescribeRepositories(t.Context(), &awsecr.DescribeRepositoriesInput{RepositoryNames: []string{repo}})
	var nf *types.RepositoryNotFoundException
	switch {
	case errors.As(err, &nf):
		return types.Repository{}, false
	case err != nil:
		t.Fatal(err)
	case len(out.Repositories) != 1:
		t.Fatalf("describe %s: %d repositories", repo, len(out.Repositories))
	}
	return out.Repositories[0], true
}

// putImage records an image manifest under repo:tag, with its real digest, and returns the digest.
func putImage(t *testing.T, api *awsecr.Client, repo, tag string) string {
	t.Helper()
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:%s"},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":3,"digest":"sha256:%s"}]}`,
		strings.Repeat("a", 64), strings.Repeat("b", 64))
	sum := sha256.Sum256([]byte(manifest))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	out, err := api.PutImage(t.Context(), &awsecr.PutImageInput{RepositoryName: aws.String(repo), ImageTag: aws.String(tag),
		ImageManifest: aws.String(manifest), ImageDigest: aws.String(digest)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.Image.ImageId.ImageDigest); got != digest {
		t.Fatalf("moto stored digest %s, want %s", got, digest)
	}
	return digest
}

// setScanResult makes moto answer DescribeImageScanFindings for repo@digest with status and counts, through
// moto's API for ECR scan findings.
func setScanResult(t *testing.T, srv *moto.Server, repo, digest string, status types.ScanStatus, counts map[string]int32) {
	t.Helper()
	result := map[string]any{
		"registryId":      moto.AccountID,
		"repositoryName":  repo,
		"imageId":         map[string]string{"imageDigest": digest},
		"imageScanStatus": map[string]string{"status": string(status), "description": "scanner broke"},
	}
	if counts != nil {
		result["imageScanFindings"] = map[string]any{"findingSeverityCounts": counts}
	}
	body, err := json.Marshal(map[string]any{"results": []any{result}, "region": moto.Region})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/moto-api/static/ecr/scan-finding-results",
		bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("set scan result: %s", resp.Status)
	}
}
