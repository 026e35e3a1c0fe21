package plancheck

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// examplePolicies are testdata/policies, as Load reads them from a checkout.
func examplePolicies(t testing.TB) []Module {
	t.Helper()
	base, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	mods, err := Load(base, filepath.Join(base, "policies"))
	if err != nil {
		t.Fatal(err)
	}
	return mods
}

func TestCheckS3Encryption(t *testing.T) {
	mods := examplePolicies(t)
	tests := []struct {
		plan string
		want []Result
	}{
		{
			// aws_s3_bucket.assets is encrypted by a configuration that refers to it (its bucket is unknown
			// when planning); aws_s3_bucket.logs is not encrypted.
			plan: "testdata/plan_unencrypted.json",
			want: []Result{{
				Package: "terraform.s3_encryption",
				Rule:    "deny",
				Message: "aws_s3_bucket.logs has no server-side encryption: add an aws_s3_bucket_server_side_encryption_configuration for it",
				Fail:    true,
			}},
		},
		{
			// assets by reference, logs by bucket name, and aws_s3_bucket.old is destroyed.
			plan: "testdata/plan_encrypted.json",
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.plan), func(t *testing.T) {
			report, err := Check(context.Background(), mods, readFile(t, tt.plan), Options{})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if !reflect.DeepEqual(report.Results, tt.want) {
				t.Errorf("Results:\n got %+v\nwant %+v", report.Results, tt.want)
			}
			if report.Failed() != (len(tt.want) > 0) || report.Policies != 1 || report.Omitted != 0 {
				t.Errorf("Failed() %v, Policies %d, Omitted %d", report.Failed(), report.Policies, report.Omitted)
			}
		})
	}
}

// check runs Check on one module, policies/p.rego, and the unencrypted plan.
func check(t *testing.T, source string) (Report, error) {
	t.Helper()
	return Check(context.Background(), []Module{{Path: "policies/p.rego", Source: source}}, readFile(t, "testdata/plan_unencrypted.json"), Options{})
}

func TestCheckRuleValues(t *testing.T) {
	fail := func(pkg, rule, msg string) Result { return Result{Package: pkg, Rule: rule, Message: msg, Fail: true} }
	warn := func(pkg, rule, msg string) Result { return Result{Package: pkg, Rule: rule, Message: msg} }
	tests := []struct {
		name     string
		source   string
		want     []Result
		policies int
	}{
		{
			name: "set of strings",
			source: `package p
deny contains msg if {
	some rc in input.resource_changes
	rc.type == "aws_s3_bucket"
	msg := sprintf("%s: no", [rc.address])
}`,
			want:     []Result{fail("p", "deny", "aws_s3_bucket.assets: no"), fail("p", "deny", "aws_s3_bucket.logs: no")},
			policies: 1,
		},
		{
			name: "set of objects with msg",
			source: `package p
violation contains {"msg": msg, "severity": "high", "details": {"n": 1}} if {
	some rc in input.resource_changes
	rc.type == "aws_iam_role"
	msg := sprintf("%s: %s", [rc.address, concat(",", rc.change.actions)])
}`,
			want:     []Result{fail("p", "violation", "aws_iam_role.deployer: update")},
			policies: 1,
		},
		{
			name:     "boolean true",
			source:   "package terraform.p\ndeny if input.format_version == \"1.2\"\nwarn if count(input.resource_changes) > 0",
			want:     []Result{fail("terraform.p", "deny", "denied by terraform.p.deny"), warn("terraform.p", "warn", "warned by terraform.p.warn")},
			policies: 1,
		},
		{
			name:     "boolean false and undefined",
			source:   "package p\ndefault deny := false\nviolation if input.format_version == \"0\"\nwarn contains x if { x := input.nothing }",
			policies: 1,
		},
		{
			name:     "a string",
			source:   "package p\ndeny := \"all of it\"",
			want:     []Result{fail("p", "deny", "all of it")},
			policies: 1,
		},
		{
			name:     "an array, deduplicated",
			source:   "package p\nwarn := [\"b\", \"a\", \"b\"]",
			want:     []Result{warn("p", "warn", "a"), warn("p", "warn", "b")},
			policies: 1,
		},
		{
			name:     "suffixed rules, conftest style",
			source:   "package p\ndeny_public_acl contains \"acl\"\nviolation_x1 contains \"v\"\nwarn_tags contains \"tags\"\ndenial contains \"not a rule of ours\"\ndeny_ contains \"nor this\"",
			want:     []Result{fail("p", "deny_public_acl", "acl"), fail("p", "violation_x1", "v"), warn("p", "warn_tags", "tags")},
			policies: 1,
		},
		{
			name:     "helpers and functions are not policies",
			source:   "package p\nallow := true\ndeny(x) := x\nmessages contains \"m\"\nnotdeny contains \"n\"",
			policies: 0,
		},
		{
			name:     "warnings do not fail",
			source:   "package p\nwarn contains \"careful\"",
			want:     []Result{warn("p", "warn", "careful")},
			policies: 1,
		},
		{
			name:     "failures first, then by package",
			source:   "package b\nwarn contains \"w\"\ndeny contains \"z\"\ndeny contains \"a\"",
			want:     []Result{fail("b", "deny", "a"), fail("b", "deny", "z"), warn("b", "warn", "w")},
			policies: 1,
		},
		{
			name:     "messages cut",
			source:   "package p\ndeny contains concat(\"\", [\"é\" | some _ in numbers.range(1, 1500)])",
			want:     []Result{fail("p", "deny", strings.Repeat("é", MaxMessageLength-1)+"…")},
			policies: 1,
		},
		{
			name:     "rego.v1 import and future keywords",
			source:   "package p\nimport rego.v1\nimport future.keywords.in\ndeny contains \"x\" if \"create\" in input.resource_changes[0].change.actions",
			want:     []Result{fail("p", "deny", "x")},
			policies: 1,
		},
		{
			name:     "print is dropped",
			source:   "package p\ndeny contains \"x\" if {\n\tprint(\"the environment:\", input.format_version)\n}",
			want:     []Result{fail("p", "deny", "x")},
			policies: 1,
		},
		{
			name:     "quoted package path",
			source:   "package p[\"odd name\"]\ndeny contains \"x\"",
			want:     []Result{fail(`p["odd name"]`, "deny", "x")},
			policies: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			report, err := check(t, tt.source)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if !reflect.DeepEqual(report.Results, tt.want) {
				t.Errorf("Results:\n got %+v\nwant %+v", report.Results, tt.want)
			}
			if report.Policies != tt.policies {
				t.Errorf("Policies %d, want %d", report.Policies, tt.policies)
			}
			wantFailed := slices.ContainsFunc(tt.want, func(r Result) bool { return r.Fail })
			if report.Failed() != wantFailed {
				t.Errorf("Failed() %v, want %v", report.Failed(), wantFailed)
			}
		})
	}
}

func TestCheckSeveralModules(t *testing.T) {
	mods := []Module{
		{Path: "policies/b.rego", Source: "package shared\nwarn contains \"from b\""},
		{Path: "policies/a.rego", Source: "package shared\nwarn contains \"from a\"\ndeny if data.helper.bad"},
		{Path: "policies/lib/helper.rego", Source: "package helper\nbad if input.errored == false"},
		{Path: "policies/z.rego", Source: "package aaa\nviolation contains \"first package\""},
	}
	report, err := Check(context.Background(), mods, []byte(`{"errored": false}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Result{
		{Package: "aaa", Rule: "violation", Message: "first package", Fail: true},
		{Package: "shared", Rule: "deny", Message: "denied by shared.deny", Fail: true},
		{Package: "shared", Rule: "warn", Message: "from a"},
		{Package: "shared", Rule: "warn", Message: "from b"},
	}
	if !reflect.DeepEqual(report.Results, want) || report.Policies != 2 {
		t.Errorf("Results:\n got %+v (%d policies)\nwant %+v (2 policies)", report.Results, report.Policies, want)
	}
	if f, w := report.Failures(), report.Warnings(); !reflect.DeepEqual(f, want[:2]) || !reflect.DeepEqual(w, want[2:]) {
		t.Errorf("Failures() %+v, Warnings() %+v", f, w)
	}
}

// TestCheckInput: the input is the plan JSON as it is, numbers and all.
func TestCheckInput(t *testing.T) {
	plan := readFile(t, "testdata/plan_unencrypted.json")
	report, err := Check(context.Background(), []Module{{Path: "p.rego", Source: `package p
warn contains crypto.sha256(json.marshal(input))
warn contains sprintf("%s %d %v", [input.format_version, count(input.resource_changes), input.resource_changes[2].change.after.max_session_duration])`,
	}}, plan, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(plan))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	canonical, err := json.Marshal(v) // sorted keys, compact: as OPA's json.marshal
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1.2 4 7200", fmt.Sprintf("%x", sha256.Sum256(canonical))}
	slices.Sort(want)
	var got []string
	for _, r := range report.Results {
		got = append(got, r.Message)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("messages %q, want %q", got, want)
	}
}

func TestCheckPolicyErrors(t *testing.T) {
	tests := []struct {
		name   string
		source string
		want   PolicyErrors
	}{
		{
			name:   "syntax",
			source: "package p\n\ndeny contains msg if {\n\tmsg := \n}",
			want:   PolicyErrors{{Path: "policies/p.rego", Line: 5, Message: "rego_parse_error: unexpected } token\n\t}\n\t^"}},
		},
		{
			name:   "rego v0 syntax",
			source: "package p\ndeny[msg] { msg := \"x\" }",
			want: PolicyErrors{
				{Path: "policies/p.rego", Line: 2, Message: "rego_parse_error: `if` keyword is required before rule body"},
				{Path: "policies/p.rego", Line: 2, Message: "rego_parse_error: `contains` keyword is required for partial set rules"},
			},
		},
		{
			name:   "type",
			source: "package p\ndeny contains msg if {\n\tmsg := 1 + \"one\"\n}",
			want:   PolicyErrors{{Path: "policies/p.rego", Line: 3, Message: "rego_type_error: plus: invalid argument(s)\n\thave: (number, string, ???)\n\twant: (x: number, y: number, z: number)"}},
		},
		{
			name:   "unsafe variable",
			source: "package p\ndeny contains x if true",
			want:   PolicyErrors{{Path: "policies/p.rego", Line: 2, Message: "rego_unsafe_var_error: var x is unsafe"}},
		},
		{
			name:   "empty",
			source: "# nothing but a comment\n",
			want:   PolicyErrors{{Path: "policies/p.rego", Message: "rego_parse_error: empty module"}},
		},
		{
			name:   "built-in error, strict",
			source: "package p\ndeny contains msg if {\n\tmsg := sprintf(\"%d\", [to_number(input.format_version_x)])\n}\nwarn contains to_number(\"x1\")",
			want:   PolicyErrors{{Path: "policies/p.rego", Line: 5, Message: `eval_builtin_error: to_number: strconv.ParseFloat: parsing "x1": invalid syntax`}},
		},
		{
			name:   "object without msg",
			source: "package p\n\nwarn contains {\"message\": \"x\"}",
			want:   PolicyErrors{{Path: "policies/p.rego", Line: 3, Message: `warn: a result is an object without a string msg field: {"message":"x"}`}},
		},
		{
			name:   "a number",
			source: "package p\ndeny contains 1",
			want:   PolicyErrors{{Path: "policies/p.rego", Line: 2, Message: "deny: a result is neither a string nor an object with a msg field: 1"}},
		},
		{
			name:   "an object",
			source: "package p\ndeny := {\"a\": 1}",
			want:   PolicyErrors{{Path: "policies/p.rego", Line: 2, Message: `deny is neither a set of messages, a string nor a boolean: {"a":1}`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			report, err := check(t, tt.source)
			var got PolicyErrors
			if !errors.As(err, &got) {
				t.Fatalf("Check: %v (%T), report %+v; want PolicyErrors", err, err, report)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n got %#v\nwant %#v", got, tt.want)
			}
			if report.Results != nil {
				t.Errorf("results with an error: %+v", report.Results)
			}
		})
	}
}

func TestCheckPolicyErrorText(t *testing.T) {
	_, err := Check(context.Background(), []Module{
		{Path: "policies/ok.rego", Source: "package ok\ndeny contains \"x\" if false"},
		{Path: "policies/s3.rego", Source: "package s3\n\ndeny contains msg if {\n\tmsg := \n}"},
		{Path: "policies/iam.rego", Source: "package iam\nwarn contains"},
	}, []byte("{}"), Options{})
	want := "policies/s3.rego:5: rego_parse_error: unexpected } token\n\t}\n\t^\n" +
		"policies/iam.rego:2: rego_parse_error: unexpected eof token\n\twarn contains\n\t            ^\n" +
		"policies/iam.rego:2: rego_parse_error: unexpected eof token: expected rule key term (e.g., warn contains <VALUE> { ... })\n\twarn contains\n\t            ^"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant\n%s", err, want)
	}
}

// TestCheckRefusedBuiltins: policies that would reach the network, files, the environment or the tracer do
// not compile, so none of it runs; the check says which function and where.
func TestCheckRefusedBuiltins(t *testing.T) {
	tests := []struct{ name, call string }{
		{"http.send", `http.send({"method": "GET", "url": "http://127.0.0.1:1/"})`},
		{"opa.runtime", `opa.runtime().env.HOME`},
		{"net.lookup_ip_addr", `net.lookup_ip_addr("localhost")`},
		{"json.match_schema", `json.match_schema(input, {"$ref": "file:///etc/passwd"})`},
		{"json.verify_schema", `json.verify_schema({"$ref": "file:///etc/passwd"})`},
		{"trace", `trace("x")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := check(t, "package p\n\ndeny contains msg if {\n\tx := "+tt.call+"\n\tmsg := sprintf(\"%v\", [x])\n}")
			want := "policies/p.rego:4: rego_type_error: undefined function " + tt.name
			if err == nil || err.Error() != want {
				t.Errorf("error %v, want %q", err, want)
			}
		})
	}
}

// TestCapabilities pins what a policy may not call, so a new OPA's changes show here.
func TestCapabilities(t *testing.T) {
	caps := capabilities()
	kept := map[string]bool{}
	for _, b := range caps.Builtins {
		kept[b.Name] = true
	}
	var removed []string
	for _, b := range ast.CapabilitiesForThisVersion().Builtins {
		if !kept[b.Name] {
			removed = append(removed, b.Name)
		}
	}
	want := []string{"http.send", "json.match_schema", "json.verify_schema", "net.lookup_ip_addr", "opa.runtime", "trace"}
	if !reflect.DeepEqual(removed, want) {
		t.Errorf("refused built-ins %q, want %q", removed, want)
	}
	for _, name := range []string{"print", "internal.print", "time.now_ns", "net.cidr_contains", "rego.parse_module", "io.jwt.decode_verify", "crypto.sha256"} {
		if !kept[name] {
			t.Errorf("%s refused", name)
		}
	}
	if caps.AllowNet == nil || len(caps.AllowNet) != 0 {
		t.Errorf("AllowNet %q: want empty, not nil (nil allows every host)", caps.AllowNet)
	}
	if capabilities() == caps {
		t.Error("capabilities() shared between calls")
	}
}

// TestCheckPrintDropped: print calls compile to nothing: no output reaches the runner's.
func TestCheckPrintDropped(t *testing.T) {
	c, err := compile([]Module{{Path: "p.rego", Source: "package p\ndeny contains \"x\" if {\n\tprint(\"secret\", input)\n}"}}, capabilities())
	if err != nil {
		t.Fatal(err)
	}
	ast.WalkExprs(c.Modules["p.rego"], func(e *ast.Expr) bool {
		if e.IsCall() && strings.Contains(e.Operator().String(), "print") {
			t.Errorf("print call left: %v", e)
		}
		return false
	})
}

func TestCheckBadArguments(t *testing.T) {
	ok := []Module{{Path: "p.rego", Source: "package p\ndeny contains \"x\""}}
	many := make([]Module, MaxFiles+1)
	for i := range many {
		many[i] = Module{Path: fmt.Sprintf("p%d.rego", i), Source: "package p"}
	}
	big := strings.Repeat("#", MaxFileSize)
	total := make([]Module, MaxTotalSize/MaxFileSize+1)
	for i := range total {
		total[i] = Module{Path: fmt.Sprintf("p%d.rego", i), Source: big}
	}
	tests := []struct {
		name    string
		modules []Module
		plan    string
		want    string
	}{
		{"plan not JSON", ok, "terraform plan output", "reading the plan JSON: invalid character"},
		{"plan empty", ok, "", "reading the plan JSON: EOF"},
		{"plan an array", ok, `[{"format_version": "1.2"}]`, "reading the plan JSON: json: cannot unmarshal array"},
		{"plan null", ok, "null", "reading the plan JSON: null, not an object"},
		{"plan and more", ok, `{"a": 1} {"b": 2}`, "reading the plan JSON: more after the object"},
		{"plan cut", ok, `{"a": [1, 2`, "reading the plan JSON: unexpected EOF"},
		{"module twice", []Module{ok[0], ok[0]}, "{}", "compiling policies: p.rego given twice"},
		{"module without path", []Module{{Source: "package p"}}, "{}", "compiling policies: a module without a path"},
		{"too many modules", many, "{}", "compiling policies: 501 files, more than 500"},
		{"module too large", []Module{{Path: "p.rego", Source: big + "#"}}, "{}", "compiling policies: p.rego is larger than 1048576 bytes"},
		{"modules too large", total, "{}", "compiling policies: larger than 8388608 bytes in all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Check(context.Background(), tt.modules, []byte(tt.plan), Options{})
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %v, want it to start %q", err, tt.want)
			}
		})
	}
	// No modules: nothing to check, which passes.
	report, err := Check(context.Background(), nil, []byte("{}"), Options{})
	if err != nil || report.Failed() || report.Policies != 0 || report.Results != nil {
		t.Errorf("no modules: %+v, %v", report, err)
	}
}

// TestCheckTimeout: a policy that computes for ever stops at the timeout, whatever it is busy with.
func TestCheckTimeout(t *testing.T) {
	tests := []struct{ name, body string }{
		{"nested iteration", "some i in numbers.range(1, 100000)\n\tsome j in numbers.range(1, 100000)\n\ti * j == -1"},
		{"huge comprehension", "count({x | some i in numbers.range(1, 1000000000); x := i * 2}) == 0"},
		{"huge built-in result", "count(numbers.range(1, 10000000000)) == 0"},
		{"huge string", `count(concat(",", [sprintf("%d", [i]) | some i in numbers.range(1, 1000000000)])) == 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const timeout = 100 * time.Millisecond
			start := time.Now()
			_, err := Check(context.Background(), []Module{{Path: "p.rego", Source: "package p\ndeny contains \"x\" if {\n\t" + tt.body + "\n}"}},
				[]byte("{}"), Options{Timeout: timeout})
			elapsed := time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "stopped after the 100ms timeout") {
				t.Errorf("error %v, want the timeout", err)
			}
			if elapsed > 5*time.Second {
				t.Errorf("stopped after %v, timeout %v", elapsed, timeout)
			}
		})
	}
}

func TestCheckCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Check(ctx, examplePolicies(t), readFile(t, "testdata/plan_unencrypted.json"), Options{})
	if !errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// TestCheckConcurrent: checks share nothing (run with -race).
func TestCheckConcurrent(t *testing.T) {
	mods := examplePolicies(t)
	plans := [][]byte{readFile(t, "testdata/plan_unencrypted.json"), readFile(t, "testdata/plan_encrypted.json")}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			report, err := Check(context.Background(), mods, plans[i%2], Options{})
			if err == nil && report.Failed() != (i%2 == 0) {
				err = fmt.Errorf("check %d: Failed() %v", i, report.Failed())
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Error(err)
	}
}

func TestCheckMaxResults(t *testing.T) {
	report, err := check(t, "package p\nwarn contains sprintf(\"w%03d\", [i]) if some i in numbers.range(1, 150)\n"+
		"deny contains sprintf(\"d%03d\", [i]) if some i in numbers.range(1, 120)")
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Results) != MaxResults || report.Omitted != 270-MaxResults {
		t.Fatalf("%d results, %d omitted", len(report.Results), report.Omitted)
	}
	if f := report.Failures(); len(f) != 120 || f[0].Message != "d001" || f[119].Message != "d120" {
		t.Errorf("failures: %d, %+v ... %+v", len(f), f[0], f[len(f)-1])
	}
	if w := report.Warnings(); len(w) != 80 || w[0].Message != "w001" || w[79].Message != "w080" {
		t.Errorf("warnings: %d", len(w))
	}
}

// chain is a package of n rules, each referring to the one before: the shape OPA's compiler is slowest on.
func chain(n int) string {
	var b strings.Builder
	b.WriteString("package chain\nr0 := 1\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "r%d := x if { x := r%d + 1 }\n", i, i-1)
	}
	fmt.Fprintf(&b, "warn contains sprintf(\"%%d\", [r%d])\n", n-1)
	return b.String()
}

// sum is a package whose rule x adds n ones: n-1 calls in one expression, 2n nodes (ruleNodes).
func sum(pkg string, n int) string {
	return fmt.Sprintf("package %s\nx := %s\n", pkg, strings.TrimSuffix(strings.Repeat("1 + ", n), " + "))
}

func TestCheckComplexity(t *testing.T) {
	many := make([]Module, 60)
	for i := range many {
		many[i] = Module{Path: fmt.Sprintf("p%02d.rego", i), Source: sum(fmt.Sprintf("p%d", i), 450)}
	}
	data := new(strings.Builder)
	data.WriteString("package amis\nallowed := {")
	for i := range 60000 {
		fmt.Fprintf(data, "\"ami-%08d\", ", i)
	}
	data.WriteString("}\ndeny contains \"x\" if not \"ami-00000007\" in allowed")
	tests := []struct {
		name    string
		modules []Module
		want    string // the error; "" for none
	}{
		{"rules", []Module{{Path: "c.rego", Source: chain(MaxRules)}}, "compiling policies: 2001 rules, more than 2000"},
		{"one rule", []Module{{Path: "ok.rego", Source: "package ok"}, {Path: "p/sum.rego", Source: "package x\n\n" + sum("y", 501)[len("package y\n"):]}},
			"p/sum.rego:3: rule x has 1002 expressions, calls and variables, more than 1000: split it"},
		{"in all", many, "compiling policies: 54000 expressions, calls and variables in rules, more than 50000"},
		{"data is free", []Module{{Path: "amis.rego", Source: data.String()}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Check(context.Background(), tt.modules, []byte("{}"), Options{})
			if got := fmt.Sprint(err); (tt.want == "" && err != nil) || (tt.want != "" && got != tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestCheckAtTheLimits: the slowest shapes known, just within the limits, compile; in about a second, or
// more with -race (so the timeout is generous here: the time is logged).
func TestCheckAtTheLimits(t *testing.T) {
	sums := make([]Module, MaxNodes/MaxRuleNodes-1)
	for i := range sums {
		sums[i] = Module{Path: fmt.Sprintf("s%02d.rego", i), Source: sum(fmt.Sprintf("s%d", i), MaxRuleNodes/2)}
	}
	for name, mods := range map[string][]Module{
		"chain": {{Path: "c.rego", Source: chain(MaxRules - 1)}},
		"sums":  sums,
	} {
		start := time.Now()
		report, err := Check(context.Background(), mods, []byte("{}"), Options{Timeout: time.Minute})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %d results in %v", name, len(report.Results), time.Since(start))
	}
}

// TestCheckCompileTimeout: Check returns at the timeout while OPA's compiler, which cannot be stopped, is
// still busy.
func TestCheckCompileTimeout(t *testing.T) {
	start := time.Now()
	_, err := Check(context.Background(), []Module{{Path: "c.rego", Source: chain(MaxRules - 1)}}, []byte("{}"), Options{Timeout: 20 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) || err.Error() != "compiling policies: stopped after the 20ms timeout: context deadline exceeded" {
		t.Errorf("error %v", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("returned after %v", elapsed)
	}
}
