package pipeline

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/testenv/fixture"
	"github.com/gitops-runner/runner/internal/tf"
)

// fakeSlack records the stories opened and what they showed.
type fakeSlack struct {
	mu      sync.Mutex
	stories []*fakeStory
}

func (f *fakeSlack) Story(channel string, resume SlackMessage) SlackStory {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &fakeStory{channel: channel}
	f.stories = append(f.stories, s)
	return s
}

func (f *fakeSlack) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.stories)
}

type fakeStory struct {
	mu      sync.Mutex
	channel string
	views   []DeployView
	tail    []string
	closed  bool
}

func (s *fakeStory) Update(d DeployView) { s.mu.Lock(); s.views = append(s.views, d); s.mu.Unlock() }
func (s *fakeStory) Failure(st StageView, tail []string) {
	s.mu.Lock()
	s.tail = append(s.tail, tail...)
	s.mu.Unlock()
}
func (s *fakeStory) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}
func (s *fakeStory) Message() SlackMessage { return SlackMessage{Channel: s.channel, TS: "1.1"} }

func TestDriftCheck(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, fixture.Options{Environments: []string{"dev"}, NoApps: true}, nil, nil)
	obs, slack := &recordingObserver{}, &fakeSlack{}
	h.with(func(d *Deps) { d.Observer, d.Slack = obs, slack })
	head, err := h.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	sg := tf.DriftedResource{Address: "aws_security_group.api", Action: tf.ActionUpdate,
		Attributes: []tf.AttributeChange{{Path: "description", Before: `"api"`, After: `"edited in the console"`}}}
	check := func() (store.Run, store.DriftCheck) {
		t.Helper()
		id := h.accept(event.Event{Name: "drift", Kind: event.KindDrift, SHA: head, Envs: []string{"dev"}, Ref: "refs/heads/main", RequestedBy: "schedule"})
		if err := h.e.Execute(ctx, id); err != nil {
			t.Fatal(err)
		}
		c, err := h.st.LastDriftCheck(ctx, testRepo, "dev")
		if err != nil {
			t.Fatal(err)
		}
		return h.run(id), c
	}
	steps := []struct {
		name       string
		drift      []tf.DriftedResource
		resources  []tf.ResourceChange
		drifted    bool
		slack      int // stories opened so far
		detailHas  string
		reportHas  string
		reportLack string
	}{
		{name: "drift found: reported", drift: []tf.DriftedResource{sg}, drifted: true, slack: 1,
			detailHas: "1 resource(s) changed outside Terraform", reportHas: "edited in the console"},
		{name: "the same drift again: not reported again", drift: []tf.DriftedResource{sg}, drifted: true, slack: 1},
		{name: "other drift: reported", drift: []tf.DriftedResource{sg, {Address: "aws_s3_bucket.logs", Action: tf.ActionDelete}},
			drifted: true, slack: 2, detailHas: "2 resource(s) changed outside Terraform"},
		{name: "no drift", drifted: false, slack: 2, detailHas: "no drift"},
		{name: "the deployed code would change something", resources: []tf.ResourceChange{{Address: "terraform_data.a", Action: tf.ActionUpdate}},
			drifted: true, slack: 3, detailHas: "1 resource(s) the deployed code would change"},
	}
	for _, st := range steps {
		h.tf.mu.Lock()
		h.tf.drift, h.tf.resources = st.drift, st.resources
		h.tf.mu.Unlock()
		run, c := check()
		if run.Status != store.StatusSucceeded {
			t.Fatalf("%s: run %s: %s", st.name, run.Status, run.Error)
		}
		if c.Drifted != st.drifted || c.SHA != head || c.RunID != run.ID {
			t.Errorf("%s: check %+v", st.name, c)
		}
		if got := slack.count(); got != st.slack {
			t.Errorf("%s: %d Slack messages, want %d", st.name, got, st.slack)
		}
		if s := h.stage(run.ID, "dev", StageDrift); !strings.Contains(s.Detail, st.detailHas) {
			t.Errorf("%s: stage detail %q lacks %q", st.name, s.Detail, st.detailHas)
		}
		if st.reportHas != "" && !strings.Contains(c.Report, st.reportHas) {
			t.Errorf("%s: report %s lacks %q", st.name, c.Report, st.reportHas)
		}
	}
	// The plan ran with plan credentials (read-only), never applied.
	if _, applies := h.tf.calls(); len(applies) != 0 {
		t.Errorf("a drift check applied: %v", applies)
	}
	want := []string{"dev true", "dev true", "dev true", "dev false", "dev true"}
	if !slices.Equal(obs.drift, want) {
		t.Errorf("observer saw %v, want %v", obs.drift, want)
	}
	first := slack.stories[0]
	if len(first.views) == 0 || first.views[0].Title != "Drift in" || !first.closed ||
		!slices.ContainsFunc(first.tail, func(l string) bool { return strings.Contains(l, "description") }) {
		t.Errorf("Slack story %+v", first)
	}
}
