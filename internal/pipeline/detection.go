package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/gitops-runner/runner/internal/changes"
	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/tf"
)

// detectionKey is the sticky comment that says what change detection could not decide.
const detectionKey = "runner.detection"

// maxDetectionItems bounds each list of the detection comment.
const maxDetectionItems = 30

// detectionNotes posts on the pull request what change detection could not work out: configurations it
// could not read, Terraform folders no project covers, and file reads whose path is not known statically.
// Nothing is only logged: a person reading the pull request sees why a folder was or was not planned.
func (w *work) detectionNotes(ctx context.Context, res changes.Result) {
	var b strings.Builder
	if len(res.Problems) > 0 {
		b.WriteString("**Could not read** (the projects are still planned when their own files changed; the plan shows the error):\n\n")
		names := make([]string, 0, len(res.Problems))
		for n := range res.Problems {
			names = append(names, n)
		}
		sort.Strings(names)
		for i, n := range names {
			if i == maxDetectionItems {
				fmt.Fprintf(&b, "- and %d more\n", len(names)-i)
				break
			}
			fmt.Fprintf(&b, "- project %s: %s\n", codeName(n), escapeMarkdown(w.redactor.String(strings.Join(res.Problems[n], "; "))))
		}
		b.WriteString("\n")
	}
	if len(res.Uncovered) > 0 {
		fmt.Fprintf(&b, "**Not planned: no project covers these folders** with Terraform files that changed (list them in `%s`, "+
			"or match them with an environment's `roots`):\n\n", config.RepoFile)
		for i, d := range res.Uncovered {
			if i == maxDetectionItems {
				fmt.Fprintf(&b, "- and %d more\n", len(res.Uncovered)-i)
				break
			}
			fmt.Fprintf(&b, "- %s\n", codeName(d))
		}
		b.WriteString("\n")
	}
	if len(res.Unresolved) > 0 {
		b.WriteString("**File reads with a path not known statically**: every file under the reading module's folder counts as read by it.\n\n")
		for i, u := range res.Unresolved {
			if i == maxDetectionItems {
				fmt.Fprintf(&b, "- and %d more\n", len(res.Unresolved)-i)
				break
			}
			fmt.Fprintf(&b, "- %s: `%s(%s)` at %s\n", codeName(u.Project), escapeMarkdown(u.Func),
				escapeMarkdown(strings.ReplaceAll(u.Expr, "`", "'")), escapeMarkdown(u.At))
		}
		b.WriteString("\n")
	}
	if b.Len() == 0 {
		return
	}
	w.planComment(ctx, detectionKey, "### Change detection\n\n"+b.String(), "")
}

// projectOutcomes reports each project of an environment of several projects on its own commit status or
// check run ("runner/plan: <env>/<project>"), so a failure shows where it happened.
func (w *work) projectOutcomes(ctx context.Context, env config.Environment, result PlanResult, policyBlocked bool) {
	if single(env) || len(result.Projects) == 0 {
		return
	}
	for _, p := range result.Projects {
		name := "runner/plan: " + env.Name + "/" + p.Name
		state, desc := "success", summaryLine(p.Summary)
		switch {
		case p.Err != "":
			state, desc = "failure", "plan failed: "+firstLine(w.redactor.String(p.Err))
		case policyBlocked && len(p.PolicyFailures) > 0:
			state, desc = "failure", fmt.Sprintf("policy checks: %d failure(s)", len(p.PolicyFailures))
		}
		if w.e.deps.Checks == nil {
			if w.e.deps.PRs == nil || (w.cfg != nil && !w.cfg.Notify.GitHub.Statuses) {
				continue
			}
			ev := w.run.Event
			if err := w.e.deps.PRs.SetStatus(context.WithoutCancel(ctx), ev.Repo, ev.SHA, name, state, desc, w.runURL()); err != nil {
				w.log.Warn("post commit status", "context", name, "err", w.redactor.String(err.Error()))
			}
			continue
		}
		run := CheckRun{Name: name, HeadSHA: w.run.Event.SHA, ExternalID: externalID(w.run.ID, env.Name+"/"+p.Name, 0),
			DetailsURL: w.runURL(), Status: "completed", Conclusion: state, Title: firstLine(desc), Summary: desc}
		one := PlanResult{Projects: []ProjectResult{p}}
		run.Summary = w.redactor.String(one.Markdown())
		if p.Err != "" {
			text := w.redactor.String(p.Err)
			run.Text = "```\n" + fence(text) + "\n```\n"
			run.Annotations = annotationsIn(p.Dir, text)
		} else {
			run.Text = "```\n" + fence(w.redactor.String(p.Text)) + "\n```\n"
		}
		w.upsertCheck(ctx, run)
	}
}

// failureAnnotations places the diagnostics of a failed plan: per project for an environment of several.
func (w *work) failureAnnotations(env, text string, failure error) []Annotation {
	var pf *ProjectsFailed
	if !errors.As(failure, &pf) {
		return w.annotations(env, text)
	}
	var out []Annotation
	for i, name := range pf.Names {
		dir := ""
		if p, ok := w.cfg.Project(name); ok {
			dir = p.Dir
		}
		out = append(out, annotationsIn(dir, w.redactor.String(pf.Errs[i].Error()))...)
	}
	return out
}

// annotationsIn places Terraform's diagnostics, whose file names are relative to dir, in the repository.
func annotationsIn(dir, text string) []Annotation {
	var out []Annotation
	for _, d := range tf.ParseDiagnostics(text) {
		if d.File == "" || d.Line <= 0 {
			continue
		}
		p := path.Clean(path.Join(dir, d.File))
		if strings.HasPrefix(p, "../") || path.IsAbs(p) {
			continue // outside the repository
		}
		level := "failure"
		if d.Severity == "warning" {
			level = "warning"
		}
		out = append(out, Annotation{Path: p, StartLine: d.Line, EndLine: d.Line, Level: level, Title: d.Summary, Message: cmpOr(d.Detail, d.Summary)})
	}
	return out
}
