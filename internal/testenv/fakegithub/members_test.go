package fakegithub_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
)

func TestCollaboratorPermission(t *testing.T) {
	ctx := context.Background()
	fake := start(t, fakegithub.Config{})
	gh := newClient(t, fake, token)
	fake.SetCollaborator("acme/app", "Alice", fakegithub.Collaborator{Role: "maintain"})
	fake.SetCollaborator("acme/app", "bob", fakegithub.Collaborator{Role: "triage"})
	fake.SetCollaborator("acme/app", "carol", fakegithub.Collaborator{Role: "deployer", Permission: "write"})
	for _, tc := range []struct {
		user, permission, role string
	}{
		{"alice", "write", "maintain"}, // logins are case-insensitive
		{"bob", "read", "triage"},
		{"carol", "write", "deployer"},
		{"mallory", "none", "none"},
	} {
		t.Run(tc.user, func(t *testing.T) {
			// go-github v60 has no RoleName field: read the wire format as GitHub sends it.
			req, err := gh.NewRequest(http.MethodGet, "repos/acme/app/collaborators/"+tc.user+"/permission", nil)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Permission string       `json:"permission"`
				RoleName   string       `json:"role_name"`
				User       *github.User `json:"user"`
			}
			if _, err := gh.Do(ctx, req, &got); err != nil {
				t.Fatal(err)
			}
			if got.Permission != tc.permission || got.RoleName != tc.role || got.User.GetLogin() != tc.user {
				t.Errorf("got %+v, want permission %s role %s", got, tc.permission, tc.role)
			}
			lvl, _, err := gh.Repositories.GetPermissionLevel(ctx, "acme", "app", tc.user)
			if err != nil || lvl.GetPermission() != tc.permission {
				t.Errorf("GetPermissionLevel = %v, %v", lvl, err)
			}
		})
	}
	// Another repository of the same owner grants nothing.
	if lvl, _, err := gh.Repositories.GetPermissionLevel(ctx, "acme", "other", "alice"); err != nil || lvl.GetPermission() != "none" {
		t.Errorf("other repo: %v, %v", lvl, err)
	}
}

func TestTeamMembership(t *testing.T) {
	ctx := context.Background()
	fake := start(t, fakegithub.Config{})
	gh := newClient(t, fake, token)
	fake.SetTeamMembership("acme/platform", "alice", "active")
	fake.SetTeamMembership("acme/platform", "bob", "pending")
	fake.SetTeamMembership("acme/platform", "carol", "active")
	fake.SetTeamMembership("acme/platform", "carol", "")
	for _, tc := range []struct {
		user, state string
		status      int
	}{
		{"alice", "active", http.StatusOK},
		{"bob", "pending", http.StatusOK},
		{"carol", "", http.StatusNotFound},
		{"mallory", "", http.StatusNotFound},
	} {
		t.Run(tc.user, func(t *testing.T) {
			m, resp, err := gh.Teams.GetTeamMembershipBySlug(ctx, "acme", "platform", tc.user)
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("status = %v, err %v; want %d", resp, err, tc.status)
			}
			var er *github.ErrorResponse
			if tc.status == http.StatusNotFound && !errors.As(err, &er) {
				t.Errorf("err = %v, want a GitHub error response", err)
			}
			if tc.status == http.StatusOK && (err != nil || m.GetState() != tc.state || m.GetRole() != "member") {
				t.Errorf("membership = %v, %v", m, err)
			}
		})
	}
	calls := fake.Calls()
	if len(calls) != 4 || calls[0].Path != "/orgs/acme/teams/platform/memberships/alice" || calls[0].Method != http.MethodGet {
		t.Errorf("calls = %+v", calls)
	}
}

func TestMembersNeedCredentials(t *testing.T) {
	fake := start(t, fakegithub.Config{})
	anon := newClient(t, fake, "")
	ctx := context.Background()
	if _, resp, _ := anon.Teams.GetTeamMembershipBySlug(ctx, "acme", "platform", "alice"); resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("team membership without a token: %v", resp)
	}
	if _, resp, _ := anon.Repositories.GetPermissionLevel(ctx, "acme", "app", "alice"); resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("permission without a token: %v", resp)
	}
}
