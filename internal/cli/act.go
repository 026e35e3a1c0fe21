package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/gitops-runner/runner/internal/web"
)

// actTimeout bounds one request to the runner server.
const actTimeout = 30 * time.Second

// Approve asks the runner server to let a deploy waiting for approval go on.
func Approve(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("approve", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	run := fs.Int64("run", 0, "the deploy run waiting for approval (required)")
	name := fs.String("env", "", "the environment waiting (required)")
	reason := fs.String("reason", "", "why (optional, recorded)")
	srv := serverFlags(fs, env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *run <= 0 || *name == "" {
		return errors.New("--run and --env are required")
	}
	body := map[string]string{"env": *name}
	if *reason != "" {
		body["reason"] = *reason
	}
	return srv.act(ctx, env, fmt.Sprintf("/api/runs/%d/approve", *run), body)
}

// Reject asks the runner server to stop a deploy waiting for approval.
func Reject(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("reject", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	run := fs.Int64("run", 0, "the deploy run waiting for approval (required)")
	name := fs.String("env", "", "the environment waiting (required)")
	reason := fs.String("reason", "", "why (required, recorded)")
	srv := serverFlags(fs, env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *run <= 0 || *name == "" || strings.TrimSpace(*reason) == "" {
		return errors.New("--run, --env and --reason are required")
	}
	return srv.act(ctx, env, fmt.Sprintf("/api/runs/%d/reject", *run), map[string]string{"env": *name, "reason": *reason})
}

// Rollback asks the runner server to deploy an environment again at an earlier deployed commit.
func Rollback(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("rollback", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	repo := fs.String("repo", "", "repository owner/name (required)")
	name := fs.String("env", "", "environment (required)")
	to := fs.String("to", "previous", `a deployed commit SHA (or a unique prefix), or "previous": the deploy before the current one`)
	reason := fs.String("reason", "", "why (required, recorded)")
	srv := serverFlags(fs, env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *repo == "" || *name == "" || strings.TrimSpace(*reason) == "" {
		return errors.New("--repo, --env and --reason are required")
	}
	return srv.act(ctx, env, "/api/rollback", map[string]string{"repo": *repo, "env": *name, "to": *to, "reason": *reason})
}

// Drift asks the runner server to check an environment for drift now: its deployed commit planned
// read-only. The answer names the run; `runner logs -f RUN` follows it.
func Drift(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("drift", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	repo := fs.String("repo", "", "repository owner/name (required)")
	name := fs.String("env", "", "environment (required)")
	srv := serverFlags(fs, env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *repo == "" || *name == "" {
		return errors.New("--repo and --env are required")
	}
	return srv.act(ctx, env, "/api/drift", map[string]string{"repo": *repo, "env": *name})
}

// Fix asks the runner server to apply an environment's deployed commit again, undoing drift, through the
// environment's approvals. The answer names the run; `runner logs -f RUN` follows it.
func Fix(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("fix", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	repo := fs.String("repo", "", "repository owner/name (required)")
	name := fs.String("env", "", "environment (required)")
	reason := fs.String("reason", "", "why (required, recorded)")
	srv := serverFlags(fs, env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *repo == "" || *name == "" || strings.TrimSpace(*reason) == "" {
		return errors.New("--repo, --env and --reason are required")
	}
	return srv.act(ctx, env, "/api/fix", map[string]string{"repo": *repo, "env": *name, "reason": *reason})
}

// remote is where and as whom the CLI asks a runner server to act.
type remote struct {
	url, token, as *string
}

// serverFlags adds the flags every remote command shares. The token's default is read after
// parsing, so that -h never prints it.
func serverFlags(fs *flag.FlagSet, env Env) remote {
	def := env.Getenv("RUNNER_SERVER_URL")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	as := env.Getenv("RUNNER_AS")
	if as == "" {
		as = env.Getenv("USER")
	}
	return remote{
		url:   fs.String("server", def, "the runner server's URL (RUNNER_SERVER_URL)"),
		token: fs.String("token", "", "the server's API token (default $RUNNER_API_TOKEN, which keeps it out of ps)"),
		as:    fs.String("as", as, "the GitHub login you act as (default $RUNNER_AS, else $USER)"),
	}
}

// act posts body, with the login, to the server's action endpoint at path and prints its answer.
func (s remote) act(ctx context.Context, env Env, path string, body map[string]string) error {
	token := *s.token
	if token == "" {
		token = env.Getenv("RUNNER_API_TOKEN")
	}
	if token == "" {
		return errors.New("the server's API token is required: set RUNNER_API_TOKEN (or pass --token)")
	}
	if *s.as == "" {
		return errors.New("--as is required: the GitHub login you act as (or set RUNNER_AS)")
	}
	base, err := url.Parse(*s.url)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("--server %q: want http(s)://host[:port]", *s.url)
	}
	if base.Scheme == "http" && !loopbackHost(base.Hostname()) {
		fmt.Fprintf(env.Stderr, "warning: sending the API token to %s over plain HTTP\n", base.Host)
	}
	body["as"] = *s.as
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, actTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.JoinPath(path).String(), bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(web.ClientHeader, web.ClientCLI)
	// A redirect would resend the token somewhere the operator did not name.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("ask the runner at %s: %w", base.Redacted(), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read the runner's answer: %w", err)
	}
	var answer struct {
		Message string `json:"message"`
		RunID   int64  `json:"run_id"`
		Error   string `json:"error"`
	}
	decodeErr := json.Unmarshal(raw, &answer)
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("the runner at %s refused the token: %s", base.Redacted(), orStatus(answer.Error, resp, raw))
	case resp.StatusCode != http.StatusOK:
		return errors.New(orStatus(answer.Error, resp, raw))
	case decodeErr != nil:
		return fmt.Errorf("the runner's answer is not JSON: %w", decodeErr)
	}
	fmt.Fprintln(env.Stdout, answer.Message)
	if answer.RunID != 0 {
		fmt.Fprintf(env.Stdout, "run %d\n", answer.RunID)
	}
	return nil
}

// orStatus is the server's error, or, when it gave none (a proxy's page), its status and the start
// of its body, printable characters only.
func orStatus(msg string, resp *http.Response, raw []byte) string {
	if msg != "" {
		return msg
	}
	text := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, string(raw))
	text = strings.Join(strings.Fields(text), " ")
	if r := []rune(text); len(r) > 200 {
		text = string(r[:200]) + "…"
	}
	if text == "" {
		return "the runner answered " + resp.Status
	}
	return "the runner answered " + resp.Status + ": " + text
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
