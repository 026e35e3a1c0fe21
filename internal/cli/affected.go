package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/gitops-runner/runner/internal/changes"
	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/gitrepo"
	"github.com/gitops-runner/runner/internal/repofs"
)

// AffectedReport is what `runner affected --json` prints (documented in the README).
type AffectedReport struct {
	Base         string                   `json:"base"`
	Head         string                   `json:"head"`
	Changed      []string                 `json:"changed"`
	Environments []string                 `json:"environments"`
	Projects     []AffectedProject        `json:"projects"`
	Apps         []AffectedApp            `json:"apps"`
	Ignored      []string                 `json:"ignored"`
	Uncovered    []string                 `json:"uncovered"`
	Unresolved   []changes.UnresolvedRead `json:"unresolved"`
	Problems     map[string][]string      `json:"problems"`
}

// AffectedProject is one affected project with the chains that explain it.
type AffectedProject struct {
	Name        string           `json:"name"`
	Environment string           `json:"environment"`
	Dir         string           `json:"dir"`
	Workspace   string           `json:"workspace"`
	Reasons     []changes.Reason `json:"reasons"`
}

// AffectedApp is one affected app.
type AffectedApp struct {
	Name    string   `json:"name"`
	Reasons []string `json:"reasons"`
}

// Affected prints the projects (and apps) that a change between two commits of a local repository
// affects, each with the chain that explains it, so that change detection can be checked by hand. The
// configuration and the Terraform files are read at the head commit, never from the working files.
func Affected(ctx context.Context, env Env, args []string) error {
	fs := flag.NewFlagSet("affected", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	repo := fs.String("repo", ".", "repository (a git working copy or bare repository)")
	base := fs.String("base", "", "the commit the change starts from (required): a SHA, branch, tag or HEAD~1")
	head := fs.String("head", "HEAD", "the commit the change ends at")
	mergeBase := fs.Bool("merge-base", false, "diff from the merge base of --base and --head, as a pull request is planned")
	asJSON := fs.Bool("json", false, "print JSON (see the README for its fields)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" {
		return errors.New("--base is required")
	}
	m, err := gitrepo.OpenLocal(*repo)
	if err != nil {
		return err
	}
	headSHA, err := m.Resolve(*head)
	if err != nil {
		return err
	}
	baseSHA, err := m.Resolve(*base)
	if err != nil {
		return err
	}
	if *mergeBase {
		if baseSHA, err = m.MergeBase(ctx, baseSHA, headSHA); err != nil {
			return err
		}
	}
	changed, err := m.ChangedFiles(ctx, baseSHA, headSHA)
	if err != nil {
		return err
	}
	tree, err := os.MkdirTemp("", "runner-affected-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tree)
	src := tree + "/src"
	if err := m.Checkout(ctx, headSHA, src); err != nil {
		return err
	}
	cfg, err := config.LoadRepo(src)
	if err != nil {
		return fmt.Errorf("configuration at %s: %w", headSHA[:12], err)
	}
	res, err := changes.Affected(repofs.Dir(src), cfg, changed)
	if err != nil {
		return err
	}
	rep := affectedReport(cfg, res, baseSHA, headSHA, changed)
	if *asJSON {
		return writeJSON(env.Stdout, rep)
	}
	printAffected(env.Stdout, rep)
	return nil
}

func affectedReport(cfg *config.Repo, res changes.Result, base, head string, changed []string) AffectedReport {
	rep := AffectedReport{Base: base, Head: head, Changed: nonNil(changed), Environments: nonNil(res.Environments),
		Projects: []AffectedProject{}, Apps: []AffectedApp{}, Ignored: nonNil(res.Ignored), Uncovered: nonNil(res.Uncovered),
		Unresolved: res.Unresolved, Problems: res.Problems}
	if rep.Unresolved == nil {
		rep.Unresolved = []changes.UnresolvedRead{}
	}
	for _, e := range cfg.Ordered() {
		for _, name := range res.Projects[e.Name] {
			p, _ := e.Project(name)
			rep.Projects = append(rep.Projects, AffectedProject{Name: p.Name, Environment: e.Name, Dir: p.Dir,
				Workspace: p.Workspace, Reasons: res.Why[p.Name]})
		}
	}
	for _, a := range res.Apps {
		rep.Apps = append(rep.Apps, AffectedApp{Name: a, Reasons: res.Reasons[a]})
	}
	return rep
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func printAffected(w io.Writer, rep AffectedReport) {
	fmt.Fprintf(w, "%s..%s: %d file(s) changed\n", rep.Base[:12], rep.Head[:12], len(rep.Changed))
	if len(rep.Projects) == 0 && len(rep.Apps) == 0 {
		fmt.Fprintln(w, "nothing is affected")
	}
	env := ""
	for _, p := range rep.Projects {
		if p.Environment != env {
			env = p.Environment
			fmt.Fprintf(w, "\nenvironment %s\n", env)
		}
		fmt.Fprintf(w, "  project %s (%s, workspace %s)\n", p.Name, p.Dir, p.Workspace)
		for _, r := range p.Reasons {
			fmt.Fprintf(w, "    %s\n", r)
		}
	}
	for i, a := range rep.Apps {
		if i == 0 {
			fmt.Fprintln(w, "\napps")
		}
		fmt.Fprintf(w, "  app %s\n", a.Name)
		for _, r := range a.Reasons {
			fmt.Fprintf(w, "    %s\n", r)
		}
	}
	list := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s\n", title)
		for _, it := range items {
			fmt.Fprintf(w, "  %s\n", it)
		}
	}
	list("ignored (documentation: affects nothing)", rep.Ignored)
	list("not covered: folders with Terraform files that changed but that no project plans", rep.Uncovered)
	var unresolved []string
	for _, u := range rep.Unresolved {
		unresolved = append(unresolved, fmt.Sprintf("%s: %s(%s) at %s: every file under the module's folder counts", u.Project, u.Func, u.Expr, u.At))
	}
	list("reads with a path not known statically", unresolved)
	var problems []string
	names := make([]string, 0, len(rep.Problems))
	for n := range rep.Problems {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		problems = append(problems, n+": "+strings.Join(rep.Problems[n], "; "))
	}
	list("could not read", problems)
}
