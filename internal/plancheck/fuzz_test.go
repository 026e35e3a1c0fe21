package plancheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCheck: whatever the plan JSON, Check returns a report or an error, never panics, and the report's
// Markdown stays within its bounds. The policies are fixed: the example, and one that reads every value of
// the input, of whatever type, through the functions policies use on plans.
func FuzzCheck(f *testing.F) {
	mods := append(examplePolicies(f), Module{Path: "policies/walk.rego", Source: `package walk

warn contains msg if {
	walk(input, [path, value])
	is_string(value)
	contains(value, "<")
	msg := sprintf("%v: %s", [path, value])
}

deny contains {"msg": sprintf("%s: %v", [rc.address, rc.change.actions])} if {
	some rc in input.resource_changes
	is_object(rc)
	"delete" in rc.change.actions
}

warn_types contains type_name(input[key]) if some key, _ in input
`})
	// The plans compacted: the fuzzer minimizes every input that finds new code, a cost that grows with size.
	for _, name := range []string{"testdata/plan_unencrypted.json", "testdata/plan_encrypted.json"} {
		var plan bytes.Buffer
		if err := json.Compact(&plan, readFile(f, name)); err != nil {
			f.Fatal(err)
		}
		f.Add(plan.Bytes())
	}
	for _, s := range []string{
		"", "{}", "[]", "null", "1", `"s"`, "{", `{"a":1}{}`, `{"resource_changes": null}`,
		`{"resource_changes": [{"type": "aws_s3_bucket", "address": "<b>@x</b>", "change": {"actions": ["create"], "after": {"bucket": 1}}}]}`,
		`{"resource_changes": [{"type": "aws_s3_bucket", "change": {"actions": "delete"}}], "configuration": {"root_module": {"resources": [{"type": "aws_s3_bucket_server_side_encryption_configuration", "expressions": {"bucket": {"references": 7}}}]}}}`,
		`{"resource_changes": [{"change": {"actions": ["delete"]}, "address": 1e400}]}`,
		`{"x": 1.5e308, "y": -0, "z": 123456789012345678901234567890, "w": "\ud800", "v": "a\u0000b"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, plan []byte) {
		report, err := Check(context.Background(), mods, plan, Options{})
		if err != nil {
			var pe PolicyErrors
			if !strings.HasPrefix(err.Error(), "reading the plan JSON: ") && !errors.As(err, &pe) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if len(report.Results) > MaxResults || report.Policies != 2 {
			t.Fatalf("%d results, %d policies", len(report.Results), report.Policies)
		}
		for _, r := range report.Results {
			if utf8.RuneCountInString(r.Message) > MaxMessageLength || !utf8.ValidString(r.Message) {
				t.Fatalf("message %q", r.Message)
			}
		}
		md := report.Markdown()
		if len(md) > MaxMarkdownLength || !utf8.ValidString(md) || !strings.HasPrefix(md, "#### Policy check") {
			t.Fatalf("Markdown: %d bytes: %q", len(md), md)
		}
	})
}
