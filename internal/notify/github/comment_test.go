package github

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gitops-runner/runner/internal/testenv/fakegithub"
)

// bigPlan is n bytes of plan text in 80-character lines.
func bigPlan(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "  + resource line %06d %s\n", i, strings.Repeat("x", 55))
	}
	return b.String()
}

func TestUpsertPlanCommentKeepsOneStickyCommentPerPart(t *testing.T) {
	ctx := context.Background()
	type push struct {
		plan      string
		wantParts int
	}
	for _, tc := range []struct {
		name   string
		pushes []push
	}{
		{"empty plan", []push{{"", 1}}},
		{"small plan edited in place", []push{{smallPlan, 1}, {smallPlan + "# more\n", 1}, {smallPlan, 1}}},
		{"grows to three parts", []push{{smallPlan, 1}, {bigPlan(2*MaxCommentLength + 1000), 3}}},
		{"shrinks from three parts to one", []push{{bigPlan(2*MaxCommentLength + 1000), 3}, {smallPlan, 1}}},
		{"three times the limit", []push{{bigPlan(3 * MaxCommentLength), 4}, {bigPlan(3*MaxCommentLength) + "# x\n", 4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := startFake(t, fakegithub.Config{})
			human := fake.SeedComment("o/r", 3, "alice", "LGTM")
			c := newTestClient(t, fake, nil)
			ids := map[int]int64{} // part -> comment id, which must not change across pushes
			for i, p := range tc.pushes {
				if err := c.UpsertPlanComment(ctx, "o/r", 3, "dev", fmt.Sprintf("push %d", i), p.plan); err != nil {
					t.Fatalf("push %d: %v", i, err)
				}
				var parts []fakegithub.Comment
				for _, cm := range fake.Comments("o/r", 3) {
					if cm.ID == human {
						continue
					}
					parts = append(parts, cm)
				}
				if len(parts) != p.wantParts {
					t.Fatalf("push %d: %d plan comments, want %d", i, len(parts), p.wantParts)
				}
				for j, cm := range parts {
					part, ok := parsePlanMarker(cm.Body, "dev")
					if !ok || part != j+1 {
						t.Fatalf("push %d: comment %d is not part %d", i, j, j+1)
					}
					if len([]rune(cm.Body)) > MaxCommentLength || !fencesBalanced(cm.Body) {
						t.Fatalf("push %d part %d: %d chars, balanced %v", i, part, len(cm.Body), fencesBalanced(cm.Body))
					}
					if old, seen := ids[part]; seen && old != cm.ID {
						t.Fatalf("push %d: part %d was re-created (id %d -> %d) instead of edited", i, part, old, cm.ID)
					}
					ids[part] = cm.ID
				}
				if !strings.Contains(parts[0].Body, fmt.Sprintf("push %d", i)) {
					t.Fatalf("push %d: part 1 does not show the new summary", i)
				}
			}
			if fake.Comments("o/r", 3)[0].Body != "LGTM" {
				t.Fatal("someone else's comment was touched")
			}
		})
	}
}

func TestUpsertPlanCommentSeparatesEnvironmentsAndCleansDuplicates(t *testing.T) {
	ctx := context.Background()
	fake := startFake(t, fakegithub.Config{})
	c := newTestClient(t, fake, nil)
	// A duplicate of part 1 from an earlier race, and a stale part 2.
	fake.SeedComment("o/r", 4, "gitops-runner[bot]", planMarker("dev", 1)+"\nold")
	fake.SeedComment("o/r", 4, "gitops-runner[bot]", planMarker("dev", 1)+"\nolder")
	fake.SeedComment("o/r", 4, "gitops-runner[bot]", planMarker("dev", 2)+"\nstale")
	for _, env := range []string{"dev", "prod", "dev"} {
		if err := c.UpsertPlanComment(ctx, "o/r", 4, env, "summary "+env, smallPlan); err != nil {
			t.Fatal(err)
		}
	}
	cs := fake.Comments("o/r", 4)
	if len(cs) != 2 {
		t.Fatalf("%d comments: %+v", len(cs), cs)
	}
	if _, ok := parsePlanMarker(cs[0].Body, "dev"); !ok || !strings.Contains(cs[0].Body, "summary dev") {
		t.Fatalf("dev comment: %q", cs[0].Body)
	}
	if _, ok := parsePlanMarker(cs[1].Body, "prod"); !ok {
		t.Fatalf("prod comment: %q", cs[1].Body)
	}
	// Re-posting the same plan changes nothing: no edit is sent.
	before := len(fake.Calls())
	if err := c.UpsertPlanComment(ctx, "o/r", 4, "dev", "summary dev", smallPlan); err != nil {
		t.Fatal(err)
	}
	for _, call := range fake.Calls()[before:] {
		if call.Method != "GET" {
			t.Fatalf("unchanged plan sent %s %s", call.Method, call.Path)
		}
	}
	if err := c.UpsertPlanComment(ctx, "o/r", 4, "dev --> x", "", ""); err == nil {
		t.Fatal("env that breaks the marker: want error")
	}
}

func TestUpsertPlanCommentPaginatesPastManyComments(t *testing.T) {
	fake := startFake(t, fakegithub.Config{})
	c := newTestClient(t, fake, nil)
	if err := c.UpsertPlanComment(context.Background(), "o/r", 8, "dev", "first", smallPlan); err != nil {
		t.Fatal(err)
	}
	for i := range 250 {
		fake.SeedComment("o/r", 8, "bob", fmt.Sprint("chatter ", i))
	}
	if err := c.UpsertPlanComment(context.Background(), "o/r", 8, "dev", "second", smallPlan); err != nil {
		t.Fatal(err)
	}
	cs := fake.Comments("o/r", 8)
	if len(cs) != 251 || !strings.Contains(cs[0].Body, "second") {
		t.Fatalf("%d comments; first %q", len(cs), cs[0].Body[:60])
	}
}

// The comment is the last stop before a PR that anyone with read access sees: the configured secrets, the
// client's own token and token-shaped strings are masked out of the summary (output values) and the plan text,
// before the split, so every part still fits.
func TestUpsertPlanCommentMasksSecrets(t *testing.T) {
	const secret = "hooks.slack.example/T0/B0/hunter2"
	for _, tc := range []struct {
		name, summary, plan, leak string
	}{
		{"configured secret in an output value", "- `alerts_webhook` (new): `\"https://" + secret + "\"`", smallPlan, secret},
		{"configured secret in the plan", "summary", smallPlan + "  + url = \"https://" + secret + "\"\n", secret},
		{"client token in the plan", "summary", "  + token = \"" + testToken + "\"\n", testToken},
		{"installation token in the summary", "`ghs_abcdefghijklmnopqrstuvwxyz0123`", smallPlan, "ghs_abcdefghijklmnopqrstuvwxyz0123"},
		{"secret in a plan that splits", "summary", strings.Repeat("  + url = \""+secret+"\"\n", 3*MaxCommentLength/44), secret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := startFake(t, fakegithub.Config{})
			c := newTestClient(t, fake, func(o *Options) { o.Secrets = []string{secret} })
			if err := c.UpsertPlanComment(context.Background(), "o/r", 5, "dev", tc.summary, tc.plan); err != nil {
				t.Fatal(err)
			}
			cs := fake.Comments("o/r", 5)
			if len(cs) == 0 {
				t.Fatal("no comment posted")
			}
			for i, cm := range cs {
				if strings.Contains(cm.Body, tc.leak) {
					t.Errorf("comment %d leaks %q", i+1, tc.leak)
				}
				if len([]rune(cm.Body)) > MaxCommentLength {
					t.Errorf("comment %d: %d chars", i+1, len([]rune(cm.Body)))
				}
			}
		})
	}
}
