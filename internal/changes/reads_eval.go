package changes

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// checkout stands for the absolute path of the repository checkout, which is where path.cwd and
// abspath() point: its real location means nothing to a pull request. NUL bytes keep it apart
// from any path a configuration can name, and having no letters keeps lower() and upper() from
// changing it.
const checkout = "/\x00\x00"

const (
	// maxPathExpr bounds the source text of a path argument that is evaluated. Together with
	// staticPathExpr (no loops) and maxPathValue it bounds the work evaluation can do.
	maxPathExpr = 4096
	// maxPathValue bounds every string a function returns while a path is evaluated.
	maxPathValue = 4096
)

// pathContext is what a path argument is evaluated with: path.module, path.root and path.cwd
// as Terraform sets them when it runs in rootDir, and pure string functions. Anything else (var,
// local, each, resources ...) makes evaluation fail, so the read is reported unresolved.
func pathContext(moduleDir, rootDir string) *hcl.EvalContext {
	// Terraform's path.module is the module's directory relative to the working directory
	// (e.g. "../../modules/web"), path.root is "." and path.cwd is absolute.
	module := path.Join(checkout, moduleDir)
	if rel, err := filepath.Rel(filepath.FromSlash(rootDir), filepath.FromSlash(moduleDir)); err == nil {
		module = filepath.ToSlash(rel)
	}
	cwd := path.Join(checkout, rootDir)
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"path": cty.ObjectVal(map[string]cty.Value{
				"module": cty.StringVal(module),
				"root":   cty.StringVal("."),
				"cwd":    cty.StringVal(cwd),
			}),
		},
		Functions: pathFunctions(cwd),
	}
}

// pathFunctions are the functions a path argument may call, each also as core::name.
func pathFunctions(cwd string) map[string]function.Function {
	fs := map[string]function.Function{
		"format":     bounded(stdlib.FormatFunc, checkFormat),
		"join":       bounded(stdlib.JoinFunc, nil),
		"lower":      bounded(stdlib.LowerFunc, nil),
		"upper":      bounded(stdlib.UpperFunc, nil),
		"trim":       bounded(stdlib.TrimFunc, nil),
		"trimprefix": bounded(stdlib.TrimPrefixFunc, nil),
		"trimsuffix": bounded(stdlib.TrimSuffixFunc, nil),
		"trimspace":  bounded(stdlib.TrimSpaceFunc, nil),
		"replace":    stringFunc(replace, "str", "substr", "replace"),
		// Terraform's own path functions (not in cty's stdlib), on slash paths as on Linux.
		"abspath": stringFunc(func(a []string) (string, error) {
			if path.IsAbs(a[0]) {
				return path.Clean(a[0]), nil
			}
			return path.Join(cwd, a[0]), nil
		}, "path"),
		"dirname":  stringFunc(func(a []string) (string, error) { return path.Dir(a[0]), nil }, "path"),
		"basename": stringFunc(func(a []string) (string, error) { return path.Base(a[0]), nil }, "path"),
	}
	out := make(map[string]function.Function, 2*len(fs))
	for name, f := range fs {
		out[name] = f
		out["core::"+name] = f
	}
	return out
}

// bounded wraps f so that check vets its arguments first and a string result longer than
// maxPathValue is an error: a path argument must not be able to build huge strings.
func bounded(f function.Function, check func(args []cty.Value) error) function.Function {
	return function.New(&function.Spec{
		Params:   f.Params(),
		VarParam: f.VarParam(),
		Type:     f.ReturnTypeForValues,
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if check != nil {
				if err := check(args); err != nil {
					return cty.DynamicVal, err
				}
			}
			v, err := f.Call(args)
			if err != nil {
				return cty.DynamicVal, err
			}
			if v.Type() == cty.String && v.IsKnown() && !v.IsNull() && len(v.AsString()) > maxPathValue {
				return cty.DynamicVal, fmt.Errorf("result longer than %d bytes", maxPathValue)
			}
			return v, nil
		},
	})
}

// stringFunc makes a function of string parameters returning a string of at most maxPathValue bytes.
func stringFunc(impl func(args []string) (string, error), params ...string) function.Function {
	ps := make([]function.Parameter, len(params))
	for i, name := range params {
		ps[i] = function.Parameter{Name: name, Type: cty.String}
	}
	return function.New(&function.Spec{
		Params: ps,
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			s := make([]string, len(args))
			for i, a := range args {
				s[i] = a.AsString()
			}
			out, err := impl(s)
			if err != nil {
				return cty.UnknownVal(cty.String), err
			}
			if len(out) > maxPathValue {
				return cty.UnknownVal(cty.String), fmt.Errorf("result longer than %d bytes", maxPathValue)
			}
			return cty.StringVal(out), nil
		},
	})
}

// replace is Terraform's replace for a plain substring; its /regexp/ form is not evaluated.
// The result's length is worked out before it is built.
func replace(a []string) (string, error) {
	s, old, repl := a[0], a[1], a[2]
	if len(old) > 1 && strings.HasPrefix(old, "/") && strings.HasSuffix(old, "/") {
		return "", errors.New("regular expression replacements are not evaluated")
	}
	n := strings.Count(s, old) // for "" Count and ReplaceAll both use every character boundary
	if int64(len(s))+int64(n)*(int64(len(repl))-int64(len(old))) > maxPathValue {
		return "", fmt.Errorf("result longer than %d bytes", maxPathValue)
	}
	return strings.ReplaceAll(s, old, repl), nil
}

// checkFormat rejects widths and precisions over 999 ("%99999999s"), which would make format
// allocate the padding before bounded sees the result.
func checkFormat(args []cty.Value) error {
	if len(args) == 0 || !args[0].IsKnown() || args[0].IsNull() || args[0].Type() != cty.String {
		return errors.New("format string is not a known string")
	}
	s := args[0].AsString()
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		digits := 0
		for i++; i < len(s) && strings.IndexByte("+-# 0123456789.[]*", s[i]) >= 0; i++ {
			if s[i] < '0' || s[i] > '9' {
				digits = 0
			} else if digits++; digits > 3 {
				return errors.New("format width or precision over 999")
			}
		}
	}
	return nil
}

// staticPathExpr reports whether expr is made only of literals, templates without directives,
// references, function calls, tuples and parentheses: no for expressions or splats, whose
// evaluation could multiply the work, and nothing a path is built with in practice.
func staticPathExpr(expr hclsyntax.Expression) bool {
	ok := true
	hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		switch n.(type) {
		case *hclsyntax.LiteralValueExpr, *hclsyntax.TemplateExpr, *hclsyntax.TemplateWrapExpr,
			*hclsyntax.ScopeTraversalExpr, *hclsyntax.FunctionCallExpr, *hclsyntax.TupleConsExpr,
			*hclsyntax.ParenthesesExpr:
		default:
			ok = false
		}
		return nil
	})
	return ok
}

// evalPath evaluates a path argument to a string, or reports that it cannot be worked out statically.
func evalPath(ctx *hcl.EvalContext, expr hclsyntax.Expression) (string, bool) {
	rng := expr.Range()
	if rng.End.Byte-rng.Start.Byte > maxPathExpr || !staticPathExpr(expr) {
		return "", false
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return "", false
	}
	v, err := convert.Convert(v, cty.String) // Terraform converts numbers and bools too
	if err != nil || v.IsNull() || !v.IsKnown() || v.IsMarked() {
		return "", false
	}
	s := v.AsString()
	return s, len(s) <= maxPathValue
}

// resolve turns a path as a file function receives it into a repository-relative one, or
// reports that it is outside the repository.
//
// Terraform resolves a relative path against its working directory, not the directory of the
// module the call is in: its evaluation scope has BaseDir "." ("Always current working
// directory") and each file function joins BaseDir and the path (hashicorp/terraform,
// internal/terraform/evaluate.go and internal/lang/funcs/filesystem.go), which is why modules
// are written with "${path.module}/...". The runner runs Terraform in the root module's
// directory, so a relative path is relative to rootDir.
//
// Absolute paths and ~ paths (Terraform expands ~ to the home directory) are outside the
// repository unless they are built from path.cwd or abspath(), which point into the checkout.
func resolve(p, rootDir string) (string, bool) {
	if strings.HasPrefix(p, "~") {
		return "", false
	}
	var r string
	if path.IsAbs(p) {
		c := path.Clean(p)
		switch {
		case c == checkout:
			r = "."
		case strings.HasPrefix(c, checkout+"/"):
			r = c[len(checkout)+1:]
		default:
			return "", false
		}
	} else {
		r = path.Join(rootDir, p)
	}
	if r == ".." || strings.HasPrefix(r, "../") {
		return "", false
	}
	return r, true
}
