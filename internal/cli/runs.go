package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/web"
)

// Runs lists a running server's runs as a table, newest first.
func Runs(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("runs", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	repo := fs.String("repo", "", "only this repository (owner/name)")
	envName := fs.String("env", "", "only runs with a stage of this environment")
	status := fs.String("status", "", "only this status: queued, running, succeeded, failed, cancelled, nothing_to_do")
	kind := fs.String("kind", "", "only this kind: deploy, plan, comment, action, rollback")
	limit := fs.Int("limit", 30, "at most this many (the server caps it at 200)")
	srv := readFlags(fs, env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("runs takes no arguments, only flags (got %q)", fs.Arg(0))
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	for k, v := range map[string]string{"repo": *repo, "env": *envName, "status": *status, "kind": *kind} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var answer struct {
		Runs []store.Run `json:"runs"`
	}
	if err := srv.get(ctx, env, "/api/runs", q, &answer); err != nil {
		return err
	}
	if len(answer.Runs) == 0 {
		fmt.Fprintln(env.Stdout, "no runs")
		return nil
	}
	now := time.Now()
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTATUS\tKIND\tREPOSITORY\tREF\tENVIRONMENTS\tCREATED\tTOOK")
	for _, r := range answer.Runs {
		ref := strings.TrimPrefix(r.Event.Ref, "refs/heads/")
		if r.Event.PR != 0 {
			ref = fmt.Sprintf("#%d", r.Event.PR)
		}
		if r.Event.SHA != "" {
			ref += "@" + shortSHA(r.Event.SHA)
		}
		took := "-"
		if !r.Started.IsZero() {
			end := r.Finished
			if end.IsZero() {
				end = now
			}
			took = end.Sub(r.Started).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, printable(r.Status), printable(r.Event.Kind), printable(r.Event.Repo),
			printable(ref), printable(cmpOr(strings.Join(r.Environments, ","), "-")), ago(now, r.Created), took)
	}
	return tw.Flush()
}

// Logs prints a run's stage logs; with -f it follows them until the run ends, and exits 1 when the run
// failed or was cancelled.
func Logs(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	follow := fs.Bool("f", false, "follow: print new lines as they come, until the run ends")
	stage := fs.String("stage", "", `only this stage: "plan" (every environment's) or "prod/plan"`)
	poll := fs.Duration("poll", time.Second, "how often to ask for new lines while following")
	srv := readFlags(fs, env)
	// The run id may come before or after the flags.
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: runner logs [-f] [--stage NAME] RUN")
	}
	runArg, rest := fs.Arg(0), fs.Args()[1:]
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("logs takes one run, got %q too", fs.Arg(0))
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(runArg, "#"), 10, 64)
	if err != nil || id <= 0 {
		return fmt.Errorf("run %q: want a run number", runArg)
	}
	if *poll <= 0 {
		return errors.New("--poll must be positive")
	}
	f := &logFollower{srv: srv, env: env, stage: *stage, after: map[int64]int64{}, shown: map[int64]bool{}}
	for {
		var run store.Run
		if err := srv.get(ctx, env, fmt.Sprintf("/api/runs/%d", id), nil, &run); err != nil {
			return err
		}
		done := store.Finished(run.Status)
		// A run's stages have flushed their logs before it is marked finished: the pass after that sees all.
		if err := f.pass(ctx, run); err != nil {
			return err
		}
		if !*follow {
			return nil
		}
		if done {
			fmt.Fprintf(env.Stdout, "== run %d %s%s\n", run.ID, printable(run.Status), errSuffix(run.Error))
			if run.Status == store.StatusFailed || run.Status == store.StatusCancelled {
				return ExitError{Code: 1}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(*poll):
		}
	}
}

// logFollower prints each stage's lines once, in order, remembering the last line id seen per stage.
type logFollower struct {
	srv   remote
	env   Env
	stage string
	after map[int64]int64 // stage id → last line id printed
	shown map[int64]bool  // stage id → header printed
}

func (f *logFollower) pass(ctx context.Context, run store.Run) error {
	stages := slices.Clone(run.Stages)
	slices.SortFunc(stages, func(a, b store.Stage) int { return a.Seq - b.Seq })
	for _, st := range stages {
		name := st.Name
		if st.Env != "" {
			name = st.Env + "/" + st.Name
		}
		if f.stage != "" && f.stage != name && f.stage != st.Name {
			continue
		}
		if st.Status == store.StagePending && st.Started.IsZero() {
			continue // not started: no log yet
		}
		for {
			var page struct {
				Lines []store.LogLine `json:"lines"`
			}
			q := url.Values{"after": {strconv.FormatInt(f.after[st.ID], 10)}}
			if err := f.srv.get(ctx, f.env, fmt.Sprintf("/api/stages/%d/log", st.ID), q, &page); err != nil {
				return err
			}
			if len(page.Lines) > 0 && !f.shown[st.ID] {
				fmt.Fprintf(f.env.Stdout, "== %s\n", printable(name))
				f.shown[st.ID] = true
			}
			for _, l := range page.Lines {
				if l.ID <= f.after[st.ID] {
					continue // never twice, whatever the server sends
				}
				fmt.Fprintln(f.env.Stdout, printable(l.Line))
				f.after[st.ID] = l.ID
			}
			if len(page.Lines) < logPage {
				break
			}
		}
	}
	return nil
}

// logPage is the most lines the server answers at once (web's stage log endpoint).
const logPage = 1000

// readFlags adds the flags of commands that only read from a server: its URL and token.
func readFlags(fs *flag.FlagSet, env Env) remote {
	def := env.Getenv("RUNNER_SERVER_URL")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	return remote{
		url:   fs.String("server", def, "the runner server's URL (RUNNER_SERVER_URL)"),
		token: fs.String("token", "", "the server's API token (default $RUNNER_API_TOKEN; not needed on the server's own machine without one)"),
	}
}

// get reads a JSON answer from the server's API. The token is sent when there is one.
func (s remote) get(ctx context.Context, env Env, path string, q url.Values, out any) error {
	base, err := url.Parse(*s.url)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("--server %q: want http(s)://host[:port]", *s.url)
	}
	token := *s.token
	if token == "" {
		token = env.Getenv("RUNNER_API_TOKEN")
	}
	u := base.JoinPath(path)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, actTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set(web.ClientHeader, web.ClientCLI)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("ask the runner at %s: %w", base.Redacted(), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("read the runner's answer: %w", err)
	}
	var problem struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(raw, &problem)
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("the runner at %s refused the request (%s): pass its API token (RUNNER_API_TOKEN or --token)",
			base.Redacted(), orStatus(problem.Error, resp, raw))
	case resp.StatusCode != http.StatusOK:
		return errors.New(orStatus(problem.Error, resp, raw))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("the runner's answer is not JSON: %w", err)
	}
	return nil
}

// printable makes text from a run (repository content, Terraform's output) safe for a terminal: control
// characters, escape sequences included, are shown as \xNN instead of acting on the terminal.
func printable(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			fmt.Fprintf(&b, `\x%02x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool {
	return r != '\t' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0))
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return t.Local().Format("2006-01-02")
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return ": " + printable(firstLineOf(e))
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
