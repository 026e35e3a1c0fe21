package ecr_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gitops-runner/runner/internal/image/ecr"
	"github.com/gitops-runner/runner/internal/testenv/fakeecr"
	"github.com/gitops-runner/runner/internal/testenv/registry"
)

const password = "token-password"

type env struct {
	reg  *registry.Server
	fake *fakeecr.Server
	ecr  *ecr.Registry
}

// newEnv drives the real SDK client against the fake through BaseEndpoint, with static credentials.
func newEnv(t *testing.T, scanPolls int) *env {
	t.Helper()
	e := &env{}
	e.reg = registry.New(registry.WithBasicAuth("AWS", password))
	t.Cleanup(e.reg.Close)
	e.fake = fakeecr.New(fakeecr.Options{RegistryURL: e.reg.URL, Password: password, ScanPolls: scanPolls,
		Images: fakeecr.RegistryImages(e.reg.Host, &authn.Basic{Username: "AWS", Password: password})})
	t.Cleanup(e.fake.Close)
	cfg := aws.Config{Region: "eu-west-1", RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}
	e.ecr = ecr.NewFromConfig(cfg, func(o *awsecr.Options) { o.BaseEndpoint = aws.String(e.fake.URL) })
	return e
}

// push puts a random image into repo:tag and returns its digest.
func (e *env) push(t *testing.T, repo, tag string) string {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(e.reg.Host + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "AWS", Password: password})); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

func TestLogin(t *testing.T) {
	e := newEnv(t, 0)
	login, err := e.ecr.Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if login.Host != e.reg.Host {
		t.Errorf("host %q, want the proxy endpoint's %q", login.Host, e.reg.Host)
	}
	if time.Until(login.ExpiresAt) < time.Hour {
		t.Errorf("expires at %v", login.ExpiresAt)
	}
	tests := []struct {
		name     string
		registry string
		wantAuth bool
	}{
		{name: "the ECR registry gets the token", registry: e.reg.Host, wantAuth: true},
		{name: "another registry stays anonymous", registry: "gcr.io"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, _ := name.NewRegistry(tt.registry)
			a, err := login.Keychain().Resolve(reg)
			if err != nil {
				t.Fatal(err)
			}
			cfg, _ := a.Authorization()
			if got := cfg.Username == "AWS" && cfg.Password == password; got != tt.wantAuth {
				t.Errorf("credentials %v, want token %v", cfg.Username, tt.wantAuth)
			}
		})
	}
	// The token really opens the registry.
	e.fake.AddRepository("app", true, true)
	ref, _ := name.NewTag(e.reg.Host + "/app:x")
	img, _ := random.Image(64, 1)
	if err := remote.Write(ref, img, remote.WithAuthFromKeychain(login.Keychain())); err != nil {
		t.Errorf("push with login: %v", err)
	}
	if err := remote.Write(ref, img); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("push without login: %v, want 401", err)
	}
}

func TestEnsureRepository(t *testing.T) {
	tests := []struct {
		name      string
		existing  bool
		create    bool
		wantErr   error
		wantCalls []string
		want      ecr.Repository
	}{
		{name: "existing mutable repository is used as it is", existing: true,
			wantCalls: []string{"DescribeRepositories"}, want: ecr.Repository{Name: "backend"}},
		{name: "missing repository is created with scan on push and immutable tags", create: true,
			wantCalls: []string{"DescribeRepositories", "CreateRepository"},
			want:      ecr.Repository{Name: "backend", ImmutableTags: true, ScanOnPush: true, Created: true}},
		{name: "missing repository without permission to create fails", wantErr: ecr.ErrRepositoryNotFound,
			wantCalls: []string{"DescribeRepositories"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 0)
			if tt.existing {
				e.fake.AddRepository("backend", false, false)
			}
			got, err := e.ecr.EnsureRepository(context.Background(), "backend", tt.create)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if calls := e.fake.Calls(); strings.Join(calls, ",") != strings.Join(tt.wantCalls, ",") {
				t.Errorf("calls %v, want %v", calls, tt.wantCalls)
			}
			if tt.wantErr != nil {
				if e.fake.HasRepository("backend") {
					t.Error("repository exists after a refused create")
				}
				return
			}
			tt.want.URI = e.reg.Host + "/backend"
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if r, ok := e.fake.Repository("backend"); !ok || r.Immutable != tt.want.ImmutableTags ||
				r.ScanOnPush != tt.want.ScanOnPush {
				t.Errorf("fake has %+v, %v", r, ok)
			}
		})
	}
}

func TestImageExists(t *testing.T) {
	e := newEnv(t, 0)
	e.fake.AddRepository("backend", true, true)
	digest := e.push(t, "backend", "v1")
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
			got, err := e.ecr.ImageExists(context.Background(), tt.repo, tt.ref)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ImageExists = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestWaitForScan(t *testing.T) {
	fast := ecr.ScanOptions{FirstInterval: time.Millisecond, MaxInterval: 4 * time.Millisecond, Timeout: 10 * time.Second}
	withFail := fast
	withFail.FailOnCritical = true
	short := fast
	short.Timeout = 50 * time.Millisecond
	tests := []struct {
		name       string
		scanOnPush bool
		findings   map[string]int32
		polls      int
		opts       ecr.ScanOptions
		wantErr    error
		wantErrMsg string
		wantCounts map[string]int32
	}{
		{name: "clean scan completes after polling", scanOnPush: true, polls: 3, opts: withFail,
			wantCounts: map[string]int32{}},
		{name: "critical findings fail when configured", scanOnPush: true, polls: 2, opts: withFail,
			findings: map[string]int32{"CRITICAL": 2, "HIGH": 1}, wantErr: ecr.ErrCriticalFindings},
		{name: "critical findings are reported when not failing", scanOnPush: true, polls: 1, opts: fast,
			findings: map[string]int32{"CRITICAL": 2, "HIGH": 1}, wantCounts: map[string]int32{"CRITICAL": 2, "HIGH": 1}},
		{name: "no scan for the image", scanOnPush: false, opts: withFail, wantErr: ecr.ErrScanUnavailable},
		{name: "scan that never finishes times out", scanOnPush: true, polls: 1 << 30, opts: short,
			wantErrMsg: "not finished after 50ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.polls)
			e.fake.AddRepository("backend", true, tt.scanOnPush)
			digest := e.push(t, "backend", "v1")
			if tt.findings != nil {
				e.fake.SetFindings(digest, tt.findings)
			}
			res, err := e.ecr.WaitForScan(context.Background(), "backend", digest, tt.opts)
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErrMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErrMsg)) {
				t.Fatalf("err = %v, want it to say %q", err, tt.wantErrMsg)
			}
			if tt.wantErr == nil && tt.wantErrMsg == "" {
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != "COMPLETE" || len(res.Counts) != len(tt.wantCounts) {
					t.Fatalf("result %+v, want COMPLETE %v", res, tt.wantCounts)
				}
				for k, v := range tt.wantCounts {
					if res.Counts[k] != v {
						t.Errorf("count %s = %d, want %d", k, res.Counts[k], v)
					}
				}
			}
			polls := 0
			for _, c := range e.fake.Calls() {
				if c == "DescribeImageScanFindings" {
					polls++
				}
			}
			if tt.polls > 0 && tt.polls < 100 && polls != tt.polls+1 {
				t.Errorf("%d polls, want %d (IN_PROGRESS %d times, then COMPLETE)", polls, tt.polls+1, tt.polls)
			}
		})
	}
}
