package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	gh "github.com/google/go-github/v60/github"

	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
)

// An installation token, as GitHub Actions' GITHUB_TOKEN is: GitHub will not say whom it acts for.
const installationToken = "ghs_0123456789abcdefghijklmnopqrstuv"

// authMode is one way the runner authenticates, and who its comments are by.
type authMode struct {
	name   string
	login  string // author of the comments the runner creates
	askOn  string // path the runner asks its own login on
	start  func(t *testing.T) (*fakegithub.Server, *Client)
	wantMe string // login the client should learn; "" is the bot fallback
}

func authModes() []authMode {
	return []authMode{
		{name: "token of a machine user", login: "runner-bot", askOn: "/user", wantMe: "runner-bot",
			start: func(t *testing.T) (*fakegithub.Server, *Client) {
				fake := startFake(t, fakegithub.Config{Login: "runner-bot"})
				return fake, newTestClient(t, fake, nil)
			}},
		{name: "github app", login: "deployer[bot]", askOn: "/app", wantMe: "deployer[bot]",
			start: func(t *testing.T) (*fakegithub.Server, *Client) {
				fake := startFake(t, fakegithub.Config{Tokens: []string{}, Login: "deployer[bot]", AppSlug: "deployer"})
				return fake, newAppClient(t, fake)
			}},
		{name: "installation token as a plain token", login: "github-actions[bot]", askOn: "/user", wantMe: "",
			start: func(t *testing.T) (*fakegithub.Server, *Client) {
				fake := startFake(t, fakegithub.Config{Tokens: []string{installationToken}, Login: "github-actions[bot]"})
				return fake, newTestClient(t, fake, func(o *Options) { o.Token = installationToken })
			}},
	}
}

// newAppClient registers a fresh App (id 11, installation 22) with the fake and returns a client for it.
func newAppClient(t *testing.T, fake *fakegithub.Server) *Client {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	fake.RegisterApp(11, 22, &key.PublicKey)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	c, err := New(t.Context(), Options{AppID: 11, InstallationID: 22, PrivateKey: keyPEM,
		BaseURL: fake.URL(), HTTPClient: fake.HTTPClient(), Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// commentsBy returns login's comments on the issue, oldest first.
func commentsBy(fake *fakegithub.Server, repo string, issue int, login string) []fakegithub.Comment {
	var out []fakegithub.Comment
	for _, cm := range fake.Comments(repo, issue) {
		if cm.User == login {
			out = append(out, cm)
		}
	}
	return out
}

// assertUntouched fails unless the comments are still there with the same bodies and the runner never sent an
// edit or a delete for them.
func assertUntouched(t *testing.T, fake *fakegithub.Server, repo string, issue int, want map[int64]string) {
	t.Helper()
	have := map[int64]string{}
	for _, cm := range fake.Comments(repo, issue) {
		have[cm.ID] = cm.Body
	}
	for id, body := range want {
		if got, ok := have[id]; !ok || got != body {
			t.Errorf("someone else's comment %d was deleted or changed: %q", id, got)
		}
		path := fmt.Sprintf("/repos/%s/issues/comments/%d", repo, id)
		for _, call := range fake.Calls() {
			if call.Path == path && call.Method != "GET" {
				t.Errorf("runner sent %s %s for someone else's comment", call.Method, path)
			}
		}
	}
}

func countCalls(fake *fakegithub.Server, method, path string) int {
	n := 0
	for _, call := range fake.Calls() {
		if call.Method == method && call.Path == path {
			n++
		}
	}
	return n
}

// A pull request's author can post a comment that starts with the runner's marker. The runner must neither edit
// nor delete it (with a bot token GitHub answers 403 and every later comment fails; with an admin token it would
// rewrite a person's words), and must keep its own sticky comment beside it.
func TestStickyCommentsLeaveOthersMarkerCommentsAlone(t *testing.T) {
	for _, kind := range []struct {
		name, marker string
		pr           int
		post         func(ctx context.Context, c *Client, push int) error
	}{
		{"plan comment", planMarker("dev", 1), 3, func(ctx context.Context, c *Client, push int) error {
			return c.UpsertPlanComment(ctx, "o/r", 3, "dev", fmt.Sprintf("summary of push %d", push), smallPlan)
		}},
		{"deploy comment", deployMarker("m9"), 9, func(ctx context.Context, c *Client, push int) error {
			_, err := c.CommentOnMergedPR(ctx, "o/r", "m9", fmt.Sprintf("summary of push %d", push))
			return err
		}},
	} {
		for _, mode := range authModes() {
			t.Run(kind.name+"/"+mode.name, func(t *testing.T) {
				fake, c := mode.start(t)
				fake.SeedPull("o/r", fakegithub.Pull{Number: 9, HeadSHA: "h9", Merged: true, MergeCommitSHA: "m9"})
				bait := kind.marker + "\nmallory was here"
				theirs := map[int64]string{fake.SeedComment("o/r", kind.pr, "mallory", bait): bait}

				var ownID int64
				for push := range 2 {
					if err := kind.post(t.Context(), c, push); err != nil {
						t.Fatalf("push %d: %v", push, err)
					}
					own := commentsBy(fake, "o/r", kind.pr, mode.login)
					if len(own) != 1 || !strings.HasPrefix(own[0].Body, kind.marker) ||
						!strings.Contains(own[0].Body, fmt.Sprintf("summary of push %d", push)) {
						t.Fatalf("push %d: runner's comments %+v, want one with the marker and this push", push, own)
					}
					if push > 0 && own[0].ID != ownID {
						t.Fatalf("push %d: own comment re-created (id %d -> %d), not edited in place", push, ownID, own[0].ID)
					}
					ownID = own[0].ID
				}
				assertUntouched(t, fake, "o/r", kind.pr, theirs)
			})
		}
	}
}

// Continuation parts are found the same way: someone else's comment with a part marker is neither taken over as a
// part nor deleted as a stale one when the plan shrinks.
func TestPlanCommentLeavesOthersContinuationPartsAlone(t *testing.T) {
	for _, mode := range authModes() {
		t.Run(mode.name, func(t *testing.T) {
			fake, c := mode.start(t)
			theirs := map[int64]string{}
			seed := func(part int) {
				body := planMarker("dev", part) + "\nnot the runner's"
				theirs[fake.SeedComment("o/r", 5, "mallory", body)] = body
			}
			seed(2)
			if err := c.UpsertPlanComment(t.Context(), "o/r", 5, "dev", "big", bigPlan(2*MaxCommentLength+1000)); err != nil {
				t.Fatal(err)
			}
			if own := commentsBy(fake, "o/r", 5, mode.login); len(own) != 3 {
				t.Fatalf("%d own parts after a three-part plan, want 3", len(own))
			}
			seed(3)
			seed(4)
			if err := c.UpsertPlanComment(t.Context(), "o/r", 5, "dev", "small", smallPlan); err != nil {
				t.Fatal(err)
			}
			own := commentsBy(fake, "o/r", 5, mode.login)
			if len(own) != 1 || !strings.Contains(own[0].Body, "small") {
				t.Fatalf("own comments after shrinking: %+v, want part 1 only", own)
			}
			assertUntouched(t, fake, "o/r", 5, theirs)
		})
	}
}

// The runner asks GitHub who it is once per client, however many comments it keeps, also when GitHub refuses to
// say (the fallback is kept too).
func TestOwnLoginIsAskedOnce(t *testing.T) {
	for _, mode := range authModes() {
		t.Run(mode.name, func(t *testing.T) {
			fake, c := mode.start(t)
			fake.SeedPull("o/r", fakegithub.Pull{Number: 1, HeadSHA: "h1", Merged: true, MergeCommitSHA: "m1"})
			envs := []string{"dev", "staging", "prod"}
			for _, env := range envs {
				fake.SeedComment("o/r", 1, "mallory", planMarker(env, 1)) // every lookup has a marked comment to judge
			}
			var wg sync.WaitGroup
			for _, env := range envs {
				wg.Go(func() {
					for push := range 3 {
						if err := c.UpsertPlanComment(t.Context(), "o/r", 1, env, fmt.Sprint("push ", push), smallPlan); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Go(func() {
				for range 2 {
					if _, err := c.CommentOnMergedPR(t.Context(), "o/r", "m1", "deployed"); err != nil {
						t.Error(err)
					}
				}
			})
			wg.Wait()
			if n := countCalls(fake, "GET", mode.askOn); n != 1 {
				t.Fatalf("GET %s asked %d times, want once", mode.askOn, n)
			}
			if own := commentsBy(fake, "o/r", 1, mode.login); len(own) != len(envs)+1 {
				t.Fatalf("%d own comments, want one per environment and one deploy comment", len(own))
			}
		})
	}
}

// An outage while asking is an error, not a reason to guess: nothing is posted, and the next call asks again.
func TestOwnLoginOutageIsReturnedAndAskedAgain(t *testing.T) {
	for _, mode := range authModes() {
		t.Run(mode.name, func(t *testing.T) {
			fake, c := mode.start(t)
			bait := planMarker("dev", 1)
			theirs := map[int64]string{fake.SeedComment("o/r", 2, "mallory", bait): bait}
			fake.FailNext(fastRetry.MaxAttempts, fakegithub.Failure{Kind: fakegithub.BadGateway, Path: mode.askOn})

			err := c.UpsertPlanComment(t.Context(), "o/r", 2, "dev", "s", smallPlan)
			var er *gh.ErrorResponse
			if !errors.As(err, &er) || er.Response.StatusCode != 502 || !strings.Contains(err.Error(), "own login") {
				t.Fatalf("want the 502 from the login lookup, got %v", err)
			}
			if own := commentsBy(fake, "o/r", 2, mode.login); len(own) != 0 {
				t.Fatalf("posted %d comments without knowing its own login", len(own))
			}
			if err := c.UpsertPlanComment(t.Context(), "o/r", 2, "dev", "s", smallPlan); err != nil {
				t.Fatal(err)
			}
			if n := countCalls(fake, "GET", mode.askOn); n != fastRetry.MaxAttempts+1 {
				t.Fatalf("GET %s asked %d times, want %d failed attempts and one more", mode.askOn, n, fastRetry.MaxAttempts)
			}
			if own := commentsBy(fake, "o/r", 2, mode.login); len(own) != 1 {
				t.Fatalf("%d own comments after the outage, want 1", len(own))
			}
			assertUntouched(t, fake, "o/r", 2, theirs)
		})
	}
}

func TestClientLearnsItsOwnLogin(t *testing.T) {
	for _, mode := range authModes() {
		t.Run(mode.name, func(t *testing.T) {
			_, c := mode.start(t)
			me, err := c.self.get(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if me.login != mode.wantMe {
				t.Fatalf("login %q, want %q", me.login, mode.wantMe)
			}
		})
	}
}

func TestAuthorWrote(t *testing.T) {
	by := func(login, typ string) *gh.IssueComment {
		return &gh.IssueComment{User: &gh.User{Login: &login, Type: &typ}}
	}
	for _, tc := range []struct {
		name string
		me   author
		cm   *gh.IssueComment
		want bool
	}{
		{"own login", author{login: "deployer[bot]"}, by("deployer[bot]", "Bot"), true},
		{"own login, other case", author{login: "Runner-Bot"}, by("runner-bot", "User"), true},
		{"another user", author{login: "deployer[bot]"}, by("mallory", "User"), false},
		{"another bot", author{login: "deployer[bot]"}, by("dependabot[bot]", "Bot"), false},
		{"no user", author{login: "deployer[bot]"}, &gh.IssueComment{}, false},
		{"fallback: a bot", author{}, by("github-actions[bot]", "Bot"), true},
		{"fallback: a person", author{}, by("mallory", "User"), false},
		{"fallback: no user", author{}, &gh.IssueComment{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.me.wrote(tc.cm); got != tc.want {
				t.Fatalf("wrote = %v, want %v", got, tc.want)
			}
		})
	}
}
