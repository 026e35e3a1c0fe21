package github

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
)

// installApp registers App appID as installationID on fake and returns a Client authenticated as it.
func installApp(t *testing.T, fake *fakegithub.Server, appID, installationID int64, secrets ...string) *Client {
	t.Helper()
	key, keyPEM := appKey(t)
	fake.RegisterApp(appID, installationID, &key.PublicKey)
	c, err := New(context.Background(), Options{AppID: appID, InstallationID: installationID, PrivateKey: keyPEM,
		BaseURL: fake.URL(), HTTPClient: fake.HTTPClient(), Retry: fastRetry, Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func annotations(n int) []Annotation {
	out := make([]Annotation, n)
	for i := range out {
		out[i] = Annotation{Path: "main.tf", StartLine: i + 1, Level: "failure", Title: "Unsupported argument", Message: fmt.Sprint("problem ", i+1)}
	}
	return out
}

// checkRunWrites counts the check-run POSTs and PATCHes the fake answered since call index from.
func checkRunWrites(fake *fakegithub.Server, from int) (posts, patches int) {
	for _, call := range fake.Calls()[from:] {
		if !strings.Contains(call.Path, "/check-runs") {
			continue
		}
		switch call.Method {
		case "POST":
			posts++
		case "PATCH":
			patches++
		}
	}
	return posts, patches
}

func TestClientApp(t *testing.T) {
	fake := startFake(t, fakegithub.Config{})
	if newTestClient(t, fake, nil).App() {
		t.Fatal("token client says App")
	}
	if !installApp(t, fake, 11, 22).App() {
		t.Fatal("App client does not say App")
	}
}

func TestUpsertCheckRunLifecycle(t *testing.T) {
	ctx := t.Context()
	fake := startFake(t, fakegithub.Config{})
	c := installApp(t, fake, 11, 22)
	run := CheckRun{Name: "runner/plan: dev", HeadSHA: "abc", ExternalID: "run:12:env:dev", DetailsURL: "https://runner.example/runs/12"}
	type step struct {
		name        string
		mod         func(*CheckRun)
		wantSameID  bool
		wantPosts   int
		wantPatches int
		wantAnn     int // annotations on the run GitHub shows after the step
	}
	steps := []step{
		{"queued creates", func(r *CheckRun) {}, false, 1, 0, 0},
		{"in progress updates", func(r *CheckRun) { r.Status = "in_progress" }, true, 0, 1, 0},
		{"completed with 120 annotations: 50 per request", func(r *CheckRun) {
			r.Status, r.Conclusion = "completed", "failure"
			r.Title, r.Summary, r.Text = "2 errors", "Plan failed", "```\nError: ...\n```"
			r.Annotations = annotations(120)
			r.Actions = []CheckAction{{Label: "Re-plan", Description: "Plan this environment again", Identifier: "replan"}}
		}, true, 0, 3, 120},
		{"a re-run supersedes the annotated run", func(r *CheckRun) {
			*r = CheckRun{Name: r.Name, HeadSHA: r.HeadSHA, Status: "in_progress"}
		}, false, 1, 0, 0},
		{"and then updates the new one", func(r *CheckRun) {
			r.Conclusion, r.Status, r.Title, r.Summary = "success", "", "No changes", "Nothing to do"
		}, true, 0, 1, 0},
	}
	var lastID int64
	for _, s := range steps {
		s.mod(&run)
		before := len(fake.Calls())
		id, err := c.UpsertCheckRun(ctx, "o/r", run)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if (id == lastID) != s.wantSameID {
			t.Fatalf("%s: id %d, before %d", s.name, id, lastID)
		}
		lastID = id
		if posts, patches := checkRunWrites(fake, before); posts != s.wantPosts || patches != s.wantPatches {
			t.Fatalf("%s: %d POSTs and %d PATCHes, want %d and %d", s.name, posts, patches, s.wantPosts, s.wantPatches)
		}
		runs := fake.CheckRuns("o/r")
		got := runs[len(runs)-1]
		if got.ID != id || got.Name != run.Name || got.HeadSHA != "abc" || len(got.Annotations) != s.wantAnn {
			t.Fatalf("%s: check run %d %q on %s with %d annotations", s.name, got.ID, got.Name, got.HeadSHA, len(got.Annotations))
		}
	}
	runs := fake.CheckRuns("o/r")
	if len(runs) != 2 {
		t.Fatalf("%d check runs", len(runs))
	}
	first, second := runs[0], runs[1]
	if first.Status != "completed" || first.Conclusion != "failure" || first.Title != "2 errors" || first.Summary != "Plan failed" ||
		!strings.Contains(first.Text, "Error: ...") || first.ExternalID != "run:12:env:dev" || first.DetailsURL != "https://runner.example/runs/12" ||
		len(first.Actions) != 1 || first.Actions[0].Identifier != "replan" || first.AppID != 11 {
		t.Fatalf("first run %+v", first)
	}
	for i, a := range first.Annotations {
		if a.Message != fmt.Sprint("problem ", i+1) || a.StartLine != i+1 || a.EndLine != i+1 || a.Level != "failure" {
			t.Fatalf("annotation %d: %+v", i, a)
		}
	}
	if second.Status != "completed" || second.Conclusion != "success" || second.Title != "No changes" || second.ExternalID != "" {
		t.Fatalf("second run %+v", second)
	}
}

func TestUpsertCheckRunKeepsToItsOwnApp(t *testing.T) {
	fake := startFake(t, fakegithub.Config{})
	other := installApp(t, fake, 31, 32)
	c := installApp(t, fake, 11, 22)
	run := CheckRun{Name: "runner/plan: dev", HeadSHA: "abc", Status: "in_progress"}
	theirs, err := other.UpsertCheckRun(t.Context(), "o/r", run)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := c.UpsertCheckRun(t.Context(), "o/r", run)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.UpsertCheckRun(t.Context(), "o/r", run)
	if err != nil {
		t.Fatal(err)
	}
	if ours == theirs || again != ours {
		t.Fatalf("theirs %d, ours %d then %d", theirs, ours, again)
	}
}

func TestUpsertCheckRunNeedsAnApp(t *testing.T) {
	fake := startFake(t, fakegithub.Config{})
	_, err := newTestClient(t, fake, nil).UpsertCheckRun(t.Context(), "o/r", CheckRun{Name: "n", HeadSHA: "abc"})
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("personal token: want GitHub's 403, got %v", err)
	}
}

func TestUpsertCheckRunRedactsAndCuts(t *testing.T) {
	const secret = "hunter2-secret"
	fake := startFake(t, fakegithub.Config{})
	c := installApp(t, fake, 11, 22, secret)
	huge := "```hcl\n" + strings.Repeat("résumé "+secret+"\n", 12000) // over 65535 bytes, fence open at the cut
	_, err := c.UpsertCheckRun(t.Context(), "o/r", CheckRun{
		Name: "runner/plan: dev", HeadSHA: "abc", Conclusion: "failure",
		Title:   strings.Repeat("t", 300) + secret,
		Summary: huge, Text: huge,
		Annotations: []Annotation{{Path: "main.tf", StartLine: 3, EndLine: 4, Level: "warning", Title: secret,
			Message: "token " + testToken + " " + secret, RawDetails: strings.Repeat("x", 70<<10)}},
		Actions: []CheckAction{{Label: "Apply the plan now please", Description: strings.Repeat("d", 50) + secret, Identifier: "apply"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range fake.Calls() {
		if strings.Contains(call.Body, secret) || strings.Contains(call.Body, testToken) {
			t.Fatalf("%s %s leaks a secret", call.Method, call.Path)
		}
	}
	got := fake.CheckRuns("o/r")[0]
	for name, s := range map[string]string{"summary": got.Summary, "text": got.Text} {
		if len(s) > MaxCheckRunOutput || !utf8.ValidString(s) || !fencesBalanced(s) || !strings.HasSuffix(s, "_(truncated)_") {
			t.Fatalf("%s: %d bytes, valid %v, balanced %v", name, len(s), utf8.ValidString(s), fencesBalanced(s))
		}
	}
	a := got.Annotations[0]
	if utf8.RuneCountInString(got.Title) > 255 || len(a.RawDetails) > 64<<10 || a.EndLine != 4 ||
		utf8.RuneCountInString(got.Actions[0].Label) > 20 || utf8.RuneCountInString(got.Actions[0].Description) > 40 {
		t.Fatalf("not cut: title %d, raw details %d, action %+v", utf8.RuneCountInString(got.Title), len(a.RawDetails), got.Actions[0])
	}
}

func TestUpsertCheckRunRejectsWhatGitHubWould(t *testing.T) {
	fake := startFake(t, fakegithub.Config{})
	c := installApp(t, fake, 11, 22)
	ok := CheckRun{Name: "n", HeadSHA: "abc"}
	with := func(mod func(*CheckRun)) CheckRun {
		r := ok
		mod(&r)
		return r
	}
	action := CheckAction{Label: "l", Description: "d", Identifier: "i"}
	tests := []struct {
		name    string
		run     CheckRun
		wantErr string
	}{
		{"no name", with(func(r *CheckRun) { r.Name = "" }), "name"},
		{"no head", with(func(r *CheckRun) { r.HeadSHA = "" }), "head SHA"},
		{"unknown status", with(func(r *CheckRun) { r.Status = "done" }), "status"},
		{"unknown conclusion", with(func(r *CheckRun) { r.Conclusion = "stale" }), "conclusion"},
		{"completed without conclusion", with(func(r *CheckRun) { r.Status = "completed" }), "conclusion"},
		{"four actions", with(func(r *CheckRun) { r.Actions = []CheckAction{action, action, action, action} }), "actions"},
		{"long identifier", with(func(r *CheckRun) {
			r.Actions = []CheckAction{{Label: "l", Description: "d", Identifier: strings.Repeat("i", 21)}}
		}), "identifier"},
		{"action without label", with(func(r *CheckRun) { r.Actions = []CheckAction{{Description: "d", Identifier: "i"}} }), "label"},
		{"annotation level", with(func(r *CheckRun) {
			r.Annotations = []Annotation{{Path: "a", StartLine: 1, Level: "error", Message: "m"}}
		}), "level"},
		{"annotation without path", with(func(r *CheckRun) { r.Annotations = []Annotation{{StartLine: 1, Level: "notice", Message: "m"}} }), "path"},
		{"annotation without line", with(func(r *CheckRun) { r.Annotations = []Annotation{{Path: "a", Level: "notice", Message: "m"}} }), "lines"},
		{"annotation ending before it starts", with(func(r *CheckRun) {
			r.Annotations = []Annotation{{Path: "a", StartLine: 5, EndLine: 4, Level: "notice", Message: "m"}}
		}), "lines"},
		{"annotation without message", with(func(r *CheckRun) { r.Annotations = []Annotation{{Path: "a", StartLine: 1, Level: "notice"}} }), "message"},
		{"bad repository name", CheckRun{Name: "n", HeadSHA: "abc"}, "owner/name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := "o/r"
			if tt.wantErr == "owner/name" {
				repo = "o"
			}
			before := len(fake.Calls())
			_, err := c.UpsertCheckRun(t.Context(), repo, tt.run)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("want an error about %s, got %v", tt.wantErr, err)
			}
			if n := len(fake.Calls()) - before; n != 0 {
				t.Fatalf("%d requests sent for a check run GitHub would refuse", n)
			}
		})
	}
}

func FuzzCutMarkdown(f *testing.F) {
	for _, seed := range []string{"", "```\nopen", "é" + strings.Repeat("`", 40) + "\n", "\xff\xfe" + strings.Repeat("x", 300)} {
		f.Add(seed, 100)
	}
	f.Fuzz(func(t *testing.T, text string, limit int) {
		limit = 30 + abs(limit)%500
		got := cutMarkdown(text, limit)
		if len(got) > limit || !utf8.ValidString(got) {
			t.Fatalf("cutMarkdown(%q, %d) = %q", text, limit, got)
		}
		valid := strings.ToValidUTF8(text, "\uFFFD")
		if len(valid) <= limit && got != valid {
			t.Fatalf("cutMarkdown(%q, %d) = %q: changed text that fits", text, limit, got)
		}
		if len(valid) > limit && unclosedFence(got) != "" {
			t.Fatalf("cutMarkdown(%q, %d) = %q: a fence left open", text, limit, got)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
