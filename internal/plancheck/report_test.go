package plancheck

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMarkdown(t *testing.T) {
	s3 := Result{Package: "terraform.s3_encryption", Rule: "deny", Message: "aws_s3_bucket.logs has no encryption", Fail: true}
	tags := Result{Package: "tags", Rule: "warn_owner", Message: "aws_iam_role.deployer has no owner tag"}
	tests := []struct {
		name   string
		report Report
		want   string
	}{
		{
			name:   "clean",
			report: Report{Policies: 3},
			want:   "#### Policy check\n\nAll 3 policies passed.\n",
		},
		{
			name:   "clean, one",
			report: Report{Policies: 1},
			want:   "#### Policy check\n\nAll 1 policy passed.\n",
		},
		{
			name:   "no policies",
			report: Report{},
			want:   "#### Policy check\n\nNo policies: no package has a deny, violation or warn rule.\n",
		},
		{
			name:   "failures and warnings",
			report: Report{Policies: 2, Results: []Result{s3, s3, tags}},
			want: "#### Policy check failed: 2 failures, 1 warning\n\n" +
				"| | Policy | Message |\n| --- | --- | --- |\n" +
				"| ❌ fail | terraform.s3\\_encryption.deny | aws\\_s3\\_bucket.logs has no encryption |\n" +
				"| ❌ fail | terraform.s3\\_encryption.deny | aws\\_s3\\_bucket.logs has no encryption |\n" +
				"| ⚠️ warn | tags.warn\\_owner | aws\\_iam\\_role.deployer has no owner tag |\n",
		},
		{
			name:   "warnings only",
			report: Report{Policies: 2, Results: []Result{tags}},
			want: "#### Policy check passed with 1 warning\n\n" +
				"| | Policy | Message |\n| --- | --- | --- |\n" +
				"| ⚠️ warn | tags.warn\\_owner | aws\\_iam\\_role.deployer has no owner tag |\n",
		},
		{
			name:   "omitted",
			report: Report{Policies: 1, Results: []Result{s3}, Omitted: 7},
			want: "#### Policy check failed: 1 failure (and 7 more)\n\n" +
				"| | Policy | Message |\n| --- | --- | --- |\n" +
				"| ❌ fail | terraform.s3\\_encryption.deny | aws\\_s3\\_bucket.logs has no encryption |\n" +
				"\n_7 more not shown._\n",
		},
		{
			name: "hostile text",
			report: Report{Policies: 1, Results: []Result{{
				Package: `p["x|y"]`, Rule: "deny", Fail: true,
				Message: "| ❌ fail | forged |\n\n## Approved <img src=x onerror=alert(1)> @org/admins #12 " +
					"[click](https://evil.example) ![i](https://evil.example/i.png) `code` **b** ~~s~~ &#64;me " +
					"\u202eevil\u200b\r\n<!-- gitops-runner:plan env=prod part=1 -->\\",
			}}},
			want: "#### Policy check failed: 1 failure\n\n| | Policy | Message |\n| --- | --- | --- |\n" +
				"| ❌ fail | p\\[\"x\\|y\"\\].deny | " +
				"\\| ❌ fail \\| forged \\|  " +
				"#\u200b#\u200b Approved &lt;img src=x onerror=alert\\(1\\)&gt; @\u200borg/admins #\u200b12 " +
				"\\[click\\]\\(https://evil.example\\) \\!\\[i\\]\\(https://evil.example/i.png\\) \\`code\\` \\*\\*b\\*\\* \\~\\~s\\~\\~ &amp;#\u200b64;me " +
				"evil  &lt;\\!-- gitops-runner:plan env=prod part=1 --&gt;\\\\ |\n",
		},
		{
			name:   "empty message",
			report: Report{Policies: 1, Results: []Result{{Package: "p", Rule: "deny", Message: " \n", Fail: true}}},
			want: "#### Policy check failed: 1 failure\n\n| | Policy | Message |\n| --- | --- | --- |\n" +
				"| ❌ fail | p.deny | — |\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.report.Markdown(); got != tt.want {
				t.Errorf("Markdown():\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestMarkdownLength: the most results, the longest messages, every character escaped, still fit.
func TestMarkdownLength(t *testing.T) {
	report, err := check(t, "package p\nlong := concat(\"\", [\"<\" | some _ in numbers.range(1, 2000)])\n"+
		"deny contains concat(\"\", [sprintf(\"%03d\", [i]), long]) if some i in numbers.range(1, 300)")
	if err != nil {
		t.Fatal(err)
	}
	md := report.Markdown()
	if len(md) > MaxMarkdownLength || !utf8.ValidString(md) {
		t.Fatalf("Markdown: %d bytes, more than %d (or invalid UTF-8)", len(md), MaxMarkdownLength)
	}
	rows := strings.Count(md, "\n| ❌ fail |")
	if rows == 0 || !strings.HasSuffix(md, "\n_"+strconv.Itoa(300-rows)+" more not shown._\n") ||
		!strings.HasPrefix(md, "#### Policy check failed: 200 failures (and 100 more)\n") {
		t.Errorf("%d rows; Markdown starts %q, ends %q", rows, md[:80], md[len(md)-40:])
	}
}

// TestMarkdownCheck: a check's Markdown, end to end.
func TestMarkdownCheck(t *testing.T) {
	mods := examplePolicies(t)
	for plan, want := range map[string]string{
		"testdata/plan_encrypted.json": "#### Policy check\n\nAll 1 policy passed.\n",
		"testdata/plan_unencrypted.json": "#### Policy check failed: 1 failure\n\n| | Policy | Message |\n| --- | --- | --- |\n" +
			"| ❌ fail | terraform.s3\\_encryption.deny | aws\\_s3\\_bucket.logs has no server-side encryption: add an " +
			"aws\\_s3\\_bucket\\_server\\_side\\_encryption\\_configuration for it |\n",
	} {
		report, err := Check(context.Background(), mods, readFile(t, plan), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := report.Markdown(); got != want {
			t.Errorf("%s: Markdown():\n%s\nwant:\n%s", plan, got, want)
		}
	}
}
