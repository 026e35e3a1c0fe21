package changes

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/gitops-runner/runner/internal/repofs"
)

// Read is a file (or, for fileset, a glob) a module's configuration reads, repository-relative and slash-separated.
type Read struct {
	Path string // e.g. "templates/user_data.sh.tpl"; for fileset a doublestar glob like "policies/*.json"
	Glob bool   // Path is a glob (fileset)
	Func string // "file", "templatefile", "fileset", ...
	At   string // where the call is: "environments/prod/main.tf:12"
}

// Unresolved is a read whose path cannot be worked out statically (it uses a variable, a local, a resource attribute ...).
type Unresolved struct{ Func, At, Expr string } // Expr: the source text of the path argument, at most 200 bytes

const (
	// maxConfigFile bounds what one .tf file may cost: hclsyntax allocates a few hundred times the
	// file's size while parsing, and real configuration files are far smaller.
	maxConfigFile = 4 << 20
	// maxReads bounds the calls listed for one module (reads and unresolved reads together).
	maxReads = 10000
	// maxExprText is how much of an unresolved path argument's source text is kept.
	maxExprText = 200
)

// Reads lists the files the Terraform module in moduleDir reads through file functions (file,
// templatefile, fileset, filebase64, fileexists, filemd5 ...), found by parsing every *.tf file
// directly in moduleDir and visiting every expression, nested and dynamic blocks included.
// rootDir is the root module of the Terraform project that calls the module: Terraform runs
// there, so it is path.root and path.cwd, and relative paths are resolved against it (see
// resolve). Both dirs are repository-relative and slash-separated.
//
// Paths outside the repository (absolute ones, ~ ones, ones climbing above the root) are left
// out of both lists: a pull request cannot change them. Reads are sorted and deduplicated. A
// fileset read is one glob (the cleaned join of base and pattern, as Terraform globs it), left
// for the caller to match. Terraform globs with bmatcuk/doublestar v1; doublestar/v4's Match
// supports the same *, **, ?, [...] and {a,b}. *.tf.json files are not read, nor are the
// templates templatefile renders (a template may call file() in turn).
//
// A file that cannot be read (a symlink leading outside the repository among them), is over 4 MiB,
// nests too deeply or does not parse is reported in the error ("file:line: problem" where there is
// a line); what the other files, and what parsed of a file with syntax errors, read is still returned.
func Reads(fsys repofs.FS, moduleDir, rootDir string) ([]Read, []Unresolved, error) {
	moduleDir, err := repoDir(moduleDir)
	if err != nil {
		return nil, nil, fmt.Errorf("reads of module %s: %w", moduleDir, err)
	}
	rootDir, err = repoDir(rootDir)
	if err != nil {
		return nil, nil, fmt.Errorf("reads of module %s: root module: %w", moduleDir, err)
	}
	fsys = within(fsys)
	entries, err := fsys.ReadDir(moduleDir)
	if err != nil {
		return nil, nil, fmt.Errorf("listing the Terraform files of module %s: %w", moduleDir, err)
	}
	c := &collector{ctx: pathContext(moduleDir, rootDir), rootDir: rootDir}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".tf") || ignoredConfigFile(name) {
			continue
		}
		if err := c.file(fsys, path.Join(moduleDir, name)); err != nil {
			errs = append(errs, err)
		}
	}
	if c.dropped > 0 {
		errs = append(errs, fmt.Errorf("module %s: more than %d file function calls; %d were not listed", moduleDir, maxReads, c.dropped))
	}
	reads, unresolved := c.result()
	return reads, unresolved, errors.Join(errs...)
}

// unwrapPath drops a *fs.PathError's operation and name, for an error that names the file itself.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// repoDir cleans a repository-relative directory and rejects ones outside the repository.
func repoDir(dir string) (string, error) {
	d := path.Clean(filepath.ToSlash(dir))
	if path.IsAbs(d) || d == ".." || strings.HasPrefix(d, "../") {
		return d, fmt.Errorf("directory %q is not inside the repository", dir)
	}
	return d, nil
}

// ignoredConfigFile is Terraform's rule for editor and hidden files it skips in a module dir.
func ignoredConfigFile(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") ||
		(strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#"))
}

// readsFile reports whether a Terraform function reads the file (fileset: the directory) named
// by its first argument. Terraform 1.8+ also accepts built-ins as core::name.
func readsFile(name string) bool {
	switch strings.TrimPrefix(name, "core::") {
	case "file", "templatefile", "filebase64", "fileset", "fileexists",
		"filemd5", "filesha1", "filesha256", "filesha512", "filebase64sha256", "filebase64sha512":
		return true
	}
	return false
}

// collector gathers the reads of one module's files.
type collector struct {
	ctx        *hcl.EvalContext
	rootDir    string
	reads      []Read
	unresolved []Unresolved
	dropped    int // calls past maxReads
}

// file reads one configuration file; rel is its repository-relative path.
func (c *collector) file(fsys fs.FS, rel string) error {
	src, err := readConfigFile(fsys, rel)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	if err := checkNesting(src, rel); err != nil {
		return err // hclsyntax would exhaust the stack, which no recover can catch
	}
	f, diags := hclsyntax.ParseConfig(src, rel, hcl.InitialPos)
	// A file with syntax errors still has a partial body; its reads are kept, since listing a
	// read too many only plans a project more.
	if f != nil {
		if body, ok := f.Body.(*hclsyntax.Body); ok {
			hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
				if call, ok := n.(*hclsyntax.FunctionCallExpr); ok && readsFile(call.Name) {
					c.call(call, src, rel)
				}
				return nil
			})
		}
	}
	return diagsError(rel, diags)
}

// readConfigFile reads a regular file of at most maxConfigFile bytes.
func readConfigFile(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, unwrapPath(err) // the caller names the file
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if fi.Size() > maxConfigFile {
		return nil, fmt.Errorf("larger than %d bytes, not read", maxConfigFile)
	}
	// The limit holds even if the file grows after the Stat.
	src, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, err
	}
	if len(src) > maxConfigFile {
		return nil, fmt.Errorf("larger than %d bytes, not read", maxConfigFile)
	}
	return src, nil
}

// call records the path one file function call reads.
func (c *collector) call(call *hclsyntax.FunctionCallExpr, src []byte, rel string) {
	if len(c.reads)+len(c.unresolved) >= maxReads {
		c.dropped++
		return
	}
	name := strings.TrimPrefix(call.Name, "core::")
	at := rel + ":" + strconv.Itoa(call.NameRange.Start.Line)
	if len(call.Args) == 0 || (name == "fileset" && len(call.Args) < 2) {
		return // reads nothing; Terraform rejects the call
	}
	if call.ExpandFinal {
		// file(list...) takes its path from a list: not worth evaluating.
		last := call.Args[len(call.Args)-1]
		c.unresolved = append(c.unresolved, Unresolved{Func: name, At: at, Expr: exprText(src, last.Range())})
		return
	}
	p, ok := evalPath(c.ctx, call.Args[0])
	if !ok {
		c.unresolved = append(c.unresolved, Unresolved{Func: name, At: at, Expr: exprText(src, call.Args[0].Range())})
		return
	}
	glob := name == "fileset"
	if glob {
		pattern, ok := evalPath(c.ctx, call.Args[1])
		if !ok {
			c.unresolved = append(c.unresolved, Unresolved{Func: name, At: at, Expr: exprText(src, call.Args[1].Range())})
			return
		}
		// Terraform's fileset globs filepath.Join(path, pattern), so a cleaned join is the glob it matches.
		p = path.Join(p, pattern)
	}
	if resolved, ok := resolve(p, c.rootDir); ok {
		c.reads = append(c.reads, Read{Path: resolved, Glob: glob, Func: name, At: at})
	}
}

// exprText is the source text of rng, cut to maxExprText bytes on a character boundary.
func exprText(src []byte, rng hcl.Range) string {
	start, end := rng.Start.Byte, rng.End.Byte
	if start < 0 || end > len(src) || start > end {
		return ""
	}
	if end-start > maxExprText {
		end = start + maxExprText
		for end > start && !utf8.RuneStart(src[end]) {
			end--
		}
	}
	return string(src[start:end])
}

// diagsError is the first error of diags as "file:line: summary: detail", or nil.
func diagsError(rel string, diags hcl.Diagnostics) error {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		line := 0
		if d.Subject != nil {
			line = d.Subject.Start.Line
		}
		return fmt.Errorf("%s:%d: %s", rel, line, msg)
	}
	return nil
}

// result sorts and deduplicates what was collected.
func (c *collector) result() ([]Read, []Unresolved) {
	slices.SortFunc(c.reads, func(a, b Read) int {
		if r := cmp.Compare(a.Path, b.Path); r != 0 {
			return r
		}
		if a.Glob != b.Glob {
			if !a.Glob {
				return -1
			}
			return 1
		}
		if r := cmp.Compare(a.Func, b.Func); r != 0 {
			return r
		}
		return compareAt(a.At, b.At)
	})
	slices.SortFunc(c.unresolved, func(a, b Unresolved) int {
		if r := compareAt(a.At, b.At); r != 0 {
			return r
		}
		if r := cmp.Compare(a.Func, b.Func); r != 0 {
			return r
		}
		return cmp.Compare(a.Expr, b.Expr)
	})
	return slices.Compact(c.reads), slices.Compact(c.unresolved)
}

// compareAt orders "file:line" positions by file, then by line as a number.
func compareAt(a, b string) int {
	af, al := splitAt(a)
	bf, bl := splitAt(b)
	if r := cmp.Compare(af, bf); r != 0 {
		return r
	}
	return cmp.Compare(al, bl)
}

func splitAt(at string) (string, int) {
	i := strings.LastIndexByte(at, ':')
	if i < 0 {
		return at, 0
	}
	n, _ := strconv.Atoi(at[i+1:])
	return at[:i], n
}
