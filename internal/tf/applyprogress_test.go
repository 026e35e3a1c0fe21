package tf

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestApplyProgressIsThrottled(t *testing.T) {
	t.Parallel()
	complete := func(addr, what string) string { return addr + ": " + what + " complete after 1s [id=x]\n" }
	for _, tc := range []struct {
		name    string
		planned int
		every   time.Duration
		step    time.Duration // clock advance per output line
		lines   []string
		want    []string
	}{
		{"each tenth of a small plan", 4, time.Hour, time.Millisecond,
			[]string{complete("a.x", "Creation"), "a.y: Creating...\n", complete("a.y", "Modifications"), complete("a.z", "Destruction"), complete("a.w", "Creation")},
			[]string{"apply: 1/4 resources", "apply: 2/4 resources", "apply: 3/4 resources", "apply: 4/4 resources"}},
		{"a large plan: every tenth, not every resource", 40, time.Hour, time.Millisecond,
			nCreates(40), []string{"apply: 4/40 resources", "apply: 8/40 resources", "apply: 12/40 resources", "apply: 16/40 resources",
				"apply: 20/40 resources", "apply: 24/40 resources", "apply: 28/40 resources", "apply: 32/40 resources",
				"apply: 36/40 resources", "apply: 40/40 resources"}},
		{"between tenths, every few seconds", 100, 5 * time.Second, 2 * time.Second,
			nCreates(7), []string{"apply: 3/100 resources", "apply: 6/100 resources", "apply: 7/100 resources"}},
		{"a replaced resource counts once", 2, time.Hour, time.Millisecond,
			[]string{complete("r.a", "Destruction"), complete("r.a", "Creation"), complete("r.b", "Creation")},
			[]string{"apply: 1/2 resources", "apply: 2/2 resources"}},
		{"unknown plan size: counts only", 0, 5 * time.Second, 3 * time.Second,
			nCreates(3), []string{"apply: 2 resources done", "apply: 3 resources done"}},
		{"colored output", 1, time.Hour, time.Millisecond,
			[]string{"\x1b[0m\x1b[1mnull_resource.a: Creation complete after 0s [id=1]\x1b[0m\n"}, []string{"apply: 1/1 resources"}},
		{"other lines are not completions", 3, time.Millisecond, time.Second,
			[]string{"a.x: Still creating... [10s elapsed]\n", "Plan: 3 to add\n", "  # a.x: Creation complete after 1s (quoted in a diff)\n"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log := &syncBuffer{}
			now := time.Unix(0, 0)
			p := newApplyProgress(&stageLog{w: log}, applyConfig{planned: tc.planned, every: tc.every, now: func() time.Time { return now }})
			for _, l := range tc.lines {
				now = now.Add(tc.step)
				p.line([]byte(l))
			}
			p.finish()
			got := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
			if log.String() == "" {
				got = nil
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("progress lines\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func nCreates(n int) []string {
	var out []string
	for i := range n {
		out = append(out, "null_resource.r["+string(rune('A'+i%26))+strings.Repeat("x", i/26)+"]: Creation complete after 0s [id=1]\n")
	}
	return out
}

// Apply passes Terraform's own lines through and adds the count of resources done out of the plan.
func TestApplyLogsResourcesDoneOutOfPlanned(t *testing.T) {
	f := newFake(t)
	w, log := f.workspace(t, "dev", "apply-progress", nil)
	if err := w.Apply(context.Background(), "out.tfplan", Planned(4), ProgressEvery(time.Hour)); err != nil {
		t.Fatal(err)
	}
	out := log.String()
	for _, want := range []string{
		"null_resource.a: Creation complete after 0s [id=a]\napply: 1/4 resources\n",
		"null_resource.d: Creation complete after 0s [id=d]\napply: 4/4 resources\n",
		"Apply complete! Resources: 4 added",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stage log lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "apply: 4/4") != 1 {
		t.Errorf("the final count is written once:\n%s", out)
	}
}
