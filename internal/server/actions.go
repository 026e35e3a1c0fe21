package server

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gitops-runner/runner/internal/action"
	ghnotify "github.com/gitops-runner/runner/internal/notify/github"
	slacknotify "github.com/gitops-runner/runner/internal/notify/slack"
	"github.com/gitops-runner/runner/internal/pipeline"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/web"
)

// lateActions lets the pipeline (built before the queue) reach the action service (built after it, since
// it starts runs).
type lateActions struct {
	mu  sync.RWMutex
	svc *action.Service
}

func (l *lateActions) set(s *action.Service) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.svc = s
}

func (l *lateActions) Do(ctx context.Context, req action.Request) (action.Result, error) {
	l.mu.RLock()
	svc := l.svc
	l.mu.RUnlock()
	if svc == nil {
		return action.Result{}, errors.New("the runner is starting: try again in a moment")
	}
	return svc.Do(ctx, req)
}

// lateWaker wakes runs through the queue once it exists.
type lateWaker struct {
	mu sync.RWMutex
	w  pipeline.Waker
}

func (l *lateWaker) set(w pipeline.Waker) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w = w
}

func (l *lateWaker) Wake(ctx context.Context, runID int64) error {
	l.mu.RLock()
	w := l.w
	l.mu.RUnlock()
	if w == nil {
		return nil
	}
	return w.Wake(ctx, runID)
}

// ghChecks posts the pipeline's check runs with the GitHub client.
type ghChecks struct{ c *ghnotify.Client }

// NewChecks returns the pipeline's check run reporter on a GitHub client (which must authenticate as a
// GitHub App: GitHub refuses check runs to tokens).
func NewChecks(c *ghnotify.Client) pipeline.Checks { return ghChecks{c: c} }

func (g ghChecks) UpsertCheckRun(ctx context.Context, repo string, r pipeline.CheckRun) (int64, error) {
	out := ghnotify.CheckRun{Name: r.Name, HeadSHA: r.HeadSHA, Status: r.Status, Conclusion: r.Conclusion, ExternalID: r.ExternalID,
		DetailsURL: r.DetailsURL, Title: r.Title, Summary: r.Summary, Text: r.Text}
	for _, a := range r.Annotations {
		out.Annotations = append(out.Annotations, ghnotify.Annotation{Path: a.Path, StartLine: a.StartLine, EndLine: a.EndLine,
			Level: a.Level, Title: a.Title, Message: a.Message})
	}
	for _, a := range r.Actions {
		out.Actions = append(out.Actions, ghnotify.CheckAction{Label: a.Label, Description: a.Description, Identifier: a.Identifier})
	}
	return g.c.UpsertCheckRun(ctx, repo, out)
}

// ghPulls reads pull requests for plan commands.
type ghPulls struct{ c *ghnotify.Client }

func (g ghPulls) Pull(ctx context.Context, repo string, number int) (action.Pull, error) {
	p, err := g.c.PullRequest(ctx, repo, number)
	if err != nil {
		return action.Pull{}, err
	}
	return action.Pull{Number: p.Number, Open: p.State == "open", Draft: p.Draft, HeadSHA: p.HeadSHA, HeadRef: p.HeadRef,
		BaseSHA: p.BaseSHA, BaseRef: p.BaseRef, HeadRepo: p.HeadRepo, Author: p.Author, CloneURL: p.CloneURL, DefaultBranch: p.DefaultBranch}, nil
}

// slackDecider turns Slack button presses into approve and reject requests.
type slackDecider struct {
	actions interface {
		Do(ctx context.Context, req action.Request) (action.Result, error)
	}
}

func (d slackDecider) Decide(ctx context.Context, b slacknotify.ButtonDecision) (string, error) {
	kind := action.KindReject
	if b.Approve {
		kind = action.KindApprove
	}
	a, err := d.actions.Do(ctx, action.Request{Kind: kind, Repo: "", RunID: b.RunID, Env: b.Env,
		Actor: action.Actor{Channel: action.ChannelSlack, SlackUser: b.UserID}, Reason: "with the Slack button"})
	return a.Message, err
}

// approvalViews lists approvals for the dashboard.
type approvalViews struct{ st *store.Store }

func (v approvalViews) Approvals(ctx context.Context) ([]web.ApprovalView, error) {
	list, err := v.st.Approvals(ctx, store.ApprovalFilter{Limit: 100})
	if err != nil {
		return nil, err
	}
	out := make([]web.ApprovalView, 0, len(list))
	for _, a := range list {
		view := web.ApprovalView{RunID: a.RunID, Repo: a.Repo, Env: a.Env, State: a.State, Summary: a.Summary, Why: a.Why,
			RequestedAt: a.Requested.Format(time.RFC3339), Expires: a.Expires.Format(time.RFC3339), DecidedBy: a.DecidedBy,
			Channel: a.Channel, Reason: a.Reason}
		if !a.Decided.IsZero() {
			view.DecidedAt = a.Decided.Format(time.RFC3339)
		}
		out = append(out, view)
	}
	return out, nil
}

// repoOfRun fills the repository of requests that name only a run (Slack buttons, the dashboard).
type repoOfRun struct {
	st   *store.Store
	next interface {
		Do(ctx context.Context, req action.Request) (action.Result, error)
	}
}

func (r repoOfRun) Do(ctx context.Context, req action.Request) (action.Result, error) {
	if req.Repo == "" && req.RunID != 0 {
		run, err := r.st.Run(ctx, req.RunID, 0)
		if errors.Is(err, store.ErrNotFound) {
			return action.Result{}, action.Invalidf("no run %d", req.RunID)
		}
		if err != nil {
			return action.Result{}, err
		}
		req.Repo = run.Event.Repo
	}
	req.Repo = strings.TrimSpace(req.Repo)
	return r.next.Do(ctx, req)
}

// slackOrigin is the scheme and host of a Slack API URL other than Slack's own (a stand-in's), where button
// answers may also go; "" for Slack's.
func slackOrigin(apiURL string) string {
	u, err := url.Parse(apiURL)
	if apiURL == "" || err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/"
}
