package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
)

const testToken = "ghp_0123456789abcdefghijklmnopqrstuv"

var fastRetry = RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

func startFake(t *testing.T, cfg fakegithub.Config) *fakegithub.Server {
	t.Helper()
	if cfg.Tokens == nil {
		cfg.Tokens = []string{testToken}
	}
	fake := fakegithub.New(cfg)
	t.Cleanup(fake.Close)
	return fake
}

func newTestClient(t *testing.T, fake *fakegithub.Server, mod func(*Options)) *Client {
	t.Helper()
	opts := Options{Token: testToken, BaseURL: fake.URL(), HTTPClient: fake.HTTPClient(), Retry: fastRetry}
	if mod != nil {
		mod(&opts)
	}
	c, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewRejectsIncompleteConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"nothing", Options{}},
		{"token and app", Options{Token: "x", AppID: 1, InstallationID: 2, PrivateKey: []byte("k")}},
		{"app without key", Options{AppID: 1, InstallationID: 2}},
		{"app without installation", Options{AppID: 1, PrivateKey: []byte("k")}},
		{"bad key", Options{AppID: 1, InstallationID: 2, PrivateKey: []byte("-----BEGIN RSA PRIVATE KEY-----\nsecretstuff\n-----END RSA PRIVATE KEY-----")}},
		{"relative base URL", Options{Token: "x", BaseURL: "ghe/api/v3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(context.Background(), tc.opts)
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("want ErrConfig, got %v", err)
			}
			if strings.Contains(err.Error(), "secretstuff") {
				t.Fatalf("error leaks the key: %v", err)
			}
		})
	}
}

func TestGitHubAppAuthOnEnterprise(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	fake := startFake(t, fakegithub.Config{APIPrefix: "/api/v3", Tokens: []string{}})
	fake.RegisterApp(11, 22, &key.PublicKey)
	fake.FailNext(1, fakegithub.Failure{Kind: fakegithub.BadGateway}) // the token request is retried too

	c, err := New(context.Background(), Options{AppID: 11, InstallationID: 22, PrivateKey: keyPEM,
		BaseURL: fake.URL(), HTTPClient: fake.HTTPClient(), Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetStatus(context.Background(), "o/r", "abc", "plan/dev", StateSuccess, "ok", ""); err != nil {
		t.Fatal(err)
	}
	if len(fake.IssuedTokens()) != 1 || len(fake.Statuses("o/r", "abc")) != 1 {
		t.Fatalf("tokens %v statuses %v", fake.IssuedTokens(), fake.Statuses("o/r", "abc"))
	}

	_, err = New(context.Background(), Options{AppID: 99, InstallationID: 22, PrivateKey: keyPEM,
		BaseURL: fake.URL(), HTTPClient: fake.HTTPClient(), Retry: fastRetry})
	if err == nil {
		t.Fatal("wrong app id: want an error from New")
	}
}

func TestErrorsAreMasked(t *testing.T) {
	fake := startFake(t, fakegithub.Config{})
	c := newTestClient(t, fake, func(o *Options) { o.Secrets = []string{"hunter2-secret"} })
	// The repository name echoes into the error text; it must not carry the secrets out.
	err := c.SetStatus(context.Background(), "o/"+testToken, "abc", "hunter2-secret", "bogus", "", "")
	if err == nil || strings.Contains(err.Error(), "hunter2-secret") || strings.Contains(err.Error(), testToken) {
		t.Fatalf("want a masked error, got %v", err)
	}
	for _, tc := range []struct{ in, leak string }{
		{"token " + testToken, testToken},
		{"Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz012345"},
		{"ghs_abcdefghijklmnopqrstuvwxyz0123 expired", "ghs_abcdefghijklmnopqrstuvwxyz0123"},
		{"hunter2-secret in a URL", "hunter2-secret"},
		{"jwt eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMSJ9.c2lnbmF0dXJl", "eyJpc3MiOiIxMSJ9"},
		{`Get "https://runner:pw-s3cr3t-xyz@ghe.example.com/api/v3/": EOF`, "pw-s3cr3t-xyz"},
		{"clone https://x-access-token:opaque-t0ken-value@github.com/o/r.git", "opaque-t0ken-value"},
	} {
		if got := c.mask.String(tc.in); strings.Contains(got, tc.leak) {
			t.Errorf("mask(%q) = %q", tc.in, got)
		}
	}
	err = c.mask.Err(&gh.ErrorResponse{Message: "bad token " + testToken})
	var er *gh.ErrorResponse
	if strings.Contains(err.Error(), testToken) || !errors.As(err, &er) {
		t.Fatalf("masked error %v loses type or leaks", err)
	}
}

// Credentials in the API URL's userinfo (a proxy's basic auth) are in every request URL, and go-github's errors
// quote request URLs.
func TestErrorsMaskURLUserinfo(t *testing.T) {
	const password = "pw-s3cr3t-xyz"
	fake := startFake(t, fakegithub.Config{})
	c := newTestClient(t, fake, func(o *Options) {
		o.BaseURL = strings.Replace(fake.URL(), "://", "://runner:"+password+"@", 1)
	})
	fake.FailNext(fastRetry.MaxAttempts, fakegithub.Failure{Kind: fakegithub.BadGateway})
	err := c.UpsertPlanComment(context.Background(), "o/r", 1, "dev", "summary", "plan")
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), password) {
		t.Fatalf("error leaks the URL's password: %v", err)
	}
}

func TestSetStatusIsIdempotentAndCuts(t *testing.T) {
	ctx := context.Background()
	long := strings.Repeat("é", 200)
	for _, tc := range []struct {
		name      string
		calls     [][3]string // state, description, target
		wantPosts int
	}{
		{"same twice posts once", [][3]string{{"pending", "planning", "u"}, {"pending", "planning", "u"}}, 1},
		{"state change posts", [][3]string{{"pending", "planning", "u"}, {"success", "planned", "u"}}, 2},
		{"back and forth posts each", [][3]string{{"pending", "a", ""}, {"success", "b", ""}, {"pending", "a", ""}}, 3},
		{"long description twice posts once", [][3]string{{"failure", long, ""}, {"failure", long, ""}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := startFake(t, fakegithub.Config{})
			c := newTestClient(t, fake, nil)
			for _, call := range tc.calls {
				if err := c.SetStatus(ctx, "o/r", "sha1", "runner/plan/"+strings.Repeat("x", 300), call[0], call[1], call[2]); err != nil {
					t.Fatal(err)
				}
			}
			got := fake.Statuses("o/r", "sha1")
			if len(got) != tc.wantPosts {
				t.Fatalf("%d statuses posted, want %d", len(got), tc.wantPosts)
			}
			for _, st := range got {
				if n := len([]rune(st.Description)); n > 140 {
					t.Errorf("description %d runes", n)
				}
				if n := len([]rune(st.Context)); n != 255 {
					t.Errorf("context %d runes, want cut to 255", n)
				}
			}
		})
	}
	fake := startFake(t, fakegithub.Config{})
	if err := newTestClient(t, fake, nil).SetStatus(ctx, "o/r", "s", "c", "done", "", ""); err == nil {
		t.Fatal("unknown state: want error")
	}
}

func TestDeployments(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		env                   string
		production, transient bool
	}{
		{"dev", false, false},
		{"prod", true, false},
		{"production", true, false},
		{"prod-eu", true, false},
		{"pr-42", false, true},
	} {
		t.Run(tc.env, func(t *testing.T) {
			fake := startFake(t, fakegithub.Config{})
			c := newTestClient(t, fake, nil)
			// A failing check on the commit must not block the deployment record.
			if err := c.SetStatus(ctx, "o/r", "abc", "ci", StateFailure, "red", ""); err != nil {
				t.Fatal(err)
			}
			id, err := c.CreateDeployment(ctx, "o/r", "abc", tc.env, "deploy abc")
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range []string{"queued", "in_progress", "success"} {
				if err := c.SetDeploymentStatus(ctx, "o/r", id, st, "stage "+st, "https://runner/runs/1", "https://"+tc.env+".example.com"); err != nil {
					t.Fatal(err)
				}
			}
			ds := fake.Deployments("o/r")
			if len(ds) != 1 || ds[0].ID != id || ds[0].Environment != tc.env || ds[0].AutoMerge == nil || *ds[0].AutoMerge ||
				ds[0].RequiredContexts == nil || len(*ds[0].RequiredContexts) != 0 ||
				ds[0].ProductionEnvironment != tc.production || ds[0].TransientEnvironment != tc.transient {
				t.Fatalf("deployment %+v", ds)
			}
			sts := fake.DeploymentStatuses(id)
			if len(sts) != 3 || sts[2].State != "success" || sts[2].LogURL == "" || sts[2].EnvironmentURL == "" {
				t.Fatalf("statuses %+v", sts)
			}
			if err := c.SetDeploymentStatus(ctx, "o/r", id, "done", "", "", ""); err == nil {
				t.Fatal("unknown state: want error")
			}
		})
	}
}

func TestCommentOnMergedPR(t *testing.T) {
	ctx := context.Background()
	fake := startFake(t, fakegithub.Config{})
	fake.SeedPull("o/r", fakegithub.Pull{Number: 5, HeadSHA: "h5", Commits: []string{"m9"}})
	fake.SeedPull("o/r", fakegithub.Pull{Number: 9, HeadSHA: "h9", Merged: true, MergeCommitSHA: "m9"})
	fake.SeedPull("o/r", fakegithub.Pull{Number: 12, HeadSHA: "h12"})
	c := newTestClient(t, fake, nil)

	for _, tc := range []struct {
		name, sha string
		wantPR    int
	}{
		{"merge commit picks the merged PR", "m9", 9},
		{"re-run edits the same comment", "m9", 9},
		{"head commit of an open PR falls back to the first", "h12", 12},
		{"direct push has no PR", "nope", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, err := c.CommentOnMergedPR(ctx, "o/r", tc.sha, "Deployed "+tc.sha+" to dev.")
			if err != nil {
				t.Fatal(err)
			}
			if pr != tc.wantPR {
				t.Fatalf("pr %d want %d", pr, tc.wantPR)
			}
			if pr == 0 {
				return
			}
			cs := fake.Comments("o/r", pr)
			if len(cs) != 1 || !strings.HasPrefix(cs[0].Body, deployMarker(tc.sha)) {
				t.Fatalf("comments %+v", cs)
			}
		})
	}
	if n := len(fake.Comments("o/r", 5)); n != 0 {
		t.Fatalf("the open PR that shares the commit got %d comments", n)
	}
}

func TestConcurrentCallsAreRaceFree(t *testing.T) {
	fake := startFake(t, fakegithub.Config{})
	c := newTestClient(t, fake, nil)
	var wg sync.WaitGroup
	for _, env := range []string{"dev", "staging", "prod"} {
		wg.Go(func() {
			if err := c.UpsertPlanComment(context.Background(), "o/r", 1, env, "s", smallPlan); err != nil {
				t.Error(err)
			}
			if err := c.SetStatus(context.Background(), "o/r", "abc", "plan/"+env, StateSuccess, "", ""); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(fake.Comments("o/r", 1)); n != 3 {
		t.Fatalf("%d comments", n)
	}
}
