package cli_test

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-runner/runner/internal/action"
	"github.com/gitops-runner/runner/internal/cli"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/web"
)

const apiToken = "s3cret-api-token-0123456789"

// actor is a fake web.Actor: it records what it is asked and answers with result or err.
type actor struct {
	mu     sync.Mutex
	asked  []action.Request
	result action.Result
	err    error
}

func (a *actor) Do(_ context.Context, req action.Request) (action.Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, req)
	return a.result, a.err
}

func (a *actor) requests() []action.Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]action.Request(nil), a.asked...)
}

// actServer runs the runner's API, as the server mounts it, on 127.0.0.1 with a fake actor.
func actServer(t *testing.T, a *actor) string {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mux := http.NewServeMux()
	web.Routes(mux, st, nil, web.Options{Token: apiToken, Actions: a})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestActCommands(t *testing.T) {
	cliActor := func(login string) action.Actor {
		return action.Actor{Login: login, Channel: action.ChannelCLI, Operator: true}
	}
	type command func(context.Context, cli.Env, []string) error
	tests := []struct {
		name       string
		cmd        command
		args       []string
		vars       map[string]string // besides RUNNER_SERVER_URL and RUNNER_API_TOKEN
		actorErr   error
		wantErr    string // part of the error; "" for success
		wantReq    *action.Request
		wantStdout string
	}{
		{name: "approve as $USER", cmd: cli.Approve, args: []string{"--run", "7", "--env", "prod"}, vars: map[string]string{"USER": "dana"},
			wantReq: &action.Request{Kind: action.KindApprove, RunID: 7, Env: "prod", Actor: cliActor("dana")}, wantStdout: "done\nrun 42\n"},
		{name: "approve as $RUNNER_AS, with a reason", cmd: cli.Approve, args: []string{"--run", "7", "--env", "prod", "--reason", "checked the plan"},
			vars:    map[string]string{"USER": "dana", "RUNNER_AS": "alice"},
			wantReq: &action.Request{Kind: action.KindApprove, RunID: 7, Env: "prod", Reason: "checked the plan", Actor: cliActor("alice")}},
		{name: "approve --as", cmd: cli.Approve, args: []string{"--run", "7", "--env", "prod", "--as", "bob"}, vars: map[string]string{"RUNNER_AS": "alice"},
			wantReq: &action.Request{Kind: action.KindApprove, RunID: 7, Env: "prod", Actor: cliActor("bob")}},
		{name: "reject", cmd: cli.Reject, args: []string{"--run", "8", "--env", "staging", "--reason", "wrong version", "--as", "alice"},
			wantReq: &action.Request{Kind: action.KindReject, RunID: 8, Env: "staging", Reason: "wrong version", Actor: cliActor("alice")}},
		{name: "rollback to the previous deploy", cmd: cli.Rollback, args: []string{"--repo", "acme/infra", "--env", "prod", "--reason", "500s", "--as", "alice"},
			wantReq: &action.Request{Kind: action.KindRollback, Repo: "acme/infra", Env: "prod", To: "previous", Reason: "500s", Actor: cliActor("alice")}},
		{name: "rollback to a commit", cmd: cli.Rollback, args: []string{"--repo", "acme/infra", "--env", "prod", "--to", "0123abcd", "--reason", "500s", "--as", "alice"},
			wantReq: &action.Request{Kind: action.KindRollback, Repo: "acme/infra", Env: "prod", To: "0123abcd", Reason: "500s", Actor: cliActor("alice")}},
		{name: "drift", cmd: cli.Drift, args: []string{"--repo", "acme/infra", "--env", "prod", "--as", "alice"},
			wantReq: &action.Request{Kind: action.KindDrift, Repo: "acme/infra", Env: "prod", Actor: cliActor("alice")}},
		{name: "fix", cmd: cli.Fix, args: []string{"--repo", "acme/infra", "--env", "prod", "--reason", "sg opened in the console", "--as", "alice"},
			wantReq: &action.Request{Kind: action.KindFix, Repo: "acme/infra", Env: "prod", Reason: "sg opened in the console", Actor: cliActor("alice")}},
		{name: "fix without a reason", cmd: cli.Fix, args: []string{"--repo", "acme/infra", "--env", "prod", "--as", "alice"}, wantErr: "--repo, --env and --reason are required"},

		{name: "denied", cmd: cli.Approve, args: []string{"--run", "7", "--env", "prod", "--as", "alice"},
			actorErr: &action.Denied{Kind: "approve", Actor: "alice (cli)", Why: "the author of the change may not approve it"},
			wantErr:  "alice (cli) may not approve: the author of the change may not approve it",
			wantReq:  &action.Request{Kind: action.KindApprove, RunID: 7, Env: "prod", Actor: cliActor("alice")}},
		{name: "nothing waiting", cmd: cli.Reject, args: []string{"--run", "7", "--env", "prod", "--reason", "no", "--as", "alice"},
			actorErr: action.Invalidf("run 7 is not waiting for approval of prod"), wantErr: "run 7 is not waiting for approval of prod",
			wantReq: &action.Request{Kind: action.KindReject, RunID: 7, Env: "prod", Reason: "no", Actor: cliActor("alice")}},
		{name: "the server fails", cmd: cli.Approve, args: []string{"--run", "7", "--env", "prod", "--as", "alice"},
			actorErr: errors.New("database is locked"), wantErr: "database is locked",
			wantReq: &action.Request{Kind: action.KindApprove, RunID: 7, Env: "prod", Actor: cliActor("alice")}},
		{name: "the server refuses the login", cmd: cli.Approve, args: []string{"--run", "7", "--env", "prod", "--as", "not a login"}, wantErr: "not a GitHub login"},

		{name: "a wrong token", cmd: cli.Approve, args: []string{"--run", "7", "--env", "prod", "--as", "alice", "--token", "nope"}, wantErr: "refused the token"},
		{name: "no token", cmd: cli.Approve, args: []string{"--run", "7", "--env", "prod", "--as", "alice"}, vars: map[string]string{"RUNNER_API_TOKEN": ""}, wantErr: "RUNNER_API_TOKEN"},
		{name: "no login", cmd: cli.Approve, args: []string{"--run", "7", "--env", "prod"}, wantErr: "--as is required"},
		{name: "approve without a run", cmd: cli.Approve, args: []string{"--env", "prod", "--as", "alice"}, wantErr: "--run and --env are required"},
		{name: "reject without a reason", cmd: cli.Reject, args: []string{"--run", "7", "--env", "prod", "--as", "alice"}, wantErr: "--reason are required"},
		{name: "rollback without a repository", cmd: cli.Rollback, args: []string{"--env", "prod", "--reason", "x", "--as", "alice"}, wantErr: "--repo, --env and --reason are required"},
		{name: "a server that is no URL", cmd: cli.Approve, args: []string{"--run", "7", "--env", "prod", "--as", "alice", "--server", "127.0.0.1:8080"}, wantErr: "want http(s)://host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &actor{result: action.Result{Message: "done", RunID: 42}, err: tc.actorErr}
			vars := map[string]string{"RUNNER_SERVER_URL": actServer(t, a), "RUNNER_API_TOKEN": apiToken}
			for k, v := range tc.vars {
				vars[k] = v
			}
			env, stdout, stderr := newEnv(vars)
			err := tc.cmd(context.Background(), env, tc.args)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error %v\nstderr: %s", err, stderr)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one saying %q\nstdout: %s", err, tc.wantErr, stdout)
			case tc.wantErr != "" && stdout.Len() > 0:
				t.Errorf("a failure printed %q to stdout", stdout)
			case tc.wantErr == "" && !strings.Contains(stdout.String(), "done"):
				t.Errorf("stdout = %q, want the server's message", stdout)
			}
			if tc.wantStdout != "" && stdout.String() != tc.wantStdout {
				t.Errorf("stdout = %q, want %q", stdout, tc.wantStdout)
			}
			asked := a.requests()
			switch {
			case tc.wantReq == nil && len(asked) > 0:
				t.Errorf("the server was asked %+v", asked)
			case tc.wantReq != nil && (len(asked) != 1 || !reflect.DeepEqual(asked[0], *tc.wantReq)):
				t.Errorf("the server was asked %+v, want %+v", asked, *tc.wantReq)
			}
			if err != nil && strings.Contains(err.Error(), apiToken) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

// --server names the runner when RUNNER_SERVER_URL names another.
func TestActServerFlag(t *testing.T) {
	a := &actor{result: action.Result{Message: "unlocked"}}
	url := actServer(t, a)
	env, stdout, _ := newEnv(map[string]string{"RUNNER_SERVER_URL": "http://127.0.0.1:1", "RUNNER_API_TOKEN": apiToken, "USER": "dana"})
	if err := cli.Approve(context.Background(), env, []string{"--server", url, "--token", apiToken, "--run", "3", "--env", "dev"}); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "unlocked\n" || len(a.requests()) != 1 {
		t.Errorf("stdout = %q, asked %+v", stdout, a.requests())
	}
}

// The CLI follows no redirect: it would carry the token to a place the operator did not name.
func TestActFollowsNoRedirect(t *testing.T) {
	var reached sync.Map
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Store("auth", r.Header.Get("Authorization"))
	}))
	t.Cleanup(target.Close)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	env, stdout, _ := newEnv(map[string]string{"RUNNER_SERVER_URL": redirect.URL, "RUNNER_API_TOKEN": apiToken, "USER": "dana"})
	err := cli.Approve(context.Background(), env, []string{"--run", "3", "--env", "dev"})
	if err == nil || !strings.Contains(err.Error(), "307") {
		t.Errorf("error = %v, want the redirect reported", err)
	}
	if _, ok := reached.Load("auth"); ok || stdout.Len() > 0 {
		t.Errorf("the redirect was followed")
	}
}

// -h prints the flags without the token from the environment.
func TestActHelpHidesToken(t *testing.T) {
	env, _, stderr := newEnv(map[string]string{"RUNNER_API_TOKEN": apiToken})
	err := cli.Rollback(context.Background(), env, []string{"-h"})
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("error = %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(stderr.String(), "-token") || strings.Contains(stderr.String(), apiToken) {
		t.Errorf("help = %s", stderr)
	}
}
