package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/web"
)

// apiServer is the real API (internal/web) over a real store, with a token.
func apiServer(t *testing.T) (*store.Store, string) {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mux := http.NewServeMux()
	web.Routes(mux, st, nil, web.Options{Token: "tok"})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return st, srv.URL
}

func cliEnv(token string) (Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string {
		if k == "RUNNER_API_TOKEN" {
			return token
		}
		return ""
	}}, &out, &errOut
}

func TestRunsListsAndFilters(t *testing.T) {
	ctx := context.Background()
	st, url := apiServer(t)
	for i, repo := range []string{"acme/infra", "acme/platform", "acme/infra"} {
		rec, err := st.Accept(ctx, event.Event{DeliveryID: fmt.Sprint("d-", i), Name: "push", Kind: event.KindDeploy, Repo: repo,
			SHA: "0123456789abcdef0123", Ref: "refs/heads/main"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := st.EnsureStages(ctx, rec.Run, []store.StageKey{{Env: "prod", Name: "plan"}}); err != nil {
				t.Fatal(err)
			}
			if err := st.FinishRun(ctx, rec.Run, store.StatusFailed, "boom"); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name    string
		args    []string
		want    []string // run ids in the first column, in order
		wantErr string
	}{
		{name: "all", args: nil, want: []string{"3", "2", "1"}},
		{name: "by repository", args: []string{"--repo", "acme/platform"}, want: []string{"2"}},
		{name: "by environment", args: []string{"--env", "prod"}, want: []string{"1"}},
		{name: "by status", args: []string{"--status", "failed"}, want: []string{"1"}},
		{name: "none", args: []string{"--kind", "plan"}, want: nil},
		{name: "stray argument", args: []string{"12"}, wantErr: "no arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, out, _ := cliEnv("tok")
			err := Runs(ctx, env, append([]string{"--server", url}, tc.args...))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if tc.want == nil {
				if out.String() != "no runs\n" {
					t.Fatalf("output %q, want no runs", out)
				}
				return
			}
			if !strings.HasPrefix(lines[0], "RUN") {
				t.Fatalf("no header: %q", out)
			}
			for _, l := range lines[1:] {
				got = append(got, strings.Fields(l)[0])
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("runs %v, want %v:\n%s", got, tc.want, out)
			}
			if !strings.Contains(out.String(), "main@0123456789ab") {
				t.Fatalf("no ref: %s", out)
			}
		})
	}
}

func TestRunsNeedsTheToken(t *testing.T) {
	_, url := apiServer(t)
	env, _, _ := cliEnv("")
	err := Runs(context.Background(), env, []string{"--server", url})
	if err == nil || !strings.Contains(err.Error(), "RUNNER_API_TOKEN") {
		t.Fatalf("err = %v, want it to say how to pass the token", err)
	}
}

// logs -f follows a run whose stage writes while it is followed, in pages bigger than the server's: every
// line once, in order, escape sequences made harmless; it exits 1 when the run failed.
func TestLogsFollowPrintsEachLineOnceInOrder(t *testing.T) {
	ctx := context.Background()
	st, url := apiServer(t)
	rec, err := st.Accept(ctx, event.Event{DeliveryID: "d-1", Name: "push", Kind: event.KindDeploy, Repo: "acme/infra"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stages, err := st.EnsureStages(ctx, rec.Run, []store.StageKey{{Name: "checkout"}, {Env: "dev", Name: "plan"}})
	if err != nil {
		t.Fatal(err)
	}
	const total = 2500
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, s := range stages {
			if err := st.StartStage(ctx, s.ID); err != nil {
				t.Error(err)
				return
			}
		}
		if err := st.AppendLog(ctx, stages[0].ID, []string{"cloned", "evil \x1b]52;c;cm0gLXJmIH4=\x07 title"}); err != nil {
			t.Error(err)
		}
		for i := 0; i < total; i += 50 {
			batch := make([]string, 50)
			for j := range batch {
				batch[j] = fmt.Sprintf("line %d", i+j)
			}
			if err := st.AppendLog(ctx, stages[1].ID, batch); err != nil {
				t.Error(err)
				return
			}
			if i%500 == 0 {
				time.Sleep(30 * time.Millisecond)
			}
		}
		_ = st.FinishStage(ctx, stages[1].ID, store.StageFailed, "x", nil)
		_ = st.FinishRun(ctx, rec.Run, store.StatusFailed, "plan failed\nmore")
	})
	env, out, _ := cliEnv("tok")
	err = Logs(ctx, env, []string{"--server", url, "-f", fmt.Sprint(rec.Run), "--poll", "20ms"})
	wg.Wait()
	var exit ExitError
	if !errors.As(err, &exit) || exit.Code != 1 {
		t.Fatalf("logs -f of a failed run = %v, want exit 1", err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{"== checkout", "cloned", `evil \x1b]52;c;cm0gLXJmIH4=\x07 title`, "== dev/plan"}
	for i := range total {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	want = append(want, "== run 1 failed: plan failed")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d", len(lines), len(want))
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Fatalf("line %d = %q, want %q", i, lines[i], want[i])
		}
	}

	// One stage, without following, run id before the flags.
	env, out, _ = cliEnv("tok")
	if err := Logs(ctx, env, []string{fmt.Sprint(rec.Run), "--server", url, "--stage", "checkout"}); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "== checkout\ncloned\n") || strings.Contains(got, "line 0") {
		t.Fatalf("--stage checkout printed:\n%s", got)
	}
	for _, bad := range [][]string{{}, {"abc"}, {"1", "2"}} {
		env, _, _ = cliEnv("tok")
		if err := Logs(ctx, env, append([]string{"--server", url}, bad...)); err == nil {
			t.Errorf("logs %v: no error", bad)
		}
	}
}
