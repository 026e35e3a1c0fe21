package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/policy"
	"github.com/gitops-runner/runner/internal/store"
)

// Store is what the service reads and records.
type Store interface {
	Approvals(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error)
	CurrentApproval(ctx context.Context, runID int64, env string) (store.Approval, error)
	DecideApproval(ctx context.Context, id int64, state, by, channel, reason string) (store.Approval, error)
	Succeeded(ctx context.Context, repo, env string, limit int) ([]store.Deployment, error)
	ReleaseLock(ctx context.Context, repo, env, holder, reason string) (store.Lock, error)
	Run(ctx context.Context, id int64, tailLines int) (store.Run, error)
	ReviewedPlan(ctx context.Context, repo string, pr int, env string) (sha string, output map[string]string, ok bool, err error)
	RecordOverride(ctx context.Context, o store.Override) (store.Override, error)
	LastDriftCheck(ctx context.Context, repo, env string) (store.DriftCheck, error)
}

// Runs starts runs and wakes waiting ones (the queue).
type Runs interface {
	Accept(ctx context.Context, ev event.Event) (event.Receipt, error)
	Wake(ctx context.Context, runID int64) error
}

// Policy is the server policy: rules per repository, and who Slack users are.
type Policy interface {
	For(repo string) policy.RepoPolicy
	SlackLogin(userID string) (string, bool)
}

// SlackGroups answers whether a Slack user is in a Slack user group.
type SlackGroups interface {
	Member(ctx context.Context, groupID, userID string) (bool, error)
}

// Pull is what a plan request needs of a pull request, as GitHub knows it now.
type Pull struct {
	Number                             int
	Open                               bool
	Draft                              bool
	HeadSHA, HeadRef, BaseSHA, BaseRef string
	HeadRepo                           string // "" when the fork is gone
	Author                             string
	CloneURL                           string
	DefaultBranch                      string
}

// Pulls reads pull requests from GitHub.
type Pulls interface {
	Pull(ctx context.Context, repo string, number int) (Pull, error)
}

// Deps are the service's collaborators. Groups and Pulls may be nil: Slack group approvals and plan
// requests are then refused with a reason.
type Deps struct {
	Store  Store
	Runs   Runs
	Policy Policy
	Perms  policy.Checker
	Groups SlackGroups
	Pulls  Pulls
	Logger *slog.Logger
	Now    func() time.Time
}

// Service authorises and carries out requests. It is safe for concurrent use.
type Service struct {
	d Deps
}

// NewService returns a service.
func NewService(d Deps) *Service {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{d: d}
}

// maxReason bounds the recorded reason.
const maxReason = 500

// Do authorises a request and carries it out. A refusal is a *Denied; a request that cannot be carried out
// as asked is ErrInvalid; other errors are failures to try again.
func (s *Service) Do(ctx context.Context, req Request) (Result, error) {
	if req.Repo == "" {
		return Result{}, Invalidf("no repository named")
	}
	if req.Kind != KindPlan && !config.ValidEnvironmentName(req.Env) {
		return Result{}, Invalidf("%s needs an environment", req.Kind)
	}
	if len(req.Reason) > maxReason {
		req.Reason = strings.ToValidUTF8(req.Reason[:maxReason], "")
	}
	actor, err := s.authorise(ctx, req)
	if err != nil {
		s.d.Logger.Info("request refused", "kind", req.Kind, "repo", req.Repo, "env", req.Env, "by", req.Actor.Describe(), "err", err)
		return Result{}, err
	}
	req.Actor = actor
	var res Result
	switch req.Kind {
	case KindPlan:
		res, err = s.plan(ctx, req)
	case KindUnlock:
		res, err = s.unlock(ctx, req)
	case KindApprove, KindReject:
		res, err = s.decide(ctx, req)
	case KindRollback:
		res, err = s.rollback(ctx, req)
	case KindOverride:
		res, err = s.override(ctx, req)
	case KindDrift:
		res, err = s.drift(ctx, req)
	case KindFix:
		res, err = s.fix(ctx, req)
	default:
		return Result{}, Invalidf("unknown request %q", req.Kind)
	}
	if err == nil {
		s.d.Logger.Info("request carried out", "kind", req.Kind, "repo", req.Repo, "env", req.Env, "by", req.Actor.Describe(), "run", res.RunID)
	}
	return res, err
}

// authorise decides whether the actor may make the request, and returns the actor with the login it acts as.
func (s *Service) authorise(ctx context.Context, req Request) (Actor, error) {
	a := req.Actor
	rp := s.d.Policy.For(req.Repo)
	rule := rp.CommandRule(req.Kind)
	if req.Kind != KindPlan {
		rule = rp.EnvRule(req.Kind, req.Env)
	}
	deny := func(why string) error {
		return &Denied{Kind: req.Kind, Actor: a.Describe(), Needs: needs(rule, rp, req), Why: why}
	}
	if a.Channel == ChannelSlack && a.Login == "" {
		if login, ok := s.d.Policy.SlackLogin(a.SlackUser); ok {
			a.Login = login
		} else if req.Kind == KindApprove || req.Kind == KindReject {
			// Not mapped to a GitHub login: members of the environment's approver Slack groups may decide.
			ok, err := s.inSlackGroup(ctx, rp.EnvApprovers(req.Env).SlackGroups, a.SlackUser)
			if err != nil {
				return a, fmt.Errorf("check the Slack user groups of %s: %w", req.Env, err)
			}
			if !ok {
				return a, deny("this Slack user is mapped to no GitHub login (slack_users) and is in none of the environment's approver Slack groups")
			}
			return a, nil
		} else {
			return a, deny("this Slack user is mapped to no GitHub login (slack_users)")
		}
	}
	if a.Operator {
		return a, nil // holds the runner's API token
	}
	if a.Login == "" {
		return a, deny("the request names no GitHub user")
	}
	if s.d.Perms == nil {
		return a, deny("this runner has no GitHub client to check permissions with")
	}
	d, err := s.d.Perms.Allows(ctx, req.Repo, a.Login, rule)
	if err != nil {
		return a, fmt.Errorf("check whether %s may %s: %w", a.Login, req.Kind, err)
	}
	if !d.Allowed {
		return a, deny(d.Reason)
	}
	return a, nil
}

func (s *Service) inSlackGroup(ctx context.Context, groups []string, user string) (bool, error) {
	if s.d.Groups == nil || user == "" {
		return false, nil
	}
	for _, g := range groups {
		ok, err := s.d.Groups.Member(ctx, g, user)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// needs says what the request needs, for refusals.
func needs(rule policy.Rule, rp policy.RepoPolicy, req Request) string {
	n := rule.Needs()
	if req.Kind == KindApprove || req.Kind == KindReject {
		if g := rp.EnvApprovers(req.Env).SlackGroups; len(g) > 0 {
			n += ", or (with the Slack buttons) membership of the Slack group " + strings.Join(g, " or ")
		}
	}
	return n
}

func (s *Service) plan(ctx context.Context, req Request) (Result, error) {
	if req.PR == 0 {
		return Result{}, Invalidf("plan is asked on a pull request")
	}
	if s.d.Pulls == nil {
		return Result{}, Invalidf("this runner has no GitHub client to read pull request #%d with", req.PR)
	}
	p, err := s.d.Pulls.Pull(ctx, req.Repo, req.PR)
	if err != nil {
		return Result{}, fmt.Errorf("read pull request #%d: %w", req.PR, err)
	}
	if !p.Open {
		return Result{}, Invalidf("pull request #%d is not open", req.PR)
	}
	for _, e := range req.Envs {
		if !config.ValidEnvironmentName(e) {
			return Result{}, Invalidf("%q is not an environment name", e)
		}
	}
	id := fmt.Sprintf("plan-command:%s#%d:%d", strings.ToLower(req.Repo), req.PR, req.CommentID)
	if req.CommentID == 0 {
		id = fmt.Sprintf("plan-request:%s#%d:%d", strings.ToLower(req.Repo), req.PR, s.d.Now().UnixNano())
	}
	ev := event.Event{
		DeliveryID: id, Name: "plan_request", Action: "requested", Kind: event.KindPlan, Repo: req.Repo, CloneURL: p.CloneURL,
		SHA: p.HeadSHA, BaseSHA: p.BaseSHA, Ref: p.HeadRef, BaseRef: p.BaseRef, PR: p.Number, Sender: req.Actor.Login,
		Author: p.Author, Draft: p.Draft, HeadRepo: p.HeadRepo, Fork: !strings.EqualFold(p.HeadRepo, req.Repo),
		DefaultBranch: p.DefaultBranch, RequestedBy: req.Actor.Describe(), Envs: req.Envs,
	}
	rec, err := s.d.Runs.Accept(ctx, ev)
	if err != nil {
		return Result{}, fmt.Errorf("start the plan: %w", err)
	}
	what := "every affected environment"
	if len(req.Envs) > 0 {
		what = strings.Join(req.Envs, ", ")
	}
	return Result{RunID: rec.Run, Message: fmt.Sprintf("Planning %s at %s in run %d, as asked by %s.", what, short(p.HeadSHA), rec.Run, req.Actor.Login)}, nil
}

func (s *Service) unlock(ctx context.Context, req Request) (Result, error) {
	why := "unlocked by " + req.Actor.Describe()
	if req.Reason != "" {
		why += ": " + req.Reason
	}
	l, err := s.d.Store.ReleaseLock(ctx, req.Repo, req.Env, "", why)
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, Invalidf("%s is not locked", req.Env)
	}
	if err != nil {
		return Result{}, fmt.Errorf("unlock %s: %w", req.Env, err)
	}
	return Result{RunID: l.RunID, Message: fmt.Sprintf("Released the lock on %s (held by run %d).", req.Env, l.RunID)}, nil
}

// decide approves or rejects the deploy waiting on req.Env: the run's, or the one of the pull request's merge.
func (s *Service) decide(ctx context.Context, req Request) (Result, error) {
	a, err := s.waiting(ctx, req)
	if err != nil {
		return Result{}, err
	}
	rp := s.d.Policy.For(req.Repo)
	if req.Kind == KindApprove && rp.DistinctApprover && a.Author != "" && strings.EqualFold(a.Author, req.Actor.Login) {
		return Result{}, &Denied{Kind: req.Kind, Actor: req.Actor.Describe(),
			Why: fmt.Sprintf("%s made this change, and this repository needs someone else to approve it (distinct_approver)", a.Author)}
	}
	if now := s.d.Now(); !a.Expires.IsZero() && now.After(a.Expires) {
		_, _ = s.d.Store.DecideApproval(ctx, a.ID, store.ApprovalExpired, "", "", "expired before a decision")
		_ = s.d.Runs.Wake(ctx, a.RunID)
		return Result{}, Invalidf("the approval of %s in run %d expired at %s", a.Env, a.RunID, a.Expires.Format(time.RFC3339))
	}
	state := store.ApprovalApproved
	if req.Kind == KindReject {
		state = store.ApprovalRejected
	}
	by := req.Actor.Login
	if by == "" {
		by = req.Actor.SlackUser
	}
	got, err := s.d.Store.DecideApproval(ctx, a.ID, state, by, req.Actor.Channel, req.Reason)
	if errors.Is(err, store.ErrDecided) {
		return Result{}, Invalidf("the deploy of %s in run %d was already %s by %s", a.Env, a.RunID, got.State, cmpOr(got.DecidedBy, "the runner"))
	}
	if err != nil {
		return Result{}, err
	}
	if err := s.d.Runs.Wake(ctx, a.RunID); err != nil {
		s.d.Logger.Warn("wake the decided run; it comes back on its own", "run", a.RunID, "err", err)
	}
	if state == store.ApprovalApproved {
		return Result{RunID: a.RunID, Message: fmt.Sprintf("Approved: run %d applies the plan of %s at %s that was shown (%s).",
			a.RunID, a.Env, short(a.SHA), a.Summary)}, nil
	}
	return Result{RunID: a.RunID, Message: fmt.Sprintf("Rejected: run %d does not deploy %s at %s.", a.RunID, a.Env, short(a.SHA))}, nil
}

// waiting finds the approval a decision is about.
func (s *Service) waiting(ctx context.Context, req Request) (store.Approval, error) {
	if req.RunID != 0 {
		a, err := s.d.Store.CurrentApproval(ctx, req.RunID, req.Env)
		if errors.Is(err, store.ErrNotFound) {
			return a, Invalidf("run %d has no deploy of %s waiting for approval", req.RunID, req.Env)
		}
		if err != nil {
			return a, err
		}
		if a.Repo != "" && !strings.EqualFold(a.Repo, req.Repo) {
			return a, Invalidf("run %d deploys %s, not %s", req.RunID, a.Repo, req.Repo)
		}
		if a.State != store.ApprovalWaiting {
			return a, Invalidf("the deploy of %s in run %d is not waiting for approval (it is %s)", req.Env, req.RunID, a.State)
		}
		if req.ApprovalID != 0 && a.ID != req.ApprovalID {
			return a, Invalidf("the plan of %s in run %d was made again since this button was shown: decide on the new one", req.Env, req.RunID)
		}
		return a, nil
	}
	if req.PR == 0 {
		return store.Approval{}, Invalidf("name the run (or ask on the merged pull request)")
	}
	list, err := s.d.Store.Approvals(ctx, store.ApprovalFilter{Repo: req.Repo, PR: req.PR, Env: req.Env, State: store.ApprovalWaiting, Limit: 1})
	if err != nil {
		return store.Approval{}, err
	}
	if len(list) == 0 {
		return store.Approval{}, Invalidf("no deploy of %s from pull request #%d is waiting for approval", req.Env, req.PR)
	}
	return list[0], nil
}

func (s *Service) rollback(ctx context.Context, req Request) (Result, error) {
	deps, err := s.d.Store.Succeeded(ctx, req.Repo, req.Env, 200)
	if err != nil {
		return Result{}, err
	}
	if len(deps) == 0 {
		return Result{}, Invalidf("%s has no successful deployment to roll back to", req.Env)
	}
	cur := deps[0]
	var target *store.Deployment
	to := strings.ToLower(strings.TrimSpace(req.To))
	switch {
	case to == "" || to == "previous":
		for i := range deps {
			if deps[i].SHA != cur.SHA {
				target = &deps[i]
				break
			}
		}
		if target == nil {
			return Result{}, Invalidf("%s has deployed only %s successfully: there is no earlier commit to roll back to", req.Env, short(cur.SHA))
		}
	case len(to) < 7 || len(to) > 40 || strings.Trim(to, "0123456789abcdef") != "":
		return Result{}, Invalidf("%q is not a commit SHA (7 to 40 hex digits) or \"previous\"", req.To)
	default:
		for i := range deps {
			if strings.HasPrefix(deps[i].SHA, to) {
				if target != nil && target.SHA != deps[i].SHA {
					return Result{}, Invalidf("%s names more than one deployed commit: give more digits", to)
				}
				if target == nil {
					target = &deps[i]
				}
			}
		}
		if target == nil {
			return Result{}, Invalidf("%s never deployed %s successfully: a rollback goes back to a commit that did", req.Env, to)
		}
	}
	if target.SHA == cur.SHA {
		return Result{}, Invalidf("%s is at %s already", req.Env, short(cur.SHA))
	}
	from, err := s.d.Store.Run(ctx, target.RunID, 0)
	if err != nil {
		return Result{}, fmt.Errorf("read run %d that deployed %s: %w", target.RunID, short(target.SHA), err)
	}
	ev := event.Event{
		DeliveryID: fmt.Sprintf("rollback:%s:%s:%d", strings.ToLower(req.Repo), req.Env, s.d.Now().UnixNano()),
		Name:       "rollback", Action: "requested", Kind: event.KindRollback, Repo: req.Repo, CloneURL: from.Event.CloneURL,
		SHA: target.SHA, Ref: from.Event.Ref, DefaultBranch: from.Event.DefaultBranch, Sender: req.Actor.Login,
		RequestedBy: req.Actor.Describe(), Envs: []string{req.Env}, Comment: req.Reason,
	}
	if from.Event.Kind == event.KindRollback {
		ev.BaseSHA = from.Event.BaseSHA
	}
	rec, err := s.d.Runs.Accept(ctx, ev)
	if err != nil {
		return Result{}, fmt.Errorf("start the rollback: %w", err)
	}
	return Result{RunID: rec.Run, Message: fmt.Sprintf("Rolling %s back from %s to %s (deployed by run %d on %s) in run %d.",
		req.Env, short(cur.SHA), short(target.SHA), target.RunID, target.At.Format("2006-01-02 15:04 MST"), rec.Run)}, nil
}

// drift starts a drift check of the environment at its deployed commit: the newest successful deployment.
func (s *Service) drift(ctx context.Context, req Request) (Result, error) {
	deps, err := s.d.Store.Succeeded(ctx, req.Repo, req.Env, 1)
	if err != nil {
		return Result{}, err
	}
	if len(deps) == 0 {
		return Result{}, Invalidf("%s has no successful deployment to check for drift", req.Env)
	}
	cur := deps[0]
	from, err := s.d.Store.Run(ctx, cur.RunID, 0)
	if err != nil {
		return Result{}, fmt.Errorf("read run %d that deployed %s: %w", cur.RunID, short(cur.SHA), err)
	}
	ev := DriftEvent(fmt.Sprintf("drift:%s:%s:%d", strings.ToLower(req.Repo), req.Env, s.d.Now().UnixNano()),
		from, cur, req.Actor.Login, req.Actor.Describe())
	ev.Comment = req.Reason
	rec, err := s.d.Runs.Accept(ctx, ev)
	if err != nil {
		return Result{}, fmt.Errorf("start the drift check: %w", err)
	}
	return Result{RunID: rec.Run, Message: fmt.Sprintf("Checking %s for drift at its deployed commit %s in run %d.", req.Env, short(cur.SHA), rec.Run)}, nil
}

// fix starts a run that applies the environment's deployed commit again, with the app versions recorded for
// it, through the environment's approvals: "apply to fix" for drift. The run plans first, so the plan shows
// exactly what goes back, and the approval is of that plan.
func (s *Service) fix(ctx context.Context, req Request) (Result, error) {
	deps, err := s.d.Store.Succeeded(ctx, req.Repo, req.Env, 1)
	if err != nil {
		return Result{}, err
	}
	if len(deps) == 0 {
		return Result{}, Invalidf("%s has no successful deployment to apply again", req.Env)
	}
	cur := deps[0]
	from, err := s.d.Store.Run(ctx, cur.RunID, 0)
	if err != nil {
		return Result{}, fmt.Errorf("read run %d that deployed %s: %w", cur.RunID, short(cur.SHA), err)
	}
	ev := event.Event{
		DeliveryID: fmt.Sprintf("fix:%s:%s:%d", strings.ToLower(req.Repo), req.Env, s.d.Now().UnixNano()),
		Name:       "fix", Action: "requested", Kind: event.KindFix, Repo: req.Repo, CloneURL: from.Event.CloneURL,
		SHA: cur.SHA, Ref: from.Event.Ref, DefaultBranch: from.Event.DefaultBranch, Sender: req.Actor.Login,
		RequestedBy: req.Actor.Describe(), Envs: []string{req.Env}, Comment: req.Reason,
	}
	if from.Event.Kind == event.KindRollback || from.Event.Kind == event.KindFix {
		ev.BaseSHA = from.Event.BaseSHA
	}
	drift := ""
	switch c, err := s.d.Store.LastDriftCheck(ctx, req.Repo, req.Env); {
	case errors.Is(err, store.ErrNotFound):
		drift = " No drift check has run yet: the plan shows what changes."
	case err != nil:
		return Result{}, fmt.Errorf("read the last drift check of %s: %w", req.Env, err)
	case c.SHA != cur.SHA:
		drift = fmt.Sprintf(" The last drift check (%s) was of %s, not the deployed commit: the plan shows what changes.",
			c.At.Format("2006-01-02 15:04 MST"), short(c.SHA))
	case c.Drifted:
		drift = fmt.Sprintf(" The last drift check (run %d, %s) found drift.", c.RunID, c.At.Format("2006-01-02 15:04 MST"))
	default:
		drift = fmt.Sprintf(" The last drift check (run %d, %s) found none: the plan shows whether anything changed since.",
			c.RunID, c.At.Format("2006-01-02 15:04 MST"))
	}
	rec, err := s.d.Runs.Accept(ctx, ev)
	if err != nil {
		return Result{}, fmt.Errorf("start the fix: %w", err)
	}
	return Result{RunID: rec.Run, Message: fmt.Sprintf("Applying %s's deployed commit %s (deployed by run %d on %s) again in run %d, with the environment's approvals.%s",
		req.Env, short(cur.SHA), cur.RunID, cur.At.Format("2006-01-02 15:04 MST"), rec.Run, drift)}, nil
}

// DriftEvent is the run of a drift check of dep (the environment's newest successful deployment, made by
// run from): its commit, cloned as that run cloned it.
func DriftEvent(deliveryID string, from store.Run, dep store.Deployment, sender, requestedBy string) event.Event {
	return event.Event{
		DeliveryID: deliveryID, Name: "drift", Action: "requested", Kind: event.KindDrift, Repo: dep.Repo,
		CloneURL: from.Event.CloneURL, SHA: dep.SHA, Ref: from.Event.Ref, DefaultBranch: from.Event.DefaultBranch,
		Sender: sender, RequestedBy: requestedBy, Envs: []string{dep.Env},
	}
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// PolicyFailuresKey is the plan stage output holding the policy check failures of a plan (a JSON list of
// "package.rule: message"), which an override lets through.
const PolicyFailuresKey = "policy_failures"

// override records that the policy check failures of the pull request's last plan of req.Env may go
// through: a deploy of its merge applies despite exactly those failures.
func (s *Service) override(ctx context.Context, req Request) (Result, error) {
	if req.PR == 0 {
		return Result{}, Invalidf("an override is asked on the pull request whose plan failed the policy checks")
	}
	if strings.TrimSpace(req.Reason) == "" {
		return Result{}, Invalidf("an override needs a reason")
	}
	sha, out, ok, err := s.d.Store.ReviewedPlan(ctx, req.Repo, req.PR, req.Env)
	if err != nil {
		return Result{}, err
	}
	var failures []string
	if ok && out[PolicyFailuresKey] != "" {
		if err := json.Unmarshal([]byte(out[PolicyFailuresKey]), &failures); err != nil {
			return Result{}, fmt.Errorf("override %s: read the policy failures: %w", req.Env, err)
		}
	}
	if len(failures) == 0 {
		return Result{}, Invalidf("the last plan of %s on #%d has no policy check failures to override", req.Env, req.PR)
	}
	by := req.Actor.Login
	if by == "" {
		by = req.Actor.SlackUser
	}
	o, err := s.d.Store.RecordOverride(ctx, store.Override{Repo: req.Repo, PR: req.PR, Env: req.Env, SHA: sha,
		Failures: failures, By: by, Channel: req.Actor.Channel, Reason: req.Reason})
	if err != nil {
		return Result{}, err
	}
	msg := fmt.Sprintf("Recorded: %d policy check failure(s) of %s at %.12s may go through when #%d merges (override %d by %s). "+
		"New failures would still stop the deploy.", len(failures), req.Env, sha, req.PR, o.ID, req.Actor.Describe())
	// Plan the environment again, so that its status on the pull request says so.
	plan := req
	plan.Kind, plan.Envs, plan.Env = KindPlan, []string{req.Env}, ""
	res, err := s.plan(ctx, plan)
	if err != nil {
		return Result{Message: msg}, nil
	}
	return Result{Message: msg + " " + res.Message, RunID: res.RunID}, nil
}
