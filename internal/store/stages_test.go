package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func testEnsureStagesCreatesPendingStagesInOrder(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	id := accept(t, s, "d-1", "acme/infra")
	keys := []StageKey{{"", "clone"}, {"dev", "plan"}, {"dev", "apply"}, {"prod", "plan"}}
	stages, err := s.EnsureStages(ctx, id, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != len(keys) {
		t.Fatalf("stages = %+v, want %d", stages, len(keys))
	}
	for i, st := range stages {
		if (StageKey{st.Env, st.Name}) != keys[i] || st.Seq != i || st.Status != StagePending || st.RunID != id ||
			st.Attempts != 0 || !st.Started.IsZero() || st.Output != nil {
			t.Errorf("stage %d = %+v, want pending %v", i, st, keys[i])
		}
	}
}

func testEnsureStagesAgainKeepsOutcomes(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	id := accept(t, s, "d-1", "acme/infra")
	keys := []StageKey{{"", "clone"}, {"dev", "plan"}}
	first, err := s.EnsureStages(ctx, id, keys)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StartStage(ctx, first[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishStage(ctx, first[0].ID, StageSucceeded, "cloned abc123", map[string]string{"sha": "abc123"}); err != nil {
		t.Fatal(err)
	}
	// A re-run after a crash asks for the same stages (and may add one).
	again, err := s.EnsureStages(ctx, id, append(keys, StageKey{"dev", "apply"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 3 {
		t.Fatalf("stages after second call = %+v, want 3", again)
	}
	if again[0].ID != first[0].ID || again[0].Status != StageSucceeded || again[0].Detail != "cloned abc123" ||
		again[0].Output["sha"] != "abc123" || again[0].Attempts != 1 {
		t.Errorf("clone after second call = %+v, want its outcome kept", again[0])
	}
	if again[1].ID != first[1].ID || again[1].Status != StagePending {
		t.Errorf("plan after second call = %+v", again[1])
	}
	if again[2].Env != "dev" || again[2].Name != "apply" || again[2].Status != StagePending {
		t.Errorf("new stage = %+v", again[2])
	}
	// Another run's stages are its own.
	other := accept(t, s, "d-2", "acme/infra")
	if st, err := s.EnsureStages(ctx, other, keys); err != nil || len(st) != 2 || st[0].ID == first[0].ID || st[0].Status != StagePending {
		t.Errorf("other run's stages = %+v, %v", st, err)
	}
}

func testStageLifecycle(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t)
	id := accept(t, s, "d-1", "acme/infra")
	stages, err := s.EnsureStages(ctx, id, []StageKey{{"prod", "apply"}})
	if err != nil {
		t.Fatal(err)
	}
	sid := stages[0].ID
	get := func() Stage {
		t.Helper()
		st, err := s.Stage(ctx, sid)
		if err != nil {
			t.Fatalf("Stage(%d): %v", sid, err)
		}
		return st
	}

	c.Advance(time.Second)
	if err := s.StartStage(ctx, sid); err != nil {
		t.Fatal(err)
	}
	if st := get(); st.Status != StageRunning || st.Attempts != 1 || !st.Started.Equal(c.Now()) || !st.Finished.IsZero() {
		t.Errorf("after StartStage: %+v", st)
	}

	if err := s.WaitStage(ctx, sid, "lock held by run 3"); err != nil {
		t.Fatal(err)
	}
	if st := get(); st.Status != StageWaiting || st.WaitingFor != "lock held by run 3" {
		t.Errorf("after WaitStage: %+v", st)
	}

	c.Advance(time.Minute)
	restarted := c.Now()
	if err := s.StartStage(ctx, sid); err != nil {
		t.Fatal(err)
	}
	if st := get(); st.Status != StageRunning || st.WaitingFor != "" || st.Attempts != 2 || !st.Started.Equal(restarted) {
		t.Errorf("after second StartStage: %+v", st)
	}

	c.Advance(time.Minute)
	out := map[string]string{"add": "2", "plan_file": "prod.tfplan"}
	if err := s.FinishStage(ctx, sid, StageSucceeded, "2 to add", out); err != nil {
		t.Fatal(err)
	}
	st := get()
	if st.Status != StageSucceeded || st.Detail != "2 to add" || !reflect.DeepEqual(st.Output, out) ||
		!st.Finished.Equal(c.Now()) || !st.Started.Equal(restarted) {
		t.Errorf("after FinishStage: %+v", st)
	}

	// A re-run clears the finish time; finishing without outputs leaves none.
	if err := s.StartStage(ctx, sid); err != nil {
		t.Fatal(err)
	}
	if st := get(); !st.Finished.IsZero() || st.Detail != "" {
		t.Errorf("after restart: %+v, want finish time and detail cleared", st)
	}
	if err := s.FinishStage(ctx, sid, StageFailed, "boom", nil); err != nil {
		t.Fatal(err)
	}
	if st := get(); st.Status != StageFailed || st.Output != nil {
		t.Errorf("after failing: %+v, want no outputs", st)
	}
}

func testStageNotFound(t *testing.T) {
	s, _ := newStore(t)
	if _, err := s.Stage(context.Background(), 99); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stage(99) error = %v, want ErrNotFound", err)
	}
}

func testStageLogs(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t)
	id := accept(t, s, "d-1", "acme/infra")
	stages, err := s.EnsureStages(ctx, id, []StageKey{{"dev", "plan"}, {"prod", "plan"}})
	if err != nil {
		t.Fatal(err)
	}
	dev, prod := stages[0].ID, stages[1].ID
	if err := s.AppendLog(ctx, dev, nil); err != nil {
		t.Fatalf("AppendLog(nil): %v", err)
	}
	if err := s.AppendLog(ctx, dev, []string{"a", "b", "c"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLog(ctx, prod, []string{"other"}); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	if err := s.AppendLog(ctx, dev, []string{"d", "e"}); err != nil {
		t.Fatal(err)
	}

	all, err := s.Log(ctx, dev, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := lineTexts(all); !reflect.DeepEqual(got, []string{"a", "b", "c", "d", "e"}) {
		t.Fatalf("Log(after 0) = %q", got)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Errorf("line ids not increasing: %d then %d", all[i-1].ID, all[i].ID)
		}
	}
	if !all[4].At.Equal(c.Now()) {
		t.Errorf("line e at %v, want %v", all[4].At, c.Now())
	}

	for _, tc := range []struct {
		name  string
		after int64
		limit int
		want  []string
	}{
		{"after the second line", all[1].ID, 0, []string{"c", "d", "e"}},
		{"after the last line", all[4].ID, 0, nil},
		{"limit", 0, 2, []string{"a", "b"}},
		{"after and limit", all[0].ID, 2, []string{"b", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines, err := s.Log(ctx, dev, tc.after, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := lineTexts(lines); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Log = %q, want %q", got, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		n    int
		want []string
	}{
		{1, []string{"e"}},
		{3, []string{"c", "d", "e"}},
		{50, []string{"a", "b", "c", "d", "e"}},
	} {
		tail, err := s.LogTail(ctx, dev, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(tail, tc.want) {
			t.Errorf("LogTail(%d) = %q, want %q", tc.n, tail, tc.want)
		}
	}
	if tail, err := s.LogTail(ctx, prod, 10); err != nil || !reflect.DeepEqual(tail, []string{"other"}) {
		t.Errorf("prod tail = %q, %v", tail, err)
	}
}

func lineTexts(lines []LogLine) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Line)
	}
	return out
}

func TestEnsureStagesCreatesPendingStagesInOrder(t *testing.T) {
	bothDrivers(t, testEnsureStagesCreatesPendingStagesInOrder)
}
func TestEnsureStagesAgainKeepsOutcomes(t *testing.T) {
	bothDrivers(t, testEnsureStagesAgainKeepsOutcomes)
}
func TestStageLifecycle(t *testing.T) { bothDrivers(t, testStageLifecycle) }
func TestStageNotFound(t *testing.T)  { bothDrivers(t, testStageNotFound) }
func TestStageLogs(t *testing.T)      { bothDrivers(t, testStageLogs) }

func TestStageLogsOfManyLines(t *testing.T) { bothDrivers(t, testStageLogsOfManyLines) }

// A plan's output is thousands of lines, appended many to a statement: they come back whole and in order.
func testStageLogsOfManyLines(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	id := accept(t, s, "d-1", "acme/infra")
	stages, err := s.EnsureStages(ctx, id, []StageKey{{"dev", "plan"}})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 2*logRowsPerInsert + 57 {
		want = append(want, fmt.Sprintf("line %d: it's \"quoted\", (and has ?, $1 and commas)", i))
	}
	if err := s.AppendLog(ctx, stages[0].ID, want[:3]); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendLog(ctx, stages[0].ID, want[3:]); err != nil {
		t.Fatal(err)
	}
	got, err := s.Log(ctx, stages[0].ID, 0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines back, want %d", len(got), len(want))
	}
	for i, l := range got {
		if l.Line != want[i] || (i > 0 && l.ID <= got[i-1].ID) {
			t.Fatalf("line %d: %q (id %d), want %q in order", i, l.Line, l.ID, want[i])
		}
	}
}
