package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/action"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/web"
)

// decider is a fake web.Actor that refuses approvals and carries out the rest.
type decider struct{}

func (decider) Do(_ context.Context, req action.Request) (action.Result, error) {
	if req.Kind == action.KindApprove {
		return action.Result{}, &action.Denied{Kind: req.Kind, Actor: req.Actor.Describe(), Needs: "to be one of the approvers of " + req.Env}
	}
	return action.Result{Message: req.Kind + " asked by " + req.Actor.Describe(), RunID: 9}, nil
}

func TestActCommands(t *testing.T) {
	const token = "s3cret-api-token-0123456789"
	st, err := store.OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mux := http.NewServeMux()
	web.Routes(mux, st, nil, web.Options{Token: token, Actions: decider{}})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Setenv("RUNNER_SERVER_URL", srv.URL)
	t.Setenv("RUNNER_API_TOKEN", token)
	t.Setenv("RUNNER_AS", "alice")
	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"reject", []string{"reject", "--run", "9", "--env", "prod", "--reason", "not now"}, 0, "reject asked by alice (cli)\nrun 9\n", ""},
		{"rollback", []string{"rollback", "--repo", "acme/infra", "--env", "prod", "--reason", "500s"}, 0, "rollback asked by alice (cli)\nrun 9\n", ""},
		{"approve denied", []string{"approve", "--run", "9", "--env", "prod"}, 1, "", "runner approve: alice (cli) may not approve; it needs to be one of the approvers of prod\n"},
		{"reject without a reason", []string{"reject", "--run", "9", "--env", "prod"}, 1, "", "runner reject: --run, --env and --reason are required\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tc.args...)
			if code != tc.wantCode || stdout != tc.wantStdout || stderr != tc.wantStderr {
				t.Errorf("runner %s = %d\nstdout %q, want %q\nstderr %q, want %q", strings.Join(tc.args, " "), code, stdout, tc.wantStdout, stderr, tc.wantStderr)
			}
		})
	}
	if _, stdout, _ := runCmd(t, "help"); !strings.Contains(stdout, "runner approve --run N") || !strings.Contains(stdout, "runner rollback --repo") {
		t.Errorf("usage does not show approve and rollback:\n%s", stdout)
	}
}
