package web

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
)

// The pages are rendered on the server by html/template, which escapes every value for where it
// lands (text, attribute, URL); the one script only enhances them (live logs, action buttons), so
// every page reads without it.
//
//go:embed ui/*.html
var pageFiles embed.FS

//go:embed ui/static
var staticFiles embed.FS

// contentSecurityPolicy allows the page's own script, style sheet and requests, and nothing inline.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// logLinesShown bounds the log lines a run page renders per stage; the script follows the rest.
const logLinesShown = 1000

// pages renders the dashboard.
type pages struct {
	st        Store
	approvals Approvals
	actions   bool // acting is possible: an actor and a token
	isolation map[string]any
	log       *slog.Logger
	tmpl      map[string]*template.Template
	now       func() time.Time
}

func newPages(st Store, opts Options, exp exposure, log *slog.Logger) *pages {
	p := &pages{st: st, approvals: opts.Approvals, actions: opts.Actions != nil && exp.token != nil,
		isolation: opts.Isolation, log: log, tmpl: map[string]*template.Template{}, now: time.Now}
	funcs := template.FuncMap{"short": short, "join": strings.Join}
	for _, name := range []string{"runs", "run", "environments", "locks", "approvals", "error"} {
		// Embedded templates: a parse error is a bug in this package, caught by its tests.
		p.tmpl[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(pageFiles, "ui/layout.html", "ui/"+name+".html"))
	}
	return p
}

// routes registers the pages and their static files behind guard.
func (p *pages) routes(mux *http.ServeMux, guard func(http.Handler) http.Handler) {
	static, _ := fs.Sub(staticFiles, "ui/static") // a literal, embedded path
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
			http.NotFound(w, r)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})))
	page := func(pattern string, h func(r *http.Request) (string, any, error)) {
		mux.Handle(pattern, guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			name, data, err := h(r)
			p.render(w, r, name, data, err)
		})))
	}
	page("GET /{$}", p.runs)
	page("GET /runs/{id}", p.run)
	page("GET /environments", p.environments)
	page("GET /locks", p.locks)
	page("GET /approvals", p.approvalsPage)
}

// pageError is a failure with the status to answer.
type pageError struct {
	code int
	msg  string
}

func (e *pageError) Error() string { return e.msg }

// frame is what the layout shows around every page.
type frame struct {
	Title   string
	Nav     string
	Actions bool
	// SignedIn is the login of the single sign-on session the page is shown to; "" otherwise. Actions are
	// then taken as that login, and the page offers to sign out at SignOut.
	SignedIn string
	SignOut  string
	// Isolation is how Terraform on pull requests runs, as /readyz says.
	Isolation map[string]any
	Page      any
}

func (p *pages) render(w http.ResponseWriter, r *http.Request, name string, data any, err error) {
	code := http.StatusOK
	if err != nil {
		var pe *pageError
		if errors.As(err, &pe) {
			code = pe.code
		} else {
			code = http.StatusInternalServerError
			p.log.Error("render page", "path", r.URL.Path, "err", err)
		}
		name, data = "error", map[string]any{"Code": code, "Message": err.Error()}
	}
	var buf bytes.Buffer
	f := frame{Title: name, Nav: name, Actions: p.actions, SignedIn: signedIn(r), SignOut: SignOutPath,
		Isolation: p.isolation, Page: data}
	if err := p.tmpl[name].ExecuteTemplate(&buf, "layout", f); err != nil {
		p.log.Error("render page", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// runsPage is the runs list.
type runsPage struct {
	Filter store.ListFilter
	Runs   []runRow
	Older  string // the next page's link, "" on the last
	Kinds  []string
	States []string
}

func (p *pages) runs(r *http.Request) (string, any, error) {
	q := r.URL.Query()
	f := store.ListFilter{Repo: strings.TrimSpace(q.Get("repo")), Env: strings.TrimSpace(q.Get("env")),
		Status: q.Get("status"), Kind: q.Get("kind"), Limit: 50}
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return "", nil, &pageError{http.StatusBadRequest, "before must be a run id"}
		}
		f.Before = n
	}
	runs, err := p.st.ListRuns(r.Context(), f)
	if err != nil {
		return "", nil, err
	}
	page := runsPage{Filter: f,
		Kinds: []string{event.KindDeploy, event.KindPlan, event.KindComment, event.KindMerged, event.KindRollback, event.KindAction, event.KindDrift, event.KindFix},
		States: []string{store.StatusQueued, store.StatusRunning, store.StatusSucceeded, store.StatusFailed,
			store.StatusCancelled, store.StatusNothing}}
	now := p.now()
	for _, run := range runs {
		page.Runs = append(page.Runs, newRunRow(run, now))
	}
	if len(runs) == f.Limit {
		v := url.Values{}
		for k, s := range map[string]string{"repo": f.Repo, "env": f.Env, "status": f.Status, "kind": f.Kind} {
			if s != "" {
				v.Set(k, s)
			}
		}
		v.Set("before", strconv.FormatInt(runs[len(runs)-1].ID, 10))
		page.Older = "/?" + v.Encode()
	}
	return "runs", page, nil
}

// runPage is one run.
type runPage struct {
	Run     store.Run
	Row     runRow
	Ref     string
	BaseRef string
	Stages  []stageView
	Plans   []planView
}

func (p *pages) run(r *http.Request) (string, any, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return "", nil, &pageError{http.StatusBadRequest, "run id must be a number"}
	}
	run, err := p.st.Run(r.Context(), id, 0)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, &pageError{http.StatusNotFound, fmt.Sprintf("no run %d", id)}
	}
	if err != nil {
		return "", nil, err
	}
	now := p.now()
	page := runPage{Run: run, Row: newRunRow(run, now), Ref: branch(run.Event.Ref), BaseRef: branch(run.Event.BaseRef),
		Stages: timeline(run.Stages, now), Plans: plans(run.Event.Repo, run.Stages)}
	for i := range page.Stages {
		s := &page.Stages[i]
		lines, err := p.st.Log(r.Context(), s.ID, 0, logLinesShown+1)
		if err != nil {
			return "", nil, err
		}
		if len(lines) > logLinesShown {
			lines, s.More = lines[:logLinesShown], true
		}
		s.Lines = lines
		if len(lines) > 0 {
			s.Last = lines[len(lines)-1].ID
		}
	}
	return "run", page, nil
}

// envView is one repository's environment: what is deployed and what main would deploy.
type envView struct {
	Repo, Env   string
	Current     *store.Deployment
	CommitURL   string
	RunURL      string
	History     []store.Deployment
	Main        *runRow // the newest push to the default branch, if any
	UpToDate    bool
	CompareURL  string
	Between     []runRow // deploy runs of the default branch after the deployed one
	Deployments string   // GitHub's deployments of the environment
	Drift       *driftView
}

// driftView is an environment's last drift check, as the environments page shows it.
type driftView struct {
	Drifted bool
	At      string
	RunID   int64
	SHA     string
	Lines   []string // one per resource
}

// maxDriftLines bounds the resources the page lists per environment.
const maxDriftLines = 30

func newDriftView(c store.DriftCheck) *driftView {
	v := &driftView{Drifted: c.Drifted, At: c.At.UTC().Format("2006-01-02 15:04:05 UTC"), RunID: c.RunID, SHA: c.SHA}
	var report struct {
		Drift []struct {
			Address    string `json:"address"`
			Action     string `json:"action"`
			Attributes []struct {
				Path, Before, After string
			} `json:"attributes"`
		} `json:"drift"`
		Pending []struct {
			Address string `json:"address"`
			Action  string `json:"action"`
		} `json:"pending"`
	}
	if err := json.Unmarshal([]byte(c.Report), &report); err != nil {
		return v
	}
	for _, d := range report.Drift {
		line := d.Address + ": deleted outside Terraform"
		if d.Action != "delete" {
			var attrs []string
			for _, a := range d.Attributes {
				attrs = append(attrs, a.Path+" "+a.Before+" → "+a.After)
			}
			line = d.Address + " changed outside Terraform: " + strings.Join(attrs, "; ")
		}
		v.Lines = append(v.Lines, line)
	}
	for _, p := range report.Pending {
		v.Lines = append(v.Lines, p.Address+": the deployed code would "+p.Action+" it")
	}
	if len(v.Lines) > maxDriftLines {
		v.Lines = append(v.Lines[:maxDriftLines], fmt.Sprintf("… and %d more", len(v.Lines)-maxDriftLines))
	}
	return v
}

func (p *pages) environments(r *http.Request) (string, any, error) {
	ctx := r.Context()
	deps, err := p.st.DeploymentsOf(ctx, "", "", 500)
	if err != nil {
		return "", nil, err
	}
	byKey := map[[2]string]*envView{}
	var envs []*envView
	for _, d := range deps {
		k := [2]string{d.Repo, d.Env}
		v := byKey[k]
		if v == nil {
			v = &envView{Repo: d.Repo, Env: d.Env, Deployments: deploymentsURL(d.Repo, d.Env)}
			byKey[k] = v
			envs = append(envs, v)
		}
		if len(v.History) < 20 {
			v.History = append(v.History, d)
		}
		if v.Current == nil && d.Outcome == "succeeded" {
			v.Current = &d
			v.CommitURL = commitURL(d.Repo, d.SHA)
		}
	}
	slices.SortFunc(envs, func(a, b *envView) int { return cmp.Or(cmp.Compare(a.Repo, b.Repo), cmp.Compare(a.Env, b.Env)) })
	for _, v := range envs {
		c, err := p.st.LastDriftCheck(ctx, v.Repo, v.Env)
		switch {
		case err == nil:
			v.Drift = newDriftView(c)
		case !errors.Is(err, store.ErrNotFound):
			return "", nil, err
		}
	}
	mains := map[string][]store.Run{}
	now := p.now()
	for _, v := range envs {
		if v.Current == nil {
			continue
		}
		runs, ok := mains[v.Repo]
		if !ok {
			if runs, err = p.mainPushes(ctx, v.Repo); err != nil {
				return "", nil, err
			}
			mains[v.Repo] = runs
		}
		if len(runs) == 0 {
			continue
		}
		newest := newRunRow(runs[0], now)
		v.Main = &newest
		if runs[0].Event.SHA == v.Current.SHA {
			v.UpToDate = true
			continue
		}
		v.CompareURL = compareURL(v.Repo, v.Current.SHA, runs[0].Event.SHA)
		for _, run := range runs {
			if run.ID > v.Current.RunID {
				v.Between = append(v.Between, newRunRow(run, now))
			}
		}
	}
	return "environments", map[string]any{"Envs": envs}, nil
}

// mainPushes lists a repository's deploy runs of pushes to its default branch, newest first.
func (p *pages) mainPushes(ctx context.Context, repo string) ([]store.Run, error) {
	runs, err := p.st.ListRuns(ctx, store.ListFilter{Repo: repo, Kind: event.KindDeploy, Limit: 100})
	if err != nil {
		return nil, err
	}
	var out []store.Run
	for _, r := range runs {
		if branch(r.Event.Ref) == cmp.Or(r.Event.DefaultBranch, "main") && r.Event.Name == "push" {
			out = append(out, r)
		}
	}
	return out, nil
}

func (p *pages) locks(r *http.Request) (string, any, error) {
	locks, err := p.st.Locks(r.Context())
	if err != nil {
		return "", nil, err
	}
	return "locks", map[string]any{"Locks": locks}, nil
}

// approvalsPage lists deploys waiting for approval and recent decisions.
type approvalsPage struct {
	Configured bool
	Waiting    []ApprovalView
	Decided    []ApprovalView
}

func (p *pages) approvalsPage(r *http.Request) (string, any, error) {
	if p.approvals == nil {
		return "approvals", approvalsPage{}, nil
	}
	list, err := p.approvals.Approvals(r.Context())
	if err != nil {
		return "", nil, err
	}
	page := approvalsPage{Configured: true}
	for _, a := range list {
		if a.State == "waiting" {
			page.Waiting = append(page.Waiting, a)
		} else {
			page.Decided = append(page.Decided, a)
		}
	}
	return "approvals", page, nil
}
