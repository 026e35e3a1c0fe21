package action_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/action"
	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/policy"
	"github.com/gitops-runner/runner/internal/store"
)

// fakePerms allows users by level, as GitHub would answer.
type fakePerms map[string]policy.Level

func (f fakePerms) Allows(_ context.Context, _, user string, r policy.Rule) (policy.Decision, error) {
	for _, u := range r.Users {
		if strings.EqualFold(u, user) {
			return policy.Decision{Allowed: true, Reason: user + " by name"}, nil
		}
	}
	if r.MinLevel > policy.LevelNone && f[user] >= r.MinLevel {
		return policy.Decision{Allowed: true, Reason: user + " has " + f[user].String()}, nil
	}
	return policy.Decision{Reason: user + " has " + f[user].String() + " access"}, nil
}

type fakeRuns struct {
	mu       sync.Mutex
	accepted []event.Event
	woken    []int64
}

func (f *fakeRuns) Accept(_ context.Context, ev event.Event) (event.Receipt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accepted = append(f.accepted, ev)
	return event.Receipt{Run: int64(100 + len(f.accepted))}, nil
}

func (f *fakeRuns) Wake(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.woken = append(f.woken, id)
	return nil
}

type fakeGroups map[string][]string

func (f fakeGroups) Member(_ context.Context, group, user string) (bool, error) {
	for _, u := range f[group] {
		if u == user {
			return true, nil
		}
	}
	return false, nil
}

type fakePulls struct{}

func (fakePulls) Pull(_ context.Context, repo string, n int) (action.Pull, error) {
	return action.Pull{Number: n, Open: true, HeadSHA: "feedface00", HeadRef: "x", BaseSHA: "base", BaseRef: "main",
		HeadRepo: "eve/platform", Author: "eve", CloneURL: "https://example/acme/platform.git"}, nil
}

const pol = `slack_users: {U0ALICE1: alice}
repos:
  - match: [acme/platform]
    distinct_approver: true
    environments:
      - name: prod
        approvers: {users: [carol], slack_groups: [S0PROD1]}
`

type fixture struct {
	st   *store.Store
	runs *fakeRuns
	svc  *action.Service
	run  int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p, err := policy.Parse([]byte(pol))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := st.Accept(ctx, event.Event{DeliveryID: "d1", Name: "push", Kind: event.KindDeploy, Repo: "acme/platform",
		SHA: "aaaaaaaaaa", Ref: "refs/heads/main", CloneURL: "https://example/acme/platform.git"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	runs := &fakeRuns{}
	svc := action.NewService(action.Deps{Store: st, Runs: runs, Policy: p, Groups: fakeGroups{"S0PROD1": {"U0BOB001"}}, Pulls: fakePulls{},
		Perms: fakePerms{"mallory": policy.LevelWrite, "maint": policy.LevelMaintain, "bob": policy.LevelMaintain, "alice": policy.LevelRead}})
	return &fixture{st: st, runs: runs, svc: svc, run: rec.Run}
}

func (f *fixture) waiting(t *testing.T, author string, expires time.Time) store.Approval {
	t.Helper()
	a, err := f.st.RequestApproval(context.Background(), store.Approval{RunID: f.run, Repo: "acme/platform", Env: "prod", PR: 7, SHA: "aaaaaaaaaa",
		Author: author, Why: "prod requires approval", Summary: "1 to add", PlanSHA256: "p1", Expires: expires})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestDecisions(t *testing.T) {
	later := time.Now().Add(time.Hour)
	comment := func(login string) action.Actor { return action.Actor{Login: login, Channel: action.ChannelComment} }
	for _, tc := range []struct {
		name    string
		author  string
		expires time.Time
		req     action.Request
		state   string // the approval's state after; "" for a refusal
		denied  bool
		invalid string
	}{
		{"maintainer approves by PR", "bob", later, action.Request{Kind: action.KindApprove, PR: 7, Env: "prod", Actor: comment("maint")}, store.ApprovalApproved, false, ""},
		{"approver by name", "bob", later, action.Request{Kind: action.KindApprove, PR: 7, Env: "prod", Actor: comment("carol")}, store.ApprovalApproved, false, ""},
		{"writer refused", "bob", later, action.Request{Kind: action.KindApprove, PR: 7, Env: "prod", Actor: comment("mallory")}, "", true, ""},
		{"author may not approve", "maint", later, action.Request{Kind: action.KindApprove, PR: 7, Env: "prod", Actor: comment("maint")}, "", true, ""},
		{"author may reject", "maint", later, action.Request{Kind: action.KindReject, PR: 7, Env: "prod", Reason: "no", Actor: comment("maint")}, store.ApprovalRejected, false, ""},
		{"slack user mapped but without access", "bob", later, action.Request{Kind: action.KindApprove, RunID: -1, Env: "prod",
			Actor: action.Actor{Channel: action.ChannelSlack, SlackUser: "U0ALICE1"}}, "", true, ""},
		{"slack group member", "x", later, action.Request{Kind: action.KindApprove, RunID: -1, Env: "prod",
			Actor: action.Actor{Channel: action.ChannelSlack, SlackUser: "U0BOB001"}}, store.ApprovalApproved, false, ""},
		{"unknown slack user", "x", later, action.Request{Kind: action.KindApprove, RunID: -1, Env: "prod",
			Actor: action.Actor{Channel: action.ChannelSlack, SlackUser: "U0EVE001"}}, "", true, ""},
		{"operator", "x", later, action.Request{Kind: action.KindApprove, RunID: -1, Env: "prod",
			Actor: action.Actor{Login: "ops", Channel: action.ChannelCLI, Operator: true}}, store.ApprovalApproved, false, ""},
		{"expired", "x", time.Now().Add(-time.Second), action.Request{Kind: action.KindApprove, PR: 7, Env: "prod", Actor: comment("maint")}, store.ApprovalExpired, false, "expired"},
		{"other env", "x", later, action.Request{Kind: action.KindApprove, PR: 7, Env: "dev", Actor: comment("maint")}, store.ApprovalWaiting, false, "no deploy of dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			a := f.waiting(t, tc.author, tc.expires)
			req := tc.req
			req.Repo = "acme/platform"
			if req.RunID == -1 {
				req.RunID = f.run
			}
			res, err := f.svc.Do(context.Background(), req)
			var denied *action.Denied
			switch {
			case tc.denied:
				if !errors.As(err, &denied) || denied.Error() == "" {
					t.Fatalf("err = %v, want a refusal", err)
				}
			case tc.invalid != "":
				if !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), tc.invalid) {
					t.Fatalf("err = %v, want invalid %q", err, tc.invalid)
				}
			case err != nil:
				t.Fatalf("err = %v", err)
			case res.RunID != f.run || res.Message == "":
				t.Fatalf("result = %+v", res)
			}
			got, _ := f.st.CurrentApproval(context.Background(), f.run, "prod")
			want := tc.state
			if want == "" {
				want = store.ApprovalWaiting
			}
			if got.ID != a.ID || got.State != want {
				t.Fatalf("approval = %s, want %s", got.State, want)
			}
			if want != store.ApprovalWaiting && len(f.runs.woken) != 1 {
				t.Errorf("woken = %v, want the run woken once", f.runs.woken)
			}
		})
	}
}

func TestPlanRequestStartsAnAuthorisedPlan(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.Do(ctx, action.Request{Kind: action.KindPlan, Repo: "acme/platform", PR: 7, Actor: action.Actor{Login: "alice", Channel: action.ChannelComment}}); err == nil {
		t.Fatal("a reader planned")
	}
	res, err := f.svc.Do(ctx, action.Request{Kind: action.KindPlan, Repo: "acme/platform", PR: 7, Envs: []string{"dev"}, CommentID: 55,
		Actor: action.Actor{Login: "mallory", Channel: action.ChannelComment}})
	if err != nil || res.RunID == 0 {
		t.Fatalf("plan = %+v, %v", res, err)
	}
	ev := f.runs.accepted[0]
	if ev.Kind != event.KindPlan || ev.SHA != "feedface00" || !ev.Fork || ev.RequestedBy != "mallory (comment)" || ev.Envs[0] != "dev" || ev.DeliveryID == "" {
		t.Fatalf("event = %+v", ev)
	}
}

func TestRollbackTargets(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i, sha := range []string{"1111111111", "2222222222", "2222222222", "3333333333"} {
		outcome := "succeeded"
		if i == 2 {
			outcome = "failed"
		}
		if err := f.st.RecordDeployment(ctx, store.Deployment{Repo: "acme/platform", Env: "prod", SHA: sha, RunID: f.run, Outcome: outcome, BackendImage: "img@" + sha}); err != nil {
			t.Fatal(err)
		}
	}
	op := action.Actor{Login: "ops", Channel: action.ChannelCLI, Operator: true}
	for _, tc := range []struct{ to, want, invalid string }{
		{"", "2222222222", ""},
		{"previous", "2222222222", ""},
		{"1111111", "1111111111", ""},
		{"3333333", "", "already"},
		{"4444444", "", "never deployed"},
		{"xyz", "", "not a commit"},
	} {
		_, err := f.svc.Do(ctx, action.Request{Kind: action.KindRollback, Repo: "acme/platform", Env: "prod", To: tc.to, Reason: "bad deploy", Actor: op})
		if tc.invalid != "" {
			if !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), tc.invalid) {
				t.Errorf("to %q: err = %v, want %q", tc.to, err, tc.invalid)
			}
			continue
		}
		if err != nil {
			t.Fatalf("to %q: %v", tc.to, err)
		}
		ev := f.runs.accepted[len(f.runs.accepted)-1]
		if ev.Kind != event.KindRollback || ev.SHA != tc.want || ev.Envs[0] != "prod" || ev.CloneURL == "" || ev.Ref != "refs/heads/main" {
			t.Errorf("to %q: event = %+v", tc.to, ev)
		}
	}
	// A writer may not roll back.
	_, err := f.svc.Do(ctx, action.Request{Kind: action.KindRollback, Repo: "acme/platform", Env: "prod", Actor: action.Actor{Login: "mallory", Channel: action.ChannelComment}})
	var denied *action.Denied
	if !errors.As(err, &denied) || !strings.Contains(denied.Needs, "maintain") {
		t.Fatalf("writer rollback err = %v", err)
	}
}

func TestFixAppliesTheDeployedCommitAgain(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	maint := action.Actor{Login: "maint", Channel: action.ChannelComment}
	req := action.Request{Kind: action.KindFix, Repo: "acme/platform", Env: "prod", Reason: "sg opened in the console", Actor: maint}
	if _, err := f.svc.Do(ctx, req); !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), "no successful deployment") {
		t.Fatalf("fix of an environment never deployed: %v", err)
	}
	for _, d := range []struct{ sha, outcome string }{{"1111111111", "succeeded"}, {"2222222222", "succeeded"}, {"3333333333", "failed"}} {
		if err := f.st.RecordDeployment(ctx, store.Deployment{Repo: "acme/platform", Env: "prod", SHA: d.sha, RunID: f.run, Outcome: d.outcome}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := f.svc.Do(ctx, req)
	if err != nil || !strings.Contains(res.Message, "deployed commit 2222222") || !strings.Contains(res.Message, "No drift check has run yet") {
		t.Fatalf("fix = %+v, %v", res, err)
	}
	ev := f.runs.accepted[len(f.runs.accepted)-1]
	if ev.Kind != event.KindFix || ev.SHA != "2222222222" || len(ev.Envs) != 1 || ev.Envs[0] != "prod" || ev.Comment != "sg opened in the console" ||
		ev.RequestedBy != "maint (comment)" || ev.Ref != "refs/heads/main" || ev.CloneURL == "" {
		t.Fatalf("event = %+v", ev)
	}
	if _, _, err := f.st.RecordDriftCheck(ctx, store.DriftCheck{Repo: "acme/platform", Env: "prod", SHA: "2222222222", RunID: f.run, Drifted: true, Fingerprint: "f1"}); err != nil {
		t.Fatal(err)
	}
	if res, err := f.svc.Do(ctx, req); err != nil || !strings.Contains(res.Message, "found drift") {
		t.Fatalf("fix after a drift check = %+v, %v", res, err)
	}
	// A writer may not apply.
	writer := req
	writer.Actor = action.Actor{Login: "mallory", Channel: action.ChannelComment}
	var denied *action.Denied
	if _, err := f.svc.Do(ctx, writer); !errors.As(err, &denied) || !strings.Contains(denied.Needs, "maintain") {
		t.Fatalf("writer fix err = %v", err)
	}
}

// planWithFailures records a successful plan of prod on pull request 7 whose policy checks failed.
func (f *fixture) planWithFailures(t *testing.T, failures string) {
	t.Helper()
	ctx := context.Background()
	rec, err := f.st.Accept(ctx, event.Event{DeliveryID: "p-" + failures, Name: "pull_request", Kind: event.KindPlan, Repo: "acme/platform",
		PR: 7, SHA: "bbbbbbbbbb", Ref: "refs/pull/7/head", CloneURL: "https://example/acme/platform.git"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sts, err := f.st.EnsureStages(ctx, rec.Run, []store.StageKey{{Env: "prod", Name: "plan"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.StartStage(ctx, sts[0].ID); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{"summary": "1 to add"}
	if failures != "" {
		out[action.PolicyFailuresKey] = failures
	}
	if err := f.st.FinishStage(ctx, sts[0].ID, store.StageSucceeded, "1 to add", out); err != nil {
		t.Fatal(err)
	}
}

func TestOverrideRecordsThePlansPolicyFailures(t *testing.T) {
	ctx := context.Background()
	comment := func(login string) action.Actor { return action.Actor{Login: login, Channel: action.ChannelComment} }
	f := newFixture(t)
	req := action.Request{Kind: action.KindOverride, Repo: "acme/platform", PR: 7, Env: "prod", Reason: "logs bucket, encrypted by default", Actor: comment("maint")}
	if _, err := f.svc.Do(ctx, req); !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), "no policy check failures") {
		t.Fatalf("override without failures: %v", err)
	}
	f.planWithFailures(t, `["s3.deny: aws_s3_bucket.logs is not encrypted"]`)
	writer := req
	writer.Actor = comment("mallory")
	var denied *action.Denied
	if _, err := f.svc.Do(ctx, writer); !errors.As(err, &denied) {
		t.Fatalf("a writer overrode: %v", err)
	}
	res, err := f.svc.Do(ctx, req)
	if err != nil || !strings.Contains(res.Message, "1 policy check failure(s) of prod") {
		t.Fatalf("override = %+v, %v", res, err)
	}
	got, _ := f.st.Overrides(ctx, "acme/platform", 7, "prod")
	if len(got) != 1 || got[0].By != "maint" || got[0].SHA != "bbbbbbbbbb" || got[0].Failures[0] != "s3.deny: aws_s3_bucket.logs is not encrypted" {
		t.Fatalf("recorded %+v", got)
	}
}
