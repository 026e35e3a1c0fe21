package github

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRenderPlan checks the invariants of every split: each part fits, carries its marker, and keeps its fences
// balanced, whatever the plan text holds.
func FuzzRenderPlan(f *testing.F) {
	for _, seed := range []string{"", smallPlan, "```\n````\n", strings.Repeat("a", 1600), "\xff\x80\x80" + strings.Repeat("\x80", 2000), "é\n\n\nü" + strings.Repeat("`", 40)} {
		f.Add(seed)
	}
	const limit = 1500
	f.Fuzz(func(t *testing.T, plan string) {
		parts, err := renderPlan("dev", "**summary**", plan, limit)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range parts {
			if len(p) > limit {
				t.Fatalf("part %d: %d bytes", i+1, len(p))
			}
			if n, ok := parsePlanMarker(p, "dev"); !ok || n != i+1 {
				t.Fatalf("part %d: marker %d %v", i+1, n, ok)
			}
			if !fencesBalanced(p) {
				t.Fatalf("part %d: unbalanced fences:\n%s", i+1, p)
			}
			if !utf8.ValidString(p) {
				t.Fatalf("part %d: cut inside a rune", i+1)
			}
		}
	})
}

// FuzzParsePlanMarker: comment bodies come from anyone on the PR; parsing must not panic and must only accept
// exactly our marker.
func FuzzParsePlanMarker(f *testing.F) {
	f.Add(planMarker("dev", 1) + "\nbody")
	f.Add("<!-- gitops-runner:plan env=dev part=-1 -->")
	f.Fuzz(func(t *testing.T, body string) {
		if part, ok := parsePlanMarker(body, "dev"); ok && (part < 1 || !strings.HasPrefix(body, "<!-- gitops-runner:plan env=dev part=")) {
			t.Fatalf("accepted %q as part %d", body, part)
		}
	})
}
