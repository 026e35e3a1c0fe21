package github

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Fatalf("%s differs from golden file:\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

const smallPlan = `Terraform will perform the following actions:

  # aws_ecs_service.api will be updated in-place
  ~ resource "aws_ecs_service" "api" {
      ~ task_definition = "api:41" -> "api:42"
    }

Plan: 0 to add, 1 to change, 0 to destroy.
`

func TestRenderPlanGolden(t *testing.T) {
	for _, tc := range []struct {
		name, env, summary, plan string
		limit                    int
	}{
		{"plan_empty", "dev", "**No changes.** Infrastructure matches the configuration.", "", MaxCommentLength},
		{"plan_small", "dev", "**Plan:** 0 to add, 1 to change, 0 to destroy.", smallPlan, MaxCommentLength},
		{"plan_backticks", "prod", "", "+ user_data = <<-EOT\n    ```\n    echo hi\n    ````\n  EOT\n", MaxCommentLength},
		{"plan_split", "staging", "**Plan:** 3 to add.", strings.Repeat(smallPlan, 4), 900},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts, err := renderPlan(tc.env, tc.summary, tc.plan, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, strings.Join(parts, "\n=====8<===== next comment =====8<=====\n"))
		})
	}
}

func TestRenderDeployGolden(t *testing.T) {
	golden(t, "deploy", renderDeploy("0123abc", "Deployed `0123abc` to **dev**, **staging**.\n\n[Run](https://runner/runs/7)", MaxCommentLength))
}

// chunk returns the plan text inside a rendered part.
func chunk(t *testing.T, body string) string {
	t.Helper()
	start := strings.Index(body, "diff\n")
	end := strings.LastIndex(body, "\n</details>")
	if start < 0 || end < 0 {
		t.Fatalf("no plan block in %q", body[:min(len(body), 300)])
	}
	inner := body[start+len("diff\n") : end]
	inner = strings.TrimSuffix(inner, "\n")
	i := strings.LastIndex(inner, "\n")
	return inner[:max(i, 0)]
}

// fencesBalanced checks every fence opened is closed with the same fence, the rule GitHub's Markdown follows.
func fencesBalanced(body string) bool {
	open := ""
	for _, line := range strings.Split(body, "\n") {
		trim := strings.TrimLeft(line, " ")
		n := len(trim) - len(strings.TrimLeft(trim, "`"))
		if n < 3 {
			continue
		}
		switch {
		case open == "":
			open = trim[:n]
		case n >= len(open) && strings.TrimSpace(trim[n:]) == "":
			open = ""
		}
	}
	return open == ""
}

func TestRenderPlanSplitsAtTheLimit(t *testing.T) {
	overhead := func(summary string) int {
		parts, err := renderPlan("dev", summary, "x", MaxCommentLength)
		if err != nil {
			t.Fatal(err)
		}
		return len(parts[0]) - 1
	}
	summary := "**Plan:** 1 to add."
	lines := func(total int) string {
		// lines of 99 chars + newline, the last one padded so the text is exactly total bytes
		var b strings.Builder
		for b.Len()+100 < total {
			b.WriteString(strings.Repeat("+", 99) + "\n")
		}
		b.WriteString(strings.Repeat("~", total-b.Len()))
		return b.String()
	}
	atLimit := MaxCommentLength - overhead(summary)

	for _, tc := range []struct {
		name      string
		plan      string
		wantParts int
		joinWith  string
	}{
		{"empty", "", 1, "\n"},
		{"small", smallPlan, 1, "\n"},
		{"exactly at limit", lines(atLimit), 1, "\n"},
		{"one byte over", lines(atLimit + 1), 2, "\n"},
		{"three times the limit", lines(3 * MaxCommentLength), 4, "\n"},
		{"one line three times the limit", strings.Repeat("a", 3*MaxCommentLength), 4, ""},
		{"multibyte line", strings.Repeat("é", MaxCommentLength), 3, ""},
		{"backtick runs", strings.Repeat("``````\n", 3*MaxCommentLength/7), 4, "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts, err := renderPlan("dev", summary, tc.plan, MaxCommentLength)
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != tc.wantParts {
				t.Fatalf("%d parts, want %d", len(parts), tc.wantParts)
			}
			var chunks []string
			for i, p := range parts {
				if len(p) > MaxCommentLength {
					t.Errorf("part %d is %d bytes", i+1, len(p))
				}
				if !strings.HasPrefix(p, planMarker("dev", i+1)+"\n") {
					t.Errorf("part %d lacks its marker", i+1)
				}
				if !fencesBalanced(p) {
					t.Errorf("part %d has unbalanced fences", i+1)
				}
				if len(parts) > 1 && !strings.Contains(p, fmt.Sprintf("part %d of %d", i+1, len(parts))) {
					t.Errorf("part %d does not say part %d of %d", i+1, i+1, len(parts))
				}
				if (i == 0) != strings.Contains(p, summary) {
					t.Errorf("summary in part %d: %v", i+1, i != 0)
				}
				if tc.plan != "" {
					chunks = append(chunks, chunk(t, p))
				}
			}
			if got := strings.Join(chunks, tc.joinWith); got != strings.TrimRight(tc.plan, "\n") {
				t.Errorf("parts do not add up to the plan: %d bytes vs %d", len(got), len(tc.plan))
			}
		})
	}
}

func TestPlanMarkerRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		body, env string
		part      int
		ok        bool
	}{
		{planMarker("dev", 1) + "\nbody", "dev", 1, true},
		{planMarker("dev", 12), "dev", 12, true},
		{planMarker("dev-eu", 2), "dev", 0, false},
		{"quoted " + planMarker("dev", 1), "dev", 0, false},
		{"<!-- gitops-runner:plan env=dev part=x -->", "dev", 0, false},
	} {
		part, ok := parsePlanMarker(tc.body, tc.env)
		if part != tc.part || ok != tc.ok {
			t.Errorf("parsePlanMarker(%q, %q) = %d, %v", tc.body, tc.env, part, ok)
		}
	}
}

func TestRenderDeployTruncatesAndClosesFence(t *testing.T) {
	body := "log:\n```\n" + strings.Repeat("line\n", MaxCommentLength)
	got := renderDeploy("abc", body, MaxCommentLength)
	if len(got) > MaxCommentLength || !fencesBalanced(got) || !strings.HasSuffix(got, "_(truncated)_\n") {
		t.Fatalf("len %d balanced %v tail %q", len(got), fencesBalanced(got), got[len(got)-40:])
	}
}

// A summary that leaves a code fence open (a failed plan's error cut at maxSummaryLength, or an error that
// itself holds a fence) must not swallow the rest of the comment: the plan block and its <details>.
func TestRenderPlanClosesAFenceTheSummaryLeavesOpen(t *testing.T) {
	failed := func(errText string) string { return "### Plan failed\n\n```\n" + errText + "\n```\n" }
	for _, tc := range []struct {
		name, summary, plan string
	}{
		{"long error cut, no plan", failed(strings.Repeat("Error: Unsupported argument on main.tf line 3\n", 1000)), ""},
		{"long error cut, with plan", failed(strings.Repeat("Error: Unsupported argument on main.tf line 3\n", 1000)), smallPlan},
		{"long error cut, split plan", failed(strings.Repeat("Error: Unsupported argument on main.tf line 3\n", 1000)), bigPlan(2 * MaxCommentLength)},
		{"error holding a fence", failed("heredoc:\n```\necho hi"), smallPlan},
		{"longer fence cut", "````\n" + strings.Repeat("x\n", maxSummaryLength), smallPlan},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts, err := renderPlan("dev", tc.summary, tc.plan, MaxCommentLength)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range parts {
				if len(p) > MaxCommentLength {
					t.Errorf("part %d is %d bytes", i+1, len(p))
				}
				if !fencesBalanced(p) {
					t.Errorf("part %d has unbalanced fences; it ends:\n%s", i+1, p[max(0, len(p)-200):])
				}
				// The plan's own fence must not be what closes the summary's.
				if head, _, ok := strings.Cut(p, "<details>"); ok && !fencesBalanced(head) {
					t.Errorf("part %d: the summary leaves a fence open over the plan block:\n%s", i+1, head[max(0, len(head)-200):])
				}
			}
		})
	}
}
