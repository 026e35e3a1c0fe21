package plancheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

const (
	// DefaultTimeout bounds a check when Options.Timeout is 0: compiling and evaluating every policy.
	DefaultTimeout = 10 * time.Second
	// MaxMessageLength is the most characters of a result's message that are kept; longer ones are cut.
	MaxMessageLength = 1000
	// MaxResults is the most results a Report holds; failures are kept before warnings.
	MaxResults = 200

	// OPA's compiler takes time that grows faster than the policy text in places (a long chain of rules
	// that refer to each other, one expression of thousands of calls), and cannot be stopped: these bound
	// what it is given. Policies at them compile in about a second.
	MaxRules     = 2000  // rules and functions, else branches included, in all files
	MaxRuleNodes = 1000  // expressions, calls and variables in one rule (data literals are free)
	MaxNodes     = 50000 // the same in all files
)

// Options tune a check.
type Options struct {
	Timeout time.Duration // 0: DefaultTimeout
}

// The names of the rules a check evaluates in every package, conftest's: deny, violation and warn, also with
// suffixes (deny_public_bucket). Other rules and functions are helpers.
var (
	failRuleName = regexp.MustCompile(`^(deny|violation)(_[a-zA-Z0-9]+)*$`)
	warnRuleName = regexp.MustCompile(`^warn(_[a-zA-Z0-9]+)*$`)
)

// PolicyError is a fault in a policy: a syntax or type error, or an error while evaluating it (a built-in
// function's, or a result of the wrong shape). Message is the policy author's doing: escape it to show it.
type PolicyError struct {
	Path    string // the Module's Path; "" when OPA gave no location
	Line    int    // 1-based; 0 when unknown
	Message string
}

func (e PolicyError) Error() string {
	switch {
	case e.Path == "":
		return e.Message
	case e.Line == 0:
		return e.Path + ": " + e.Message
	}
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Message)
}

// PolicyErrors are the faults that stopped a check, in the order OPA found them (it stops at 10): one per
// line, "policies/s3.rego:3: rego_parse_error: unexpected assign token". Check returns it as is, so
// errors.As finds it, for annotations on the files.
type PolicyErrors []PolicyError

func (es PolicyErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Check evaluates every package's deny, violation and warn rules with the plan JSON as input, and reports
// what they say: deny and violation fail, warn does not. As with conftest, deny_*, violation_* and warn_*
// rules count too (deny_public_acl). A rule may be a set of strings (deny contains msg if {...}), a set of
// objects with a string msg field, a string, or a boolean (deny if {...}: "denied by <package>.deny").
// Errors: PolicyErrors for faults in the policies; otherwise the plan or the modules are not acceptable
// (bounds: MaxFiles, MaxFileSize, MaxTotalSize, MaxRules, MaxRuleNodes, MaxNodes), or the check ran out
// of time (errors.Is context.DeadlineExceeded), or ctx ended.
//
// The policies may be hostile: they are compiled with capabilities that have no built-in function reaching
// the network, the file system, the environment or the runner (see capabilities), print statements are
// dropped, annotations are not read, and Check returns at the timeout, which stops evaluation. Memory is
// not bounded: a policy can allocate for as long as the timeout lets it (gigabytes in 10s).
func Check(ctx context.Context, modules []Module, planJSON []byte, opts Options) (Report, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	timedOut := fmt.Errorf("stopped after the %v timeout: %w", timeout, context.DeadlineExceeded)
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, timedOut)
	defer cancel()
	stopped := func(doing string) error {
		if cause := context.Cause(ctx); cause == timedOut {
			return fmt.Errorf("%s: %w", doing, cause)
		}
		return fmt.Errorf("%s: %w", doing, ctx.Err())
	}

	input, err := parsePlan(planJSON)
	if err != nil {
		return Report{}, err
	}
	caps := capabilities()
	// OPA's compiler cannot be stopped: past the timeout, it is left to finish on its own, its result
	// dropped. The limits in compile keep that to about a second.
	type compiled struct {
		c   *ast.Compiler
		err error
	}
	done := make(chan compiled, 1)
	modules = slices.Clone(modules) // the caller may reuse its slice while the compiler still reads
	go func() {
		c, err := compile(modules, caps)
		done <- compiled{c, err}
	}()
	var compiler *ast.Compiler
	select {
	case <-ctx.Done():
		return Report{}, stopped("compiling policies")
	case res := <-done:
		if res.err != nil {
			return Report{}, res.err
		}
		compiler = res.c
	}
	rules := policyRules(compiler)
	report := Report{Policies: countPackages(rules)}
	for _, r := range rules {
		if ctx.Err() != nil {
			return Report{}, stopped("evaluating policies")
		}
		results, err := evalRule(ctx, compiler, caps, input, r)
		if err != nil {
			if ctx.Err() != nil {
				return Report{}, stopped("evaluating policies")
			}
			return Report{}, err
		}
		report.Results = append(report.Results, results...)
	}
	report.finish()
	return report, nil
}

// parsePlan reads the plan JSON, which must be one JSON object, as OPA's input value.
func parsePlan(planJSON []byte) (ast.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(planJSON))
	dec.UseNumber()
	var plan map[string]any
	if err := dec.Decode(&plan); err != nil {
		return nil, fmt.Errorf("reading the plan JSON: %w", err)
	}
	if plan == nil {
		return nil, errors.New("reading the plan JSON: null, not an object")
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("reading the plan JSON: more after the object")
	}
	v, err := ast.InterfaceToValue(plan)
	if err != nil {
		return nil, fmt.Errorf("reading the plan JSON: %w", err)
	}
	return v, nil
}

// compile parses and compiles the modules, Rego v1 (files that import rego.v1 are v1 too).
func compile(modules []Module, caps *ast.Capabilities) (*ast.Compiler, error) {
	if len(modules) > MaxFiles {
		return nil, fmt.Errorf("compiling policies: %d files, more than %d", len(modules), MaxFiles)
	}
	parsed := make(map[string]*ast.Module, len(modules))
	var total int
	var errs PolicyErrors
	for _, m := range modules {
		switch {
		case m.Path == "":
			return nil, errors.New("compiling policies: a module without a path")
		case parsed[m.Path] != nil:
			return nil, fmt.Errorf("compiling policies: %s given twice", m.Path)
		case len(m.Source) > MaxFileSize:
			return nil, fmt.Errorf("compiling policies: %s is larger than %d bytes", m.Path, MaxFileSize)
		}
		if total += len(m.Source); total > MaxTotalSize {
			return nil, fmt.Errorf("compiling policies: larger than %d bytes in all", MaxTotalSize)
		}
		mod, err := ast.ParseModuleWithOpts(m.Path, m.Source, ast.ParserOptions{
			Capabilities: caps,
			RegoVersion:  ast.RegoV1,
			// Annotations could name JSON schemas for the type checker, and schemas reach for files.
			ProcessAnnotation: false,
		})
		if err != nil {
			errs = append(errs, policyErrors(m.Path, err)...)
			continue
		}
		if mod == nil { // only comments, or nothing
			errs = append(errs, PolicyError{Path: m.Path, Message: "no package declaration"})
			continue
		}
		parsed[m.Path] = mod
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if err := checkComplexity(modules, parsed); err != nil {
		return nil, err
	}
	c := ast.NewCompiler().
		WithCapabilities(caps).
		WithDefaultRegoVersion(ast.RegoV1).
		WithEnablePrintStatements(false) // print(...) calls are removed, not run
	c.Compile(parsed)
	if c.Failed() {
		return nil, policyErrors("", c.Errors)
	}
	return c, nil
}

// checkComplexity refuses policies over MaxRules, MaxRuleNodes or MaxNodes, before the compiler sees them.
func checkComplexity(modules []Module, parsed map[string]*ast.Module) error {
	var rules, nodes int
	var errs PolicyErrors
	for _, m := range modules { // in the order given, for stable errors
		for _, r := range parsed[m.Path].Rules {
			for rule := r; rule != nil; rule = rule.Else {
				rules++
			}
			n := ruleNodes(r)
			if nodes += n; n > MaxRuleNodes && len(errs) < 10 {
				errs = append(errs, PolicyError{Path: m.Path, Line: r.Location.Row, Message: fmt.Sprintf(
					"rule %s has %d expressions, calls and variables, more than %d: split it",
					r.Head.Ref(), n, MaxRuleNodes)})
			}
		}
	}
	switch {
	case len(errs) > 0:
		return errs
	case rules > MaxRules:
		return fmt.Errorf("compiling policies: %d rules, more than %d", rules, MaxRules)
	case nodes > MaxNodes:
		return fmt.Errorf("compiling policies: %d expressions, calls and variables in rules, more than %d", nodes, MaxNodes)
	}
	return nil
}

// ruleNodes counts what makes a rule costly to compile: expressions, calls and variables (operators, and
// the first part of a reference, included), in its head, body and else branches. Scalars and the
// collections holding them (data) count nothing.
func ruleNodes(r *ast.Rule) int {
	n := 0
	ast.NewGenericVisitor(func(x any) bool {
		switch x.(type) {
		case *ast.Expr, ast.Call, ast.Var:
			n++
		}
		return false
	}).Walk(r)
	return n
}

// policyErrors converts OPA's errors (ast.Errors, *ast.Error, *topdown.Error) to PolicyErrors; path is the
// file when the error has no location of its own.
func policyErrors(path string, err error) PolicyErrors {
	var astErrs ast.Errors
	var astErr *ast.Error
	var topErr *topdown.Error
	switch {
	case errors.As(err, &astErrs):
		out := make(PolicyErrors, 0, len(astErrs))
		for _, e := range astErrs {
			out = append(out, policyError(path, e.Location, e.Code, e.Message, e.Details))
		}
		return out
	case errors.As(err, &astErr):
		return PolicyErrors{policyError(path, astErr.Location, astErr.Code, astErr.Message, astErr.Details)}
	case errors.As(err, &topErr):
		return PolicyErrors{policyError(path, topErr.Location, topErr.Code, topErr.Message, nil)}
	}
	return PolicyErrors{{Path: path, Message: err.Error()}}
}

// policyError is one error: "code: message", and OPA's details (the source line, or the types a function
// takes) on lines of their own, indented with a tab.
func policyError(path string, loc *ast.Location, code, message string, details ast.ErrorDetails) PolicyError {
	pe := PolicyError{Path: path, Message: code + ": " + message}
	if details != nil {
		for _, line := range details.Lines() {
			pe.Message += "\n\t" + line
		}
	}
	if loc != nil {
		pe.Line = loc.Row
		if loc.File != "" {
			pe.Path = loc.File
		}
	}
	return pe
}

// policyRule is one rule a check evaluates: data.<pkg>.<name>.
type policyRule struct {
	pkg      ast.Ref
	name     string
	fail     bool
	location *ast.Location // of its first definition
}

func (r policyRule) packageName() string { return strings.TrimPrefix(r.pkg.String(), "data.") }

func (r policyRule) file() string {
	if r.location == nil {
		return ""
	}
	return r.location.File
}

func (r policyRule) line() int {
	if r.location == nil {
		return 0
	}
	return r.location.Row
}

// policyRules returns the deny, violation and warn rules of every package, sorted by package and name.
func policyRules(c *ast.Compiler) []policyRule {
	byRef := map[string]policyRule{}
	for _, m := range c.Modules {
		for _, r := range m.Rules {
			ref := r.Head.Ref()
			if len(r.Head.Args) > 0 || len(ref) != 1 {
				continue // a function, or a rule inside an object (deny.x := ...)
			}
			name := r.Head.Name.String()
			if name == "" {
				name = ref[0].Value.String()
			}
			fail := failRuleName.MatchString(name)
			if !fail && !warnRuleName.MatchString(name) {
				continue
			}
			key := m.Package.Path.String() + "\x00" + name
			if prev, ok := byRef[key]; ok && !before(r.Location, prev.location) {
				continue
			}
			byRef[key] = policyRule{pkg: m.Package.Path, name: name, fail: fail, location: r.Location}
		}
	}
	rules := make([]policyRule, 0, len(byRef))
	for _, r := range byRef {
		rules = append(rules, r)
	}
	sort.Slice(rules, func(i, j int) bool {
		if a, b := rules[i].packageName(), rules[j].packageName(); a != b {
			return a < b
		}
		return rules[i].name < rules[j].name
	})
	return rules
}

// before orders locations by file, then line: the first definition of a rule is the one errors point at.
func before(a, b *ast.Location) bool {
	switch {
	case a == nil:
		return false
	case b == nil:
		return true
	case a.File != b.File:
		return a.File < b.File
	}
	return a.Row < b.Row
}

func countPackages(rules []policyRule) int {
	n := 0
	for i, r := range rules {
		if i == 0 || r.packageName() != rules[i-1].packageName() {
			n++
		}
	}
	return n
}

// evalRule evaluates data.<pkg>.<name> and returns its results.
func evalRule(ctx context.Context, c *ast.Compiler, caps *ast.Capabilities, input ast.Value, r policyRule) ([]Result, error) {
	ref := append(r.pkg.Copy(), ast.StringTerm(r.name))
	query, err := rego.New(
		rego.Compiler(c),
		rego.ParsedQuery(ast.NewBody(ast.NewExpr(ast.NewTerm(ref)))),
		rego.Capabilities(caps),
		rego.StrictBuiltinErrors(true),
		rego.EnablePrintStatements(false),
		rego.Instrument(false),
		rego.SetRegoVersion(ast.RegoV1),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, policyErrors(r.file(), err)
	}
	rs, err := query.Eval(ctx, rego.EvalParsedInput(input), rego.EvalInstrument(false))
	if err != nil {
		return nil, policyErrors(r.file(), err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil // undefined: no rule body matched
	}
	messages, err := ruleMessages(r, rs[0].Expressions[0].Value)
	if err != nil {
		return nil, PolicyErrors{{Path: r.file(), Line: r.line(), Message: err.Error()}}
	}
	results := make([]Result, 0, len(messages))
	for _, msg := range messages {
		results = append(results, Result{Package: r.packageName(), Rule: r.name, Message: cut(msg, MaxMessageLength), Fail: r.fail})
	}
	return results, nil
}

// ruleMessages returns the messages of a rule's value, sorted.
func ruleMessages(r policyRule, v any) ([]string, error) {
	switch v := v.(type) {
	case bool:
		if v {
			return []string{fmt.Sprintf("%s by %s.%s", ruleVerb(r), r.packageName(), r.name)}, nil
		}
		return nil, nil
	case string:
		return []string{v}, nil
	case []any: // a set or an array
		out := make([]string, 0, len(v))
		for _, e := range v {
			switch e := e.(type) {
			case string:
				out = append(out, e)
			case map[string]any:
				msg, ok := e["msg"].(string)
				if !ok {
					return nil, fmt.Errorf("%s: a result is an object without a string msg field: %s", r.name, describe(e))
				}
				out = append(out, msg)
			default:
				return nil, fmt.Errorf("%s: a result is neither a string nor an object with a msg field: %s", r.name, describe(e))
			}
		}
		sort.Strings(out)
		return slices.Compact(out), nil
	}
	return nil, fmt.Errorf("%s is neither a set of messages, a string nor a boolean: %s", r.name, describe(v))
}

func ruleVerb(r policyRule) string {
	if r.fail {
		return "denied"
	}
	return "warned"
}

// describe shows a value in an error, shortly.
func describe(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%T", v)
	}
	return cut(string(data), 100)
}

// cut returns s with at most n characters: a longer s is cut, ending in "…". Invalid UTF-8 is replaced.
func cut(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Compile reports whether modules compile as Check compiles them (the same capabilities and limits), for
// policies to be refused when they are configured rather than at the first plan they check.
func Compile(modules []Module) error {
	_, err := compile(slices.Clone(modules), capabilities())
	return err
}
