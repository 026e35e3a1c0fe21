package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
)

// story tells a deploy as it happens: one Slack message per channel kept up to
// date, a threaded reply on failure, a GitHub deployment per environment, and a
// comment on the merged pull request at the end. Nothing here can fail a deploy.
type story struct {
	w         *work
	mu        sync.Mutex
	slack     map[string]SlackStory // channel -> story
	envChan   map[string]string     // env -> channel
	envs      []string
	deployIDs map[string]int64
	outcome   map[string]string // env -> succeeded | failed | skipped
}

// storyState is what a run's story keeps between its executions (it may wait for approval, or the runner
// may restart): the Slack messages it posted and the GitHub deployments it created, so that it goes on
// with them instead of starting new ones.
type storyState struct {
	Slack       map[string]SlackMessage `json:"slack,omitempty"`       // by channel as configured
	Deployments map[string]int64        `json:"deployments,omitempty"` // by environment
}

func (w *work) newStory(ctx context.Context, targets []target) *story {
	s := &story{w: w, slack: map[string]SlackStory{}, envChan: map[string]string{}, deployIDs: map[string]int64{}, outcome: map[string]string{}}
	ev := w.run.Event
	var saved storyState
	if raw, err := w.e.deps.Store.RunStory(ctx, w.run.ID); err == nil && raw != "" {
		_ = json.Unmarshal([]byte(raw), &saved)
	}
	for _, t := range targets {
		s.envs = append(s.envs, t.env.Name)
		if w.e.deps.Slack != nil {
			ch := w.cfg.SlackChannelFor(t.env)
			s.envChan[t.env.Name] = ch
			if _, ok := s.slack[ch]; !ok {
				s.slack[ch] = w.e.deps.Slack.Story(ch, saved.Slack[ch])
			}
		}
		if id, ok := saved.Deployments[t.env.Name]; ok {
			s.deployIDs[t.env.Name] = id
			continue
		}
		if w.e.deps.Deploys != nil && w.cfg.Notify.GitHub.Deployments {
			id, err := w.e.deps.Deploys.CreateDeployment(ctx, ev.Repo, ev.SHA, t.env.Name, fmt.Sprintf("run %d", w.run.ID))
			if err != nil {
				w.log.Warn("create GitHub deployment", "env", t.env.Name, "err", w.redactor.String(err.Error()))
				continue
			}
			s.deployIDs[t.env.Name] = id
			s.deployStatus(ctx, t.env.Name, "queued", "waiting for earlier stages")
		}
	}
	s.publish()
	return s
}

func (s *story) deployStatus(ctx context.Context, env, state, desc string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	id, ok := s.deployIDs[env]
	s.mu.Unlock()
	if !ok {
		return
	}
	ev := s.w.run.Event
	if err := s.w.e.deps.Deploys.SetDeploymentStatus(context.WithoutCancel(ctx), ev.Repo, id, state, desc, s.w.runURL(), ""); err != nil {
		s.w.log.Warn("post GitHub deployment status", "env", env, "err", s.w.redactor.String(err.Error()))
	}
}

func (s *story) envStarted(ctx context.Context, env string) {
	s.deployStatus(ctx, env, "in_progress", "deploying")
}

func (s *story) envDone(ctx context.Context, env string, err error) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if _, done := s.outcome[env]; done {
		s.mu.Unlock()
		return
	}
	var sk skipped
	switch {
	case err == nil:
		s.outcome[env] = "succeeded"
	case errors.As(err, &sk) && sk.superseded:
		s.outcome[env] = "skipped: " + strings.TrimPrefix(sk.why, "not deployed: ")
	case errors.Is(err, errSkipped):
		s.outcome[env] = "skipped"
	default:
		s.outcome[env] = "failed"
	}
	o := s.outcome[env]
	s.mu.Unlock()
	s.w.finishApprovalCheck(ctx, env, o)
	switch {
	case o == "succeeded":
		s.deployStatus(ctx, env, "success", "deployed")
	case sk.superseded:
		// GitHub's state for a deployment that a newer one replaced.
		s.deployStatus(ctx, env, "inactive", firstLine(sk.why))
	case o == "skipped":
		why := "not deployed: an earlier step failed"
		if sk.why != "" {
			why = sk.why
		}
		s.deployStatus(ctx, env, "error", firstLine(s.w.redactor.String(why)))
	default:
		s.deployStatus(ctx, env, "failure", firstLine(s.w.redactor.String(err.Error())))
	}
}

// changed is called on every stage transition.
func (s *story) changed(store.StageKey, string, string) { s.publish() }

func (s *story) failed(k store.StageKey, detail string, tail []string) {
	if s == nil {
		return
	}
	sv := StageView{Env: k.Env, Name: k.Name, State: store.StageFailed, Detail: detail}
	for ch, st := range s.slack {
		if k.Env == "" || s.envChan[k.Env] == ch {
			st.Failure(sv, tail)
		}
	}
}

// publish sends the current state to every Slack story.
func (s *story) publish() {
	if s == nil || len(s.slack) == 0 {
		return
	}
	ev := s.w.run.Event
	all := s.w.snapshot()
	for ch, st := range s.slack {
		view := DeployView{Repo: ev.Repo, Commit: ev.SHA, Author: ev.Sender, RunURL: s.w.runURL()}
		if ev.Kind == event.KindFix {
			view.Title = "Fixing drift in"
		}
		for _, e := range s.envs {
			if s.envChan[e] == ch {
				view.Environments = append(view.Environments, e)
			}
		}
		s.w.mu.Lock()
		for _, e := range view.Environments {
			if a, ok := s.w.pending[e]; ok {
				view.Approvals = append(view.Approvals, ApprovalView{RunID: a.RunID, Env: e, Summary: a.Summary, Why: a.Why,
					Expires: a.Expires.Format(time.RFC3339)})
			}
		}
		for _, a := range s.w.decisions {
			if s.envChan[a.Env] == ch {
				view.Decisions = append(view.Decisions, DecisionView{Env: a.Env, State: a.State, By: a.DecidedBy, Channel: a.Channel,
					Reason: a.Reason, At: a.Decided.Format(time.RFC3339)})
			}
		}
		s.w.mu.Unlock()
		for _, x := range all {
			if x.Name == StageCheckout || (x.Env != "" && s.envChan[x.Env] != ch) {
				continue
			}
			detail := x.Detail
			if x.Status == store.StageWaiting {
				detail = x.WaitingFor
			}
			view.Stages = append(view.Stages, StageView{Env: x.Env, Name: x.Name, State: x.Status, Detail: detail})
		}
		st.Update(view)
	}
}

// finish posts the outcome on the merged pull request.
func (s *story) finish(ctx context.Context) {
	if s == nil {
		return
	}
	s.publish()
	s.prComment(ctx)
}

// prComment keeps the deploy's comment on the merged pull request up to date: each environment's outcome
// so far, and its notes (a difference from the reviewed plan, a wait for approval and how to decide).
func (s *story) prComment(ctx context.Context) {
	if s == nil {
		return
	}
	w := s.w
	if w.e.deps.Deploys == nil || !w.cfg.Notify.GitHub.Comments {
		return
	}
	var b strings.Builder
	title := "Deploy"
	switch w.run.Event.Kind {
	case event.KindRollback:
		title = "Rollback"
	case event.KindFix:
		title = "Apply to fix drift"
	}
	fmt.Fprintf(&b, "### %s of %s\n\n| environment | outcome |\n|---|---|\n", title, short(w.run.Event.SHA))
	s.mu.Lock()
	outcomes := map[string]string{}
	for _, e := range s.envs {
		o := s.outcome[e]
		if o == "" {
			o = "not run"
		}
		outcomes[e] = o
	}
	s.mu.Unlock()
	w.mu.Lock()
	for _, e := range s.envs {
		o := outcomes[e]
		if _, ok := w.pending[e]; ok {
			o = "awaiting approval"
		}
		fmt.Fprintf(&b, "| %s | %s |\n", e, escapeMarkdown(o))
	}
	for _, e := range s.envs {
		for _, part := range []string{noteReview, noteApproval} {
			if n := w.notes[e+part]; n != "" {
				b.WriteString("\n" + n + "\n")
			}
		}
	}
	w.mu.Unlock()
	if u := w.runURL(); u != "" {
		fmt.Fprintf(&b, "\nDetails: [run %d](%s)\n", w.run.ID, u)
	}
	if _, err := w.e.deps.Deploys.CommentOnMergedPR(context.WithoutCancel(ctx), w.run.Event.Repo, w.run.Event.SHA, w.redactor.String(b.String())); err != nil {
		w.log.Warn("comment on merged pull request", "err", w.redactor.String(err.Error()))
	}
}

func (s *story) close(ctx context.Context) {
	if s == nil {
		return
	}
	// Flushing to Slack happens off the run's path: a slow or dead Slack must not
	// delay the run's end. Each reporter gives up at its deadline. What was posted is
	// then saved, for the run's next execution to go on with.
	var wg sync.WaitGroup
	for _, st := range s.slack {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := st.Close(cctx); err != nil {
				s.w.log.Warn("slack story not fully delivered", "err", err)
			}
		}()
	}
	state := storyState{Slack: map[string]SlackMessage{}, Deployments: map[string]int64{}}
	s.mu.Lock()
	for env, id := range s.deployIDs {
		state.Deployments[env] = id
	}
	s.mu.Unlock()
	save := func() {
		for ch, st := range s.slack {
			if m := st.Message(); m.TS != "" {
				state.Slack[ch] = m
			}
		}
		b, err := json.Marshal(state)
		if err == nil {
			err = s.w.e.deps.Store.SetRunStory(context.WithoutCancel(ctx), s.w.run.ID, string(b))
		}
		if err != nil {
			s.w.log.Warn("save the run's story", "err", err)
		}
	}
	if s.w.waiting == nil {
		// The run ends here: nothing comes back for the story, and the run's end is not delayed.
		go func() { wg.Wait(); save() }()
		return
	}
	wg.Wait() // the run comes back: its next execution must find the messages
	save()
}
