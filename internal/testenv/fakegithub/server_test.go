package fakegithub_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"

	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
)

const token = "ghp_testtoken"

func newClient(t *testing.T, fake *fakegithub.Server, tok string) *github.Client {
	t.Helper()
	c := github.NewClient(fake.HTTPClient())
	if tok != "" {
		c = c.WithAuthToken(tok)
	}
	u, err := url.Parse(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	c.BaseURL = u
	return c
}

func start(t *testing.T, cfg fakegithub.Config) *fakegithub.Server {
	t.Helper()
	if cfg.Tokens == nil {
		cfg.Tokens = []string{token}
	}
	fake := fakegithub.New(cfg)
	t.Cleanup(fake.Close)
	return fake
}

func TestCommentsListPaginatesWithLinkHeaders(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		n       int
		perPage int
		pages   int
	}{
		{"empty", 0, 30, 1},
		{"one page", 5, 30, 1},
		{"exact pages", 60, 30, 2},
		{"default page size", 75, 0, 3},
		{"max page size", 150, 100, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := start(t, fakegithub.Config{})
			gh := newClient(t, fake, token)
			for i := range tc.n {
				if _, _, err := gh.Issues.CreateComment(ctx, "o", "r", 7, &github.IssueComment{Body: github.String(fmt.Sprint("c", i))}); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: tc.perPage}}
			pages := 0
			for {
				cs, resp, err := gh.Issues.ListComments(ctx, "o", "r", 7, opts)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, c := range cs {
					got = append(got, c.GetBody())
				}
				if resp.NextPage == 0 {
					break
				}
				opts.Page = resp.NextPage
			}
			if len(got) != tc.n || pages != tc.pages {
				t.Fatalf("got %d comments in %d pages, want %d in %d", len(got), pages, tc.n, tc.pages)
			}
			for i, b := range got {
				if b != fmt.Sprint("c", i) {
					t.Fatalf("comment %d = %q, out of order", i, b)
				}
			}
		})
	}
}

func TestCommentEditDeleteAndLengthLimit(t *testing.T) {
	ctx := context.Background()
	fake := start(t, fakegithub.Config{})
	gh := newClient(t, fake, token)

	c, _, err := gh.Issues.CreateComment(ctx, "o", "r", 1, &github.IssueComment{Body: github.String("first")})
	if err != nil {
		t.Fatal(err)
	}
	if c.GetUser().GetLogin() == "" || c.GetID() == 0 || c.GetCreatedAt().IsZero() {
		t.Fatalf("comment lacks fields: %+v", c)
	}
	if _, _, err := gh.Issues.EditComment(ctx, "o", "r", c.GetID(), &github.IssueComment{Body: github.String("second")}); err != nil {
		t.Fatal(err)
	}
	if got := fake.Comments("o/r", 1); len(got) != 1 || got[0].Body != "second" {
		t.Fatalf("after edit: %+v", got)
	}

	for _, tc := range []struct {
		name    string
		body    string
		wantErr bool
	}{
		{"at limit", strings.Repeat("a", fakegithub.MaxCommentLength), false},
		{"at limit in runes", strings.Repeat("é", fakegithub.MaxCommentLength), false},
		{"one over", strings.Repeat("a", fakegithub.MaxCommentLength+1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := gh.Issues.EditComment(ctx, "o", "r", c.GetID(), &github.IssueComment{Body: github.String(tc.body)})
			var er *github.ErrorResponse
			switch {
			case !tc.wantErr && err != nil:
				t.Fatal(err)
			case tc.wantErr && (!errors.As(err, &er) || er.Response.StatusCode != 422 || len(er.Errors) != 1 || er.Errors[0].Field != "body"):
				t.Fatalf("want 422 on body, got %v", err)
			}
		})
	}

	if _, err := gh.Issues.DeleteComment(ctx, "o", "r", c.GetID()); err != nil {
		t.Fatal(err)
	}
	if got := fake.Comments("o/r", 1); len(got) != 0 {
		t.Fatalf("after delete: %+v", got)
	}
	if _, err := gh.Issues.DeleteComment(ctx, "o", "r", c.GetID()); err == nil {
		t.Fatal("deleting twice: want 404")
	}
}

func TestStatusesListNewestFirstAndCombineByContext(t *testing.T) {
	ctx := context.Background()
	fake := start(t, fakegithub.Config{})
	gh := newClient(t, fake, token)
	post := func(state, context string) error {
		_, _, err := gh.Repositories.CreateStatus(ctx, "o", "r", "abc", &github.RepoStatus{
			State: github.String(state), Context: github.String(context), Description: github.String("d"),
		})
		return err
	}
	for _, s := range [][2]string{{"pending", "plan/dev"}, {"success", "plan/dev"}, {"failure", "plan/prod"}} {
		if err := post(s[0], s[1]); err != nil {
			t.Fatal(err)
		}
	}
	list, _, err := gh.Repositories.ListStatuses(ctx, "o", "r", "abc", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].GetContext() != "plan/prod" || list[2].GetState() != "pending" {
		t.Fatalf("list not newest first: %v", list)
	}
	comb, _, err := gh.Repositories.GetCombinedStatus(ctx, "o", "r", "abc", nil)
	if err != nil {
		t.Fatal(err)
	}
	if comb.GetState() != "failure" || comb.GetTotalCount() != 2 || comb.Statuses[0].GetState() != "success" {
		t.Fatalf("combined: %+v", comb)
	}
	for _, tc := range []struct {
		name, state, context string
		wantErr              bool
	}{
		{"context at 255", "success", strings.Repeat("c", 255), false},
		{"context over 255", "success", strings.Repeat("c", 256), true},
		{"unknown state", "done", "x", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := post(tc.state, tc.context)
			var er *github.ErrorResponse
			if tc.wantErr != (err != nil) || (err != nil && (!errors.As(err, &er) || er.Response.StatusCode != 422)) {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
	if got := fake.Statuses("o/r", "abc"); len(got) != 4 {
		t.Fatalf("Statuses = %d, want 4", len(got))
	}
}

func TestDeploymentsAndTheirStatuses(t *testing.T) {
	ctx := context.Background()
	fake := start(t, fakegithub.Config{})
	gh := newClient(t, fake, token)
	if _, _, err := gh.Repositories.CreateStatus(ctx, "o", "r", "abc", &github.RepoStatus{State: github.String("pending"), Context: github.String("ci")}); err != nil {
		t.Fatal(err)
	}
	req := func(required *[]string) *github.DeploymentRequest {
		return &github.DeploymentRequest{Ref: github.String("abc"), Environment: github.String("dev"), AutoMerge: github.Bool(false), RequiredContexts: required}
	}
	_, _, err := gh.Repositories.CreateDeployment(ctx, "o", "r", req(nil))
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusConflict {
		t.Fatalf("without required_contexts and a pending status: want 409, got %v", err)
	}
	d, _, err := gh.Repositories.CreateDeployment(ctx, "o", "r", req(&[]string{}))
	if err != nil {
		t.Fatal(err)
	}
	if d.GetSHA() != "abc" || d.GetEnvironment() != "dev" || d.GetID() == 0 {
		t.Fatalf("deployment: %+v", d)
	}
	for _, state := range []string{"queued", "in_progress", "success"} {
		if _, _, err := gh.Repositories.CreateDeploymentStatus(ctx, "o", "r", d.GetID(), &github.DeploymentStatusRequest{
			State: github.String(state), LogURL: github.String("https://runner/runs/1"),
		}); err != nil {
			t.Fatal(err)
		}
	}
	sts, _, err := gh.Repositories.ListDeploymentStatuses(ctx, "o", "r", d.GetID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 3 || sts[0].GetState() != "success" || sts[0].GetLogURL() == "" {
		t.Fatalf("statuses: %v", sts)
	}
	ds, _, err := gh.Repositories.ListDeployments(ctx, "o", "r", &github.DeploymentsListOptions{Environment: "dev"})
	if err != nil || len(ds) != 1 {
		t.Fatalf("list: %v %v", ds, err)
	}
	if _, _, err := gh.Repositories.CreateDeploymentStatus(ctx, "o", "r", 999999, &github.DeploymentStatusRequest{State: github.String("success")}); err == nil {
		t.Fatal("status on missing deployment: want 404")
	}
	if got := fake.Deployments("o/r"); len(got) != 1 || got[0].RequiredContexts == nil || *got[0].AutoMerge {
		t.Fatalf("recorded: %+v", got)
	}
	if got := fake.DeploymentStatuses(d.GetID()); len(got) != 3 {
		t.Fatalf("DeploymentStatuses: %+v", got)
	}
}

func TestPullsAssociatedWithCommit(t *testing.T) {
	ctx := context.Background()
	fake := start(t, fakegithub.Config{})
	gh := newClient(t, fake, token)
	fake.SeedPull("o/r", fakegithub.Pull{Number: 3, Title: "open one", HeadSHA: "h3", Commits: []string{"shared"}})
	fake.SeedPull("o/r", fakegithub.Pull{Number: 4, Title: "merged", HeadSHA: "h4", Merged: true, MergeCommitSHA: "m4", Commits: []string{"shared"}})

	for _, tc := range []struct {
		sha  string
		want []int
	}{
		{"m4", []int{4}},
		{"h3", []int{3}},
		{"shared", []int{3, 4}},
		{"nothing", nil},
	} {
		t.Run(tc.sha, func(t *testing.T) {
			prs, _, err := gh.PullRequests.ListPullRequestsWithCommit(ctx, "o", "r", tc.sha, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, p := range prs {
				got = append(got, p.GetNumber())
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v want %v", got, tc.want)
			}
		})
	}
	pr, _, err := gh.PullRequests.Get(ctx, "o", "r", 4)
	if err != nil {
		t.Fatal(err)
	}
	if !pr.GetMerged() || pr.GetMergeCommitSHA() != "m4" || pr.MergedAt == nil || pr.GetState() != "closed" {
		t.Fatalf("pull: %+v", pr)
	}
}

func TestAuthorization(t *testing.T) {
	ctx := context.Background()
	fake := start(t, fakegithub.Config{})
	for _, tc := range []struct {
		name   string
		header string
		want   int
	}{
		{"bearer", "Bearer " + token, 200},
		{"token scheme", "token " + token, 200},
		{"wrong token", "token nope", 401},
		{"none", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fake.URL()+"repos/o/r/issues/1/comments", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := fake.HTTPClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

func genKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

func TestAppInstallationTokenChecksTheJWT(t *testing.T) {
	ctx := context.Background()
	key, keyPEM := genKey(t)
	_, otherPEM := genKey(t)
	for _, tc := range []struct {
		name    string
		appID   int64
		pem     []byte
		wantErr bool
	}{
		{"registered key", 42, keyPEM, false},
		{"other key", 42, otherPEM, true},
		{"other app id", 43, keyPEM, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := start(t, fakegithub.Config{APIPrefix: "/api/v3", Tokens: []string{}})
			fake.RegisterApp(42, 7, &key.PublicKey)
			itr, err := ghinstallation.New(fake.HTTPClient().Transport, tc.appID, 7, tc.pem)
			if err != nil {
				t.Fatal(err)
			}
			itr.BaseURL = strings.TrimSuffix(fake.URL(), "/")
			gh := github.NewClient(&http.Client{Transport: itr})
			gh.BaseURL, _ = url.Parse(fake.URL())
			_, _, err = gh.Issues.CreateComment(ctx, "o", "r", 1, &github.IssueComment{Body: github.String("hi")})
			if tc.wantErr != (err != nil) {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && len(fake.IssuedTokens()) != 1 {
				t.Fatalf("issued %v", fake.IssuedTokens())
			}
		})
	}
}

func TestInjectedFailures(t *testing.T) {
	ctx := context.Background()
	reset := time.Now().Add(time.Hour).Truncate(time.Second)
	for _, tc := range []struct {
		name  string
		f     fakegithub.Failure
		check func(error) bool
	}{
		{"bad gateway", fakegithub.Failure{Kind: fakegithub.BadGateway}, func(err error) bool {
			var er *github.ErrorResponse
			return errors.As(err, &er) && er.Response.StatusCode == 502
		}},
		{"secondary", fakegithub.Failure{Kind: fakegithub.SecondaryRateLimit, RetryAfter: 3 * time.Second}, func(err error) bool {
			var er *github.AbuseRateLimitError
			return errors.As(err, &er) && er.GetRetryAfter() == 3*time.Second
		}},
		{"primary 403", fakegithub.Failure{Kind: fakegithub.PrimaryRateLimit, Reset: reset}, func(err error) bool {
			var er *github.RateLimitError
			return errors.As(err, &er) && er.Rate.Remaining == 0 && er.Rate.Reset.Time.Equal(reset)
		}},
		{"primary 429", fakegithub.Failure{Kind: fakegithub.PrimaryRateLimit, Status: 429, Reset: reset}, func(err error) bool {
			var er *github.ErrorResponse
			return errors.As(err, &er) && er.Response.StatusCode == 429 && er.Response.Header.Get("X-RateLimit-Remaining") == "0"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := start(t, fakegithub.Config{})
			fake.FailNext(1, tc.f)
			gh := newClient(t, fake, token)
			_, _, err := gh.Issues.ListComments(ctx, "o", "r", 1, nil)
			if !tc.check(err) {
				t.Fatalf("unexpected error %T %v", err, err)
			}
			// The failure is used up: a fresh client (go-github remembers rate limits) now succeeds.
			if _, _, err := newClient(t, fake, token).Issues.ListComments(ctx, "o", "r", 1, nil); err != nil {
				t.Fatal(err)
			}
			calls := fake.Calls()
			if len(calls) != 2 || calls[0].Status == 200 || calls[1].Status != 200 {
				t.Fatalf("calls: %+v", calls)
			}
		})
	}
}

func TestAPIPrefixForEnterprise(t *testing.T) {
	fake := start(t, fakegithub.Config{APIPrefix: "/api/v3"})
	if !strings.HasSuffix(fake.URL(), "/api/v3/") {
		t.Fatalf("URL %s", fake.URL())
	}
	gh := newClient(t, fake, token)
	if _, _, err := gh.Issues.ListComments(context.Background(), "o", "r", 1, nil); err != nil {
		t.Fatal(err)
	}
	resp, err := fake.HTTPClient().Get(strings.TrimSuffix(fake.URL(), "api/v3/") + "repos/o/r/issues/1/comments")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("outside the prefix: %d", resp.StatusCode)
	}
}

func TestConcurrentUse(t *testing.T) {
	fake := start(t, fakegithub.Config{})
	gh := newClient(t, fake, token)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, _, err := gh.Issues.CreateComment(context.Background(), "o", "r", 1, &github.IssueComment{Body: github.String(fmt.Sprint(i))})
			if err != nil {
				t.Error(err)
			}
			_, _, _ = gh.Issues.ListComments(context.Background(), "o", "r", 1, nil)
		})
	}
	wg.Wait()
	if n := len(fake.Comments("o/r", 1)); n != 20 {
		t.Fatalf("%d comments", n)
	}
	if n := len(fake.Calls()); n != 40 {
		t.Fatalf("%d calls", n)
	}
}

func TestAuthenticatedUser(t *testing.T) {
	for _, tc := range []struct {
		name, login, token string
		wantStatus         int
		wantLogin          string
		wantType           string
		wantMessage        string
	}{
		{"bot login by default", "", token, 200, "gitops-runner[bot]", "Bot", ""},
		{"machine user", "runner-bot", token, 200, "runner-bot", "User", ""},
		{"installation token acts for no user", "", "ghs_installationtoken", 403, "", "", "Resource not accessible by integration"},
		{"unknown token", "", "ghp_nope", 401, "", "", "Bad credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := start(t, fakegithub.Config{Login: tc.login, Tokens: []string{token, "ghs_installationtoken"}})
			u, _, err := newClient(t, fake, tc.token).Users.Get(t.Context(), "")
			if tc.wantStatus != 200 {
				var er *github.ErrorResponse
				if !errors.As(err, &er) || er.Response.StatusCode != tc.wantStatus || er.Message != tc.wantMessage {
					t.Fatalf("want %d %q, got %v", tc.wantStatus, tc.wantMessage, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.GetLogin() != tc.wantLogin || u.GetType() != tc.wantType || u.GetID() == 0 {
				t.Fatalf("user %+v", u)
			}
		})
	}
}

func TestAppAnswersOnlyItsJWT(t *testing.T) {
	key, keyPEM := genKey(t)
	_, otherPEM := genKey(t)
	for _, tc := range []struct {
		name     string
		cfg      fakegithub.Config
		appID    int64
		pem      []byte
		token    string // sent instead of a JWT when set
		wantSlug string
	}{
		{"slug from the login", fakegithub.Config{}, 42, keyPEM, "", "gitops-runner"},
		{"configured slug", fakegithub.Config{AppSlug: "deployer"}, 42, keyPEM, "", "deployer"},
		{"other key", fakegithub.Config{}, 42, otherPEM, "", ""},
		{"other app id", fakegithub.Config{}, 43, keyPEM, "", ""},
		{"installation token", fakegithub.Config{Tokens: []string{"ghs_installationtoken"}}, 0, nil, "ghs_installationtoken", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.APIPrefix = "/api/v3"
			fake := start(t, tc.cfg)
			fake.RegisterApp(42, 7, &key.PublicKey)
			gh := newClient(t, fake, tc.token)
			if tc.token == "" {
				atr, err := ghinstallation.NewAppsTransport(fake.HTTPClient().Transport, tc.appID, tc.pem)
				if err != nil {
					t.Fatal(err)
				}
				gh = github.NewClient(&http.Client{Transport: atr})
				gh.BaseURL, _ = url.Parse(fake.URL())
			}
			app, _, err := gh.Apps.Get(t.Context(), "")
			if tc.wantSlug == "" {
				var er *github.ErrorResponse
				if !errors.As(err, &er) || er.Response.StatusCode != 401 {
					t.Fatalf("want 401, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if app.GetID() != 42 || app.GetSlug() != tc.wantSlug || app.GetName() == "" || app.GetOwner().GetLogin() == "" {
				t.Fatalf("app %+v", app)
			}
		})
	}
}

func TestCommentAuthorsAreUsersOrBots(t *testing.T) {
	fake := start(t, fakegithub.Config{})
	gh := newClient(t, fake, token)
	fake.SeedComment("o/r", 1, "mallory", "hi")
	if _, _, err := gh.Issues.CreateComment(t.Context(), "o", "r", 1, &github.IssueComment{Body: github.String("plan")}); err != nil {
		t.Fatal(err)
	}
	cs, _, err := gh.Issues.ListComments(t.Context(), "o", "r", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("%d comments", len(cs))
	}
	mallory, runner := cs[0].GetUser(), cs[1].GetUser()
	if mallory.GetLogin() != "mallory" || mallory.GetType() != "User" ||
		runner.GetLogin() != "gitops-runner[bot]" || runner.GetType() != "Bot" || mallory.GetID() == runner.GetID() {
		t.Fatalf("authors %+v %+v", mallory, runner)
	}
}

func TestInjectedFailureOnAPath(t *testing.T) {
	fake := start(t, fakegithub.Config{})
	fake.FailNext(1, fakegithub.Failure{Kind: fakegithub.BadGateway, Path: "/user"})
	gh := newClient(t, fake, token)
	if _, _, err := gh.Issues.ListComments(t.Context(), "o", "r", 1, nil); err != nil {
		t.Fatalf("another path took the failure: %v", err)
	}
	var er *github.ErrorResponse
	if _, _, err := gh.Users.Get(t.Context(), ""); !errors.As(err, &er) || er.Response.StatusCode != 502 {
		t.Fatalf("want 502, got %v", err)
	}
	if _, _, err := gh.Users.Get(t.Context(), ""); err != nil || fake.PendingFailures() != 0 {
		t.Fatalf("failure not used up: %v, %d pending", err, fake.PendingFailures())
	}
}
