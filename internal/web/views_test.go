package web

import (
	"testing"
	"time"

	"github.com/gitops-runner/runner/internal/store"
)

func TestGitHubLinks(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct{ name, got, want string }{
		{"commit", commitURL("acme/infra", sha), "https://github.com/acme/infra/commit/" + sha},
		{"commit of a non-hex sha", commitURL("acme/infra", "main"), ""},
		{"commit of a repo that is a URL", commitURL("javascript:alert(1)//x", sha), ""},
		{"pull request", pullURL("acme/infra.live", 42), "https://github.com/acme/infra.live/pull/42"},
		{"no pull request", pullURL("acme/infra", 0), ""},
		{"compare", compareURL("acme/infra", "abcdef1", sha), "https://github.com/acme/infra/compare/abcdef1..." + sha},
		{"compare of a ref", compareURL("acme/infra", "main", sha), ""},
		{"deployments of an env", deploymentsURL("acme/infra", "prod eu"), "https://github.com/acme/infra/deployments?environment=prod+eu"},
		{"a repo with a path", githubURL("acme/../x", "pull"), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestPlans(t *testing.T) {
	stages := []store.Stage{
		{ID: 1, Env: "dev", Name: "plan", Output: map[string]string{"summary": "1 to add, 2 to change, 3 to destroy, 4 to replace",
			"fingerprint": `[{"address":"a.b","actions":"create,delete"},{"address":"c.d","actions":"update"}]`}},
		{ID: 2, Env: "prod", Name: "plan", Output: map[string]string{"summary": "no changes"}},
		{ID: 3, Env: "qa", Name: "plan", Output: map[string]string{"summary": "1 to add, 0 to change, 0 to destroy"}},
		{ID: 4, Env: "dev", Name: "apply", Output: map[string]string{"summary": "ignored"}},
		{ID: 5, Env: "stg", Name: "plan", Output: map[string]string{"summary": "something else", "fingerprint": "not json"}},
	}
	got := plans("acme/infra", stages)
	if len(got) != 4 {
		t.Fatalf("%d plans, want 4: %+v", len(got), got)
	}
	if p := got[0]; !p.Parsed || p.Add != 1 || p.Change != 2 || p.Destroy != 3 || p.Replace != 4 || len(p.Replacements) != 1 || p.Replacements[0] != "a.b" {
		t.Errorf("dev = %+v", p)
	}
	if p := got[1]; !p.NoChanges {
		t.Errorf("prod = %+v", p)
	}
	if p := got[2]; !p.Parsed || p.Add != 1 || p.Replace != 0 {
		t.Errorf("qa = %+v", p)
	}
	if p := got[3]; p.Parsed || p.Summary != "something else" {
		t.Errorf("stg = %+v", p)
	}
}

func TestTimeline(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	got := timeline([]store.Stage{
		{Status: store.StageSucceeded, Started: t0, Finished: t0.Add(10 * time.Second)},
		{Status: store.StageSucceeded, Started: t0.Add(10 * time.Second), Finished: t0.Add(40 * time.Second)},
		{Status: store.StagePending},
	}, t0.Add(time.Hour))
	want := [][2]int{{0, 250}, {250, 750}, {0, 0}}
	for i, w := range want {
		if got[i].Offset != w[0] || got[i].Width != w[1] {
			t.Errorf("stage %d at %d width %d, want %v", i, got[i].Offset, got[i].Width, w)
		}
	}
	if got[0].Duration != "10s" || got[1].Duration != "30s" || got[2].Duration != "" || !got[2].Live || got[0].Live {
		t.Errorf("durations %q %q %q", got[0].Duration, got[1].Duration, got[2].Duration)
	}
	if h := human(3*time.Minute + 4*time.Second); h != "3m04s" {
		t.Errorf("human = %q", h)
	}
}
