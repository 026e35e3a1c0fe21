package fakegithub_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"

	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
)

// appClient is a go-github client authenticated as installation installationID of App appID, registered on
// fake with a fresh key.
func appClient(t *testing.T, fake *fakegithub.Server, appID, installationID int64) *github.Client {
	t.Helper()
	key, keyPEM := genKey(t)
	fake.RegisterApp(appID, installationID, &key.PublicKey)
	itr, err := ghinstallation.New(fake.HTTPClient().Transport, appID, installationID, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	itr.BaseURL = strings.TrimSuffix(fake.URL(), "/")
	c := github.NewClient(&http.Client{Transport: itr})
	c.BaseURL, _ = url.Parse(fake.URL())
	return c
}

func statusOf(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

func TestCheckRunsNeedAnAppInstallationToken(t *testing.T) {
	fake := start(t, fakegithub.Config{})
	opts := github.CreateCheckRunOptions{Name: "runner/plan: dev", HeadSHA: "abc"}

	_, _, err := newClient(t, fake, token).Checks.CreateCheckRun(t.Context(), "o", "r", opts)
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 403 || !strings.Contains(er.Message, "GitHub App") {
		t.Fatalf("personal token: want 403 naming GitHub Apps, got %v", err)
	}
	if _, _, err := newClient(t, fake, token).Checks.UpdateCheckRun(t.Context(), "o", "r", 1, github.UpdateCheckRunOptions{Name: "x"}); statusOf(err) != 403 {
		t.Fatalf("personal token update: want 403, got %v", err)
	}
	app := appClient(t, fake, 42, 7)
	cr, resp, err := app.Checks.CreateCheckRun(t.Context(), "o", "r", opts)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("installation token: %v", err)
	}
	if cr.GetStatus() != "queued" || cr.GetApp().GetID() != 42 || cr.GetHeadSHA() != "abc" || cr.GetName() != opts.Name {
		t.Fatalf("check run %+v", cr)
	}
	// Reading is open to any token, as for a public repository.
	if _, _, err := newClient(t, fake, token).Checks.GetCheckRun(t.Context(), "o", "r", cr.GetID()); err != nil {
		t.Fatal(err)
	}
	// Only the App that made a check run may change it.
	other := appClient(t, fake, 43, 8)
	if _, _, err := other.Checks.UpdateCheckRun(t.Context(), "o", "r", cr.GetID(), github.UpdateCheckRunOptions{Name: "x"}); statusOf(err) != 403 {
		t.Fatalf("other App: want 403, got %v", err)
	}
}

func TestCheckRunValidation(t *testing.T) {
	ann := func(mod func(a *github.CheckRunAnnotation)) *github.CheckRunAnnotation {
		a := &github.CheckRunAnnotation{Path: github.String("main.tf"), StartLine: github.Int(1), EndLine: github.Int(1),
			AnnotationLevel: github.String("failure"), Message: github.String("m")}
		if mod != nil {
			mod(a)
		}
		return a
	}
	output := func(as ...*github.CheckRunAnnotation) *github.CheckRunOutput {
		return &github.CheckRunOutput{Title: github.String("t"), Summary: github.String("s"), Annotations: as}
	}
	action := func(label, desc, id string) *github.CheckRunAction {
		return &github.CheckRunAction{Label: label, Description: desc, Identifier: id}
	}
	const noName = "\x00"
	many := make([]*github.CheckRunAnnotation, 51)
	for i := range many {
		many[i] = ann(nil)
	}
	tests := []struct {
		name  string
		opts  github.CreateCheckRunOptions
		field string // in the 422 answer; "" means accepted
	}{
		{"minimal", github.CreateCheckRunOptions{}, ""},
		{"everything at the limits", github.CreateCheckRunOptions{
			Status: github.String("completed"), Conclusion: github.String("action_required"),
			Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String(strings.Repeat("é", 65535)),
				Text: github.String(strings.Repeat("x", 65535)), Annotations: many[:50]},
			Actions: []*github.CheckRunAction{action(strings.Repeat("l", 20), strings.Repeat("d", 40), strings.Repeat("i", 20)),
				action("a", "b", "c"), action("d", "e", "f")},
		}, ""},
		{"no name", github.CreateCheckRunOptions{Name: noName}, "name"},
		{"unknown status", github.CreateCheckRunOptions{Status: github.String("done")}, "status"},
		{"unknown conclusion", github.CreateCheckRunOptions{Conclusion: github.String("stale")}, "conclusion"},
		{"completed without conclusion", github.CreateCheckRunOptions{Status: github.String("completed")}, "conclusion"},
		{"output without title", github.CreateCheckRunOptions{Output: &github.CheckRunOutput{Summary: github.String("s")}}, "output.title"},
		{"output without summary", github.CreateCheckRunOptions{Output: &github.CheckRunOutput{Title: github.String("t")}}, "output.summary"},
		{"summary too long", github.CreateCheckRunOptions{Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String(strings.Repeat("é", 65536))}}, "output.summary"},
		{"text too long", github.CreateCheckRunOptions{Output: &github.CheckRunOutput{Title: github.String("t"), Summary: github.String("s"), Text: github.String(strings.Repeat("x", 65536))}}, "output.text"},
		{"51 annotations", github.CreateCheckRunOptions{Output: output(many...)}, "output.annotations"},
		{"annotation level", github.CreateCheckRunOptions{Output: output(ann(func(a *github.CheckRunAnnotation) { a.AnnotationLevel = github.String("error") }))}, "output.annotations[0].annotation_level"},
		{"annotation without path", github.CreateCheckRunOptions{Output: output(ann(nil), ann(func(a *github.CheckRunAnnotation) { a.Path = nil }))}, "output.annotations[1].path"},
		{"annotation without start line", github.CreateCheckRunOptions{Output: output(ann(func(a *github.CheckRunAnnotation) { a.StartLine = nil }))}, "output.annotations[0].start_line"},
		{"annotation without end line", github.CreateCheckRunOptions{Output: output(ann(func(a *github.CheckRunAnnotation) { a.EndLine = nil }))}, "output.annotations[0].end_line"},
		{"annotation without message", github.CreateCheckRunOptions{Output: output(ann(func(a *github.CheckRunAnnotation) { a.Message = nil }))}, "output.annotations[0].message"},
		{"four actions", github.CreateCheckRunOptions{Actions: []*github.CheckRunAction{action("a", "b", "c"), action("a", "b", "c"), action("a", "b", "c"), action("a", "b", "c")}}, "actions"},
		{"long label", github.CreateCheckRunOptions{Actions: []*github.CheckRunAction{action(strings.Repeat("l", 21), "b", "c")}}, "actions[0].label"},
		{"long description", github.CreateCheckRunOptions{Actions: []*github.CheckRunAction{action("a", strings.Repeat("d", 41), "c")}}, "actions[0].description"},
		{"long identifier", github.CreateCheckRunOptions{Actions: []*github.CheckRunAction{action("a", "b", strings.Repeat("i", 21))}}, "actions[0].identifier"},
	}
	fake := start(t, fakegithub.Config{})
	app := appClient(t, fake, 42, 7)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			switch tt.opts.Name {
			case "":
				tt.opts.Name = "check"
			case noName:
				tt.opts.Name = ""
			}
			tt.opts.HeadSHA = "abc"
			_, _, err := app.Checks.CreateCheckRun(t.Context(), "o", "r", tt.opts)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				return
			}
			var er *github.ErrorResponse
			if !errors.As(err, &er) || er.Response.StatusCode != 422 || len(er.Errors) != 1 || er.Errors[0].Field != tt.field {
				t.Fatalf("want 422 on %s, got %v", tt.field, err)
			}
		})
	}
	t.Run("update completing without conclusion", func(t *testing.T) {
		cr, _, err := app.Checks.CreateCheckRun(t.Context(), "o", "r", github.CreateCheckRunOptions{Name: "u", HeadSHA: "abc"})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = app.Checks.UpdateCheckRun(t.Context(), "o", "r", cr.GetID(), github.UpdateCheckRunOptions{Name: "u", Status: github.String("completed")})
		if statusOf(err) != 422 {
			t.Fatalf("want 422, got %v", err)
		}
	})
}

func TestCheckRunUpdatesAppendAnnotations(t *testing.T) {
	ctx := t.Context()
	fake := start(t, fakegithub.Config{})
	fake.SeedPull("o/r", fakegithub.Pull{Number: 7, HeadRef: "feature", HeadSHA: "abc", BaseRef: "main", BaseSHA: "base1"})
	app := appClient(t, fake, 42, 7)
	annotations := func(from, n int) []*github.CheckRunAnnotation {
		var out []*github.CheckRunAnnotation
		for i := from; i < from+n; i++ {
			out = append(out, &github.CheckRunAnnotation{Path: github.String("main.tf"), StartLine: github.Int(i), EndLine: github.Int(i),
				AnnotationLevel: github.String("warning"), Message: github.String(fmt.Sprint("m", i))})
		}
		return out
	}
	cr, _, err := app.Checks.CreateCheckRun(ctx, "o", "r", github.CreateCheckRunOptions{
		Name: "runner/plan: dev", HeadSHA: "abc", ExternalID: github.String("run:1:env:dev"), Status: github.String("in_progress"),
		Output: &github.CheckRunOutput{Title: github.String("t1"), Summary: github.String("s1"), Text: github.String("x1"), Annotations: annotations(1, 50)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cr.PullRequests) != 1 || cr.PullRequests[0].GetNumber() != 7 || cr.PullRequests[0].GetHead().GetRef() != "feature" {
		t.Fatalf("pull requests %+v", cr.PullRequests)
	}
	if _, _, err := app.Checks.UpdateCheckRun(ctx, "o", "r", cr.GetID(), github.UpdateCheckRunOptions{
		Name: "runner/plan: dev", Conclusion: github.String("failure"), DetailsURL: github.String("https://runner.example/runs/1"),
		Output:  &github.CheckRunOutput{Title: github.String("t2"), Summary: github.String("s2"), Annotations: annotations(51, 20)},
		Actions: []*github.CheckRunAction{{Label: "Apply", Description: "Apply this plan", Identifier: "apply"}},
	}); err != nil {
		t.Fatal(err)
	}
	runs := fake.CheckRuns("o/r")
	if len(runs) != 1 {
		t.Fatalf("%d check runs", len(runs))
	}
	got := runs[0]
	if got.Status != "completed" || got.Conclusion != "failure" || got.Title != "t2" || got.Summary != "s2" || got.Text != "" ||
		got.ExternalID != "run:1:env:dev" || got.DetailsURL == "" || got.AppID != 42 || got.CompletedAt.IsZero() ||
		len(got.Actions) != 1 || got.Actions[0].Identifier != "apply" {
		t.Fatalf("check run %+v", got)
	}
	if len(got.Annotations) != 70 || got.Annotations[0].Message != "m1" || got.Annotations[69].Message != "m70" || got.Annotations[69].Level != "warning" {
		t.Fatalf("%d annotations", len(got.Annotations))
	}

	// A second run of the same name: the list answers the newest by default, both with filter=all.
	if _, _, err := app.Checks.CreateCheckRun(ctx, "o", "r", github.CreateCheckRunOptions{Name: "runner/plan: dev", HeadSHA: "abc"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := app.Checks.CreateCheckRun(ctx, "o", "r", github.CreateCheckRunOptions{Name: "runner/plan: prod", HeadSHA: "abc"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, filter string
		app          int64
		want         int
	}{
		{"runner/plan: dev", "", 0, 1},
		{"runner/plan: dev", "all", 0, 2},
		{"runner/plan: dev", "all", 43, 0},
		{"", "", 42, 2},
	} {
		opts := &github.ListCheckRunsOptions{}
		if tc.name != "" {
			opts.CheckName = github.String(tc.name)
		}
		if tc.filter != "" {
			opts.Filter = github.String(tc.filter)
		}
		if tc.app != 0 {
			opts.AppID = github.Int64(tc.app)
		}
		res, _, err := newClient(t, fake, token).Checks.ListCheckRunsForRef(ctx, "o", "r", "abc", opts)
		if err != nil {
			t.Fatal(err)
		}
		if res.GetTotal() != tc.want || len(res.CheckRuns) != tc.want {
			t.Fatalf("list %+v: %d runs, want %d", tc, res.GetTotal(), tc.want)
		}
		if tc.want > 0 && tc.name != "" && res.CheckRuns[0].GetID() <= cr.GetID() {
			t.Fatalf("list %+v: the newest run is not first", tc)
		}
	}
	first, _, err := app.Checks.GetCheckRun(ctx, "o", "r", cr.GetID())
	if err != nil {
		t.Fatal(err)
	}
	if first.GetOutput().GetAnnotationsCount() != 70 || first.GetConclusion() != "failure" {
		t.Fatalf("check run %+v", first)
	}
}

func TestRequestedActionPayloadParsesAsACheckRunEvent(t *testing.T) {
	fake := start(t, fakegithub.Config{})
	fake.SeedRepo("acme/infra", fakegithub.Repo{CloneURL: "https://git.example/acme/infra.git", DefaultBranch: "trunk"})
	fake.SeedPull("acme/infra", fakegithub.Pull{Number: 12, HeadRef: "feature", HeadSHA: "abc", BaseSHA: "b1"})
	app := appClient(t, fake, 42, 7)
	cr, _, err := app.Checks.CreateCheckRun(t.Context(), "acme", "infra", github.CreateCheckRunOptions{
		Name: "runner/plan: prod", HeadSHA: "abc", ExternalID: github.String("run:12:env:prod"), Conclusion: github.String("success"),
		Actions: []*github.CheckRunAction{{Label: "Apply", Description: "Apply the plan", Identifier: "apply"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if fake.RequestedActionPayload("acme/infra", cr.GetID()+1, "apply", "alice") != nil {
		t.Fatal("payload for an unknown check run")
	}
	payload := fake.RequestedActionPayload("acme/infra", cr.GetID(), "apply", "alice")
	ev, err := github.ParseWebHook("check_run", payload)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := ev.(*github.CheckRunEvent)
	if !ok {
		t.Fatalf("parsed as %T", ev)
	}
	run := e.GetCheckRun()
	if e.GetAction() != "requested_action" || e.GetRequestedAction().Identifier != "apply" ||
		run.GetID() != cr.GetID() || run.GetName() != "runner/plan: prod" || run.GetHeadSHA() != "abc" ||
		run.GetExternalID() != "run:12:env:prod" || run.GetStatus() != "completed" || run.GetConclusion() != "success" {
		t.Fatalf("event %+v", e)
	}
	if suite := run.GetCheckSuite(); suite.GetHeadBranch() != "feature" || suite.GetHeadSHA() != "abc" || len(suite.PullRequests) != 1 {
		t.Fatalf("check suite %+v", suite)
	}
	if len(run.PullRequests) != 1 || run.PullRequests[0].GetNumber() != 12 || run.PullRequests[0].GetHead().GetSHA() != "abc" ||
		run.PullRequests[0].GetBase().GetRef() != "main" || run.PullRequests[0].GetHead().GetRepo().GetName() != "infra" {
		t.Fatalf("pull requests %+v", run.PullRequests)
	}
	repo := e.GetRepo()
	if repo.GetFullName() != "acme/infra" || repo.GetCloneURL() != "https://git.example/acme/infra.git" ||
		repo.GetDefaultBranch() != "trunk" || repo.GetOwner().GetLogin() != "acme" {
		t.Fatalf("repository %+v", repo)
	}
	if e.GetSender().GetLogin() != "alice" || e.GetSender().GetType() != "User" || e.GetInstallation().GetID() != 7 {
		t.Fatalf("sender %+v installation %+v", e.GetSender(), e.GetInstallation())
	}
}
