package policy

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
)

const testToken = "ghp_policytest"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// gate holds requests until opened, so concurrent look-ups are certain to overlap.
type gate struct {
	next    http.RoundTripper
	open    chan struct{}
	arrived chan struct{}
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	g.arrived <- struct{}{}
	<-g.open
	return g.next.RoundTrip(r)
}

type testEnv struct {
	fake  *fakegithub.Server
	perms *Permissions
	clock *clock
}

// newTestEnv starts a fake GitHub and Permissions that ask it through the real go-github client.
func newTestEnv(t *testing.T, rt func(http.RoundTripper) http.RoundTripper) testEnv {
	t.Helper()
	fake := fakegithub.New(fakegithub.Config{Tokens: []string{testToken}})
	t.Cleanup(fake.Close)
	transport := fake.HTTPClient().Transport
	if rt != nil {
		transport = rt(transport)
	}
	gh := github.NewClient(&http.Client{Transport: transport}).WithAuthToken(testToken)
	base, err := url.Parse(fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	gh.BaseURL = base
	c := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	return testEnv{fake: fake, perms: NewPermissions(gh, PermissionsOptions{Now: c.now}), clock: c}
}

func (e testEnv) calls() int { return len(e.fake.Calls()) }

func TestLevelRanksRolesThenPermissions(t *testing.T) {
	env := newTestEnv(t, nil)
	for _, tc := range []struct {
		user string
		c    *fakegithub.Collaborator
		want Level
	}{
		{"ada", &fakegithub.Collaborator{Role: "admin"}, LevelAdmin},
		{"max", &fakegithub.Collaborator{Role: "maintain"}, LevelMaintain}, // permission says write
		{"wes", &fakegithub.Collaborator{Role: "write"}, LevelWrite},
		{"tia", &fakegithub.Collaborator{Role: "triage"}, LevelTriage}, // permission says read
		{"rob", &fakegithub.Collaborator{Role: "read"}, LevelRead},
		{"cus", &fakegithub.Collaborator{Role: "deployer", Permission: "write"}, LevelWrite},
		{"aud", &fakegithub.Collaborator{Role: "auditor", Permission: "read"}, LevelRead},
		{"odd", &fakegithub.Collaborator{Role: "x", Permission: "superuser"}, LevelNone},
		{"nobody", nil, LevelNone},
		{"dependabot[bot]", nil, LevelNone},
	} {
		t.Run(tc.user, func(t *testing.T) {
			if tc.c != nil {
				env.fake.SetCollaborator("acme/app", tc.user, *tc.c)
			}
			got, err := env.perms.Level(context.Background(), "acme/app", tc.user)
			if err != nil || got != tc.want {
				t.Errorf("Level = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestAllowsByLevel(t *testing.T) {
	env := newTestEnv(t, nil)
	levels := []Level{LevelNone, LevelRead, LevelTriage, LevelWrite, LevelMaintain, LevelAdmin}
	for _, l := range levels[1:] {
		env.fake.SetCollaborator("acme/app", "u-"+l.String(), fakegithub.Collaborator{Role: l.String()})
	}
	for _, have := range levels {
		for _, need := range levels[1:] {
			d, err := env.perms.Allows(context.Background(), "acme/app", "u-"+have.String(), Rule{MinLevel: need})
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != (have >= need) {
				t.Errorf("%v needing %v: %+v", have, need, d)
			}
		}
	}
	d, _ := env.perms.Allows(context.Background(), "acme/app", "u-triage", Rule{MinLevel: LevelWrite, Teams: []string{"acme/sre"}})
	if want := "u-triage has triage access to acme/app; this needs write access or more, or membership of acme/sre"; d.Reason != want {
		t.Errorf("reason = %q, want %q", d.Reason, want)
	}
	d, _ = env.perms.Allows(context.Background(), "acme/app", "u-admin", Rule{MinLevel: LevelMaintain})
	if !d.Allowed || d.Reason != "u-admin has admin access to acme/app" {
		t.Errorf("decision = %+v", d)
	}
}

func TestAllowsByTeamAndByName(t *testing.T) {
	env := newTestEnv(t, nil)
	env.fake.SetTeamMembership("acme/sre", "alice", "active")
	env.fake.SetTeamMembership("acme/sre", "bob", "pending")
	env.fake.SetCollaborator("acme/app", "carol", fakegithub.Collaborator{Role: "read"})
	rule := Rule{MinLevel: LevelMaintain, Teams: []string{"acme/platform", "acme/sre"}, Users: []string{"Dave"}}
	for _, tc := range []struct {
		user    string
		allowed bool
		reason  string
		calls   int
	}{
		{"alice", true, "alice is a member of acme/sre", 3},
		{"bob", false, "bob has no access to acme/app; this needs maintain access or more, or membership of acme/platform or acme/sre, or to be one of Dave", 3},
		{"carol", false, "carol has read access to acme/app; this needs", 3},
		{"dave", true, "dave is allowed by name", 0},
	} {
		t.Run(tc.user, func(t *testing.T) {
			before := env.calls()
			d, err := env.perms.Allows(context.Background(), "acme/app", tc.user, rule)
			if err != nil || d.Allowed != tc.allowed || !strings.HasPrefix(d.Reason, tc.reason) {
				t.Errorf("Allows = %+v, %v", d, err)
			}
			if n := env.calls() - before; n != tc.calls {
				t.Errorf("%d GitHub calls, want %d", n, tc.calls)
			}
		})
	}
	calls := env.fake.Calls()
	if calls[0].Path != "/repos/acme/app/collaborators/alice/permission" || calls[1].Path != "/orgs/acme/teams/platform/memberships/alice" {
		t.Errorf("calls = %+v", calls[:2])
	}
	if d, err := env.perms.Allows(context.Background(), "acme/app", "alice", Rule{}); err != nil || d.Allowed {
		t.Errorf("the zero rule allowed: %+v, %v", d, err)
	}
}

func TestLookupsAreCachedForTheTTL(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, nil)
	env.fake.SetCollaborator("acme/app", "alice", fakegithub.Collaborator{Role: "write"})
	env.fake.SetTeamMembership("acme/sre", "alice", "active")
	look := func() {
		t.Helper()
		if l, err := env.perms.Level(ctx, "acme/app", "alice"); err != nil || l != LevelWrite {
			t.Fatalf("Level = %v, %v", l, err)
		}
		if in, err := env.perms.InTeam(ctx, "acme/sre", "alice"); err != nil || !in {
			t.Fatalf("InTeam = %v, %v", in, err)
		}
	}
	look()
	if env.calls() != 2 {
		t.Fatalf("%d calls", env.calls())
	}
	env.clock.advance(59 * time.Second)
	look()
	if env.calls() != 2 {
		t.Errorf("within the TTL: %d calls, want 2", env.calls())
	}
	// Logins and names are case-insensitive on GitHub, and so is the cache.
	if l, _ := env.perms.Level(ctx, "ACME/App", "Alice"); l != LevelWrite || env.calls() != 2 {
		t.Errorf("case: %v, %d calls", l, env.calls())
	}
	env.clock.advance(time.Second)
	env.fake.SetCollaborator("acme/app", "alice", fakegithub.Collaborator{Role: "read"})
	if l, _ := env.perms.Level(ctx, "acme/app", "alice"); l != LevelRead || env.calls() != 3 {
		t.Errorf("after the TTL: %v, %d calls", l, env.calls())
	}
}

func TestFailedLookupsAreNotCached(t *testing.T) {
	ctx := context.Background()
	env := newTestEnv(t, nil)
	env.fake.SetCollaborator("acme/app", "alice", fakegithub.Collaborator{Role: "admin"})
	env.fake.FailNext(1, fakegithub.Failure{Kind: fakegithub.BadGateway})
	_, err := env.perms.Level(ctx, "acme/app", "alice")
	if err == nil || !strings.HasPrefix(err.Error(), "look up alice's access to acme/app: ") {
		t.Fatalf("err = %v", err)
	}
	if l, err := env.perms.Level(ctx, "acme/app", "alice"); err != nil || l != LevelAdmin || env.calls() != 2 {
		t.Errorf("after a failure: %v, %v, %d calls", l, err, env.calls())
	}

	env.fake.FailNext(1, fakegithub.Failure{Kind: fakegithub.BadGateway, Path: "/orgs/acme/teams/sre/memberships/bob"})
	d, err := env.perms.Allows(ctx, "acme/app", "bob", Rule{MinLevel: LevelWrite, Teams: []string{"acme/sre"}})
	if err == nil || d.Allowed || d.Reason != "the runner could not check bob's access to acme/app" {
		t.Errorf("Allows = %+v, %v", d, err)
	}
	// A failed look-up does not matter when another allows.
	env.fake.FailNext(1, fakegithub.Failure{Kind: fakegithub.BadGateway, Path: "/repos/acme/app/collaborators/carol/permission"})
	env.fake.SetTeamMembership("acme/sre", "carol", "active")
	if d, err := env.perms.Allows(ctx, "acme/app", "carol", Rule{MinLevel: LevelWrite, Teams: []string{"acme/sre"}}); err != nil || !d.Allowed {
		t.Errorf("Allows = %+v, %v", d, err)
	}
	if _, err := env.perms.Level(ctx, "acme", "alice"); err == nil {
		t.Error("a repository without owner was looked up")
	}
	if _, err := env.perms.InTeam(ctx, "sre", "alice"); err == nil {
		t.Error("a team without org was looked up")
	}
}

func TestConcurrentLookupsShareOneRequest(t *testing.T) {
	g := &gate{open: make(chan struct{}), arrived: make(chan struct{}, 100)}
	env := newTestEnv(t, func(next http.RoundTripper) http.RoundTripper { g.next = next; return g })
	env.fake.SetCollaborator("acme/app", "alice", fakegithub.Collaborator{Role: "maintain"})
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := env.perms.Level(context.Background(), "acme/app", "alice")
			if err == nil && l != LevelMaintain {
				err = errors.New("level " + l.String())
			}
			errs <- err
		}()
	}
	<-g.arrived // one look-up is in flight and held
	close(g.open)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if env.calls() != 1 {
		t.Errorf("%d requests for %d concurrent look-ups, want 1", env.calls(), n)
	}
}

func TestACallerGivingUpDoesNotFailOthers(t *testing.T) {
	g := &gate{open: make(chan struct{}), arrived: make(chan struct{}, 10)}
	env := newTestEnv(t, func(next http.RoundTripper) http.RoundTripper { g.next = next; return g })
	env.fake.SetCollaborator("acme/app", "alice", fakegithub.Collaborator{Role: "write"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := env.perms.Level(ctx, "acme/app", "alice")
		done <- err
	}()
	<-g.arrived
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(g.open) // the shared look-up goes on and is cached
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := env.perms.fresh("level\x00acme/app\x00alice"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the look-up did not finish")
		}
		time.Sleep(time.Millisecond)
	}
	if l, err := env.perms.Level(context.Background(), "acme/app", "alice"); err != nil || l != LevelWrite || env.calls() != 1 {
		t.Errorf("Level = %v, %v, %d calls", l, err, env.calls())
	}
}
