package slack

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/gitops-runner/runner/internal/testenv/fakeslack"
)

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestGroupsMembershipIsCachedForAMinute(t *testing.T) {
	ctx := context.Background()
	fake := startSlack(t)
	fake.SetUserGroup("S0SRE", "U0ALICE", "U0BOB")
	g := NewGroups(Options{Token: botToken, APIURL: fake.APIURL(), HTTPClient: fake.HTTPClient()})
	clock := &testClock{t: time.Unix(1_800_000_000, 0)}
	g.now = clock.now
	calls := func() int {
		n := 0
		for _, c := range fake.Calls() {
			if c.Path == "/api/usergroups.users.list" {
				n++
			}
		}
		return n
	}
	member := func(user string) bool {
		t.Helper()
		ok, err := g.Member(ctx, "S0SRE", user)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	for _, tc := range []struct {
		user string
		want bool
	}{{"U0ALICE", true}, {"U0BOB", true}, {"U0MALLORY", false}, {"", false}} {
		if got := member(tc.user); got != tc.want {
			t.Errorf("Member(%q) = %v, want %v", tc.user, got, tc.want)
		}
	}
	if n := calls(); n != 1 {
		t.Fatalf("%d look-ups for one group, want 1", n)
	}

	fake.SetUserGroup("S0SRE", "U0CAROL") // Bob leaves, Carol joins
	clock.advance(59 * time.Second)
	if !member("U0BOB") || member("U0CAROL") {
		t.Fatal("membership changed within the minute")
	}
	clock.advance(2 * time.Second)
	if member("U0BOB") || !member("U0CAROL") {
		t.Fatal("membership not refreshed after the minute")
	}
	if n := calls(); n != 2 {
		t.Fatalf("%d look-ups, want 2", n)
	}
}

func TestGroupsConcurrentLookUpsShareOneCall(t *testing.T) {
	fake := startSlack(t)
	fake.SetUserGroup("S0SRE", "U0ALICE")
	g := NewGroups(Options{Token: botToken, APIURL: fake.APIURL(), HTTPClient: fake.HTTPClient()})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			ok, err := g.Member(context.Background(), "S0SRE", "U0ALICE")
			if err == nil && !ok {
				err = errors.New("not a member")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(fake.Calls()); n != 1 {
		t.Fatalf("%d calls for 20 concurrent look-ups", n)
	}
}

func TestGroupsErrors(t *testing.T) {
	ctx := context.Background()
	fake := startSlack(t)
	fake.SetUserGroup("S0SRE", "U0ALICE")
	good := NewGroups(Options{Token: botToken, APIURL: fake.APIURL(), HTTPClient: fake.HTTPClient()})

	// An unknown group is an error, and not cached: the next look-up asks again.
	for range 2 {
		_, err := good.Member(ctx, "S0NONE", "U0ALICE")
		var se slack.SlackErrorResponse
		if !errors.As(err, &se) || se.Err != "no_such_subteam" {
			t.Fatalf("unknown group: %v", err)
		}
	}
	if n := len(fake.Calls()); n != 2 {
		t.Fatalf("%d calls: an error was cached", n)
	}

	for _, tc := range []struct {
		name  string
		g     *Groups
		group string
	}{
		{"no token", NewGroups(Options{APIURL: fake.APIURL()}), "S0SRE"},
		{"no group", good, ""},
		{"wrong token", NewGroups(Options{Token: "xoxb-wrong", APIURL: fake.APIURL(), HTTPClient: fake.HTTPClient()}), "S0SRE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := tc.g.Member(ctx, tc.group, "U0ALICE")
			if err == nil || ok {
				t.Fatalf("Member = %v, %v; want an error", ok, err)
			}
		})
	}

	t.Run("slack down", func(t *testing.T) {
		fake.FailNext(1, fakeslack.Failure{Status: 500})
		if _, err := good.Member(ctx, "S0SRE", "U0ALICE"); err == nil {
			t.Fatal("want an error while Slack answers 500")
		}
		if ok, err := good.Member(ctx, "S0SRE", "U0ALICE"); err != nil || !ok {
			t.Fatalf("after Slack is back: %v, %v", ok, err)
		}
	})

	t.Run("caller gives up", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		fresh := NewGroups(Options{Token: botToken, APIURL: fake.APIURL(), HTTPClient: fake.HTTPClient()})
		// The shared call may win the race with a cancelled caller; either answer is fine, a hang is not.
		if _, err := fresh.Member(cctx, "S0SRE", "U0ALICE"); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: %v", err)
		}
	})
}
