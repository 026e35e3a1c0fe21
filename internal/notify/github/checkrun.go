package github

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	gh "github.com/google/go-github/v60/github"
)

// GitHub's limits on a check run.
const (
	// MaxCheckRunOutput is GitHub's limit on a check run's summary, and on its text, in characters; the runner
	// budgets bytes, which are never fewer.
	MaxCheckRunOutput = 65535
	// MaxAnnotationsPerRequest is how many annotations GitHub takes in one create or update.
	MaxAnnotationsPerRequest = 50
	// MaxCheckRunActions is how many buttons a check run may offer.
	MaxCheckRunActions = 3

	maxCheckTitle        = 255 // GitHub documents none; a title is one line of the checks list
	maxAnnotationTitle   = 255
	maxAnnotationText    = 64 << 10 // message and raw_details: 64 KB each
	maxActionLabel       = 20
	maxActionDescription = 40
	maxActionIdentifier  = 20
)

// CheckRun is one check run of the runner's (e.g. the plan of one environment) on a commit.
type CheckRun struct {
	Name    string // e.g. "runner/plan: dev"; the run is found again by it
	HeadSHA string
	// Status is queued, in_progress or completed; empty means completed when Conclusion is set, else queued.
	Status string
	// Conclusion, once completed: success, failure, neutral, cancelled, skipped, action_required or timed_out.
	Conclusion string
	ExternalID string // the runner's own id, e.g. "run:12:env:prod"
	DetailsURL string
	// Title, Summary and Text are the output (Markdown). Summary and Text are cut to GitHub's limit without
	// breaking a character or leaving a code fence open. When any output is given, an empty Title is the Name
	// and an empty Summary the Title.
	Title, Summary, Text string
	Annotations          []Annotation
	Actions              []CheckAction // at most MaxCheckRunActions
}

// Annotation marks lines of a file in the check run (and in the pull request's diff).
type Annotation struct {
	Path               string // relative to the repository root
	StartLine, EndLine int    // EndLine 0 means StartLine
	Level              string // notice, warning or failure
	Title, Message     string
	RawDetails         string
}

// CheckAction is a button on the check run; pressing it sends a check_run "requested_action" webhook carrying
// Identifier. Label is cut to 20 characters and Description to 40; Identifier must fit in 20.
type CheckAction struct {
	Label, Description, Identifier string
}

// UpsertCheckRun creates the check run named run.Name on run.HeadSHA, or updates the one this App already made
// there (found by listing the commit's check runs of that name), and returns its id. A run that already carries
// annotations is not updated but superseded by a new one of the same name, since GitHub can only add
// annotations, never remove them, and stale ones would point at lines since fixed. Annotations go 50 per request:
// the first 50 with the create or update, the rest in further updates repeating the output. Everything posted is
// redacted. It needs App credentials (see App): GitHub refuses check runs to personal tokens.
func (c *Client) UpsertCheckRun(ctx context.Context, repo string, run CheckRun) (int64, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return 0, err
	}
	req, err := c.checkRunRequest(run)
	if err != nil {
		return 0, c.errorf("check run %q on %s@%s: %w", run.Name, repo, run.HeadSHA, err)
	}
	existing, err := c.findCheckRun(ctx, owner, name, req.name, run.HeadSHA)
	if err != nil {
		return 0, c.errorf("check run %q on %s@%s: %w", run.Name, repo, run.HeadSHA, err)
	}
	batches := batchAnnotations(req.annotations)
	var first []*gh.CheckRunAnnotation
	if len(batches) > 0 {
		first = batches[0]
	}
	var id int64
	if existing == nil || existing.GetOutput().GetAnnotationsCount() > 0 {
		cr, _, err := c.gh.Checks.CreateCheckRun(ctx, owner, name, gh.CreateCheckRunOptions{
			Name: req.name, HeadSHA: run.HeadSHA, DetailsURL: req.detailsURL, ExternalID: req.externalID,
			Status: &req.status, Conclusion: req.conclusion, CompletedAt: req.completedAt,
			Output: req.output(first), Actions: req.actions,
		})
		if err != nil {
			return 0, c.errorf("create check run %q on %s@%s: %w", run.Name, repo, run.HeadSHA, err)
		}
		id = cr.GetID()
	} else {
		id = existing.GetID()
		if _, _, err := c.gh.Checks.UpdateCheckRun(ctx, owner, name, id, gh.UpdateCheckRunOptions{
			Name: req.name, DetailsURL: req.detailsURL, ExternalID: req.externalID,
			Status: &req.status, Conclusion: req.conclusion, CompletedAt: req.completedAt,
			Output: req.output(first), Actions: req.actions,
		}); err != nil {
			return id, c.errorf("update check run %d %q on %s@%s: %w", id, run.Name, repo, run.HeadSHA, err)
		}
	}
	for i := 1; i < len(batches); i++ {
		if _, _, err := c.gh.Checks.UpdateCheckRun(ctx, owner, name, id, gh.UpdateCheckRunOptions{
			Name: req.name, Output: req.output(batches[i]),
		}); err != nil {
			return id, c.errorf("check run %d %q on %s@%s: annotations %d-%d: %w", id, run.Name, repo, run.HeadSHA,
				i*MaxAnnotationsPerRequest+1, i*MaxAnnotationsPerRequest+len(batches[i]), err)
		}
	}
	return id, nil
}

// findCheckRun returns the newest check run of this App named name on sha, or nil.
func (c *Client) findCheckRun(ctx context.Context, owner, repo, name, sha string) (*gh.CheckRun, error) {
	opts := &gh.ListCheckRunsOptions{CheckName: &name, ListOptions: gh.ListOptions{PerPage: 100}}
	if c.appID != 0 {
		opts.AppID = &c.appID
	}
	res, _, err := c.gh.Checks.ListCheckRunsForRef(ctx, owner, repo, sha, opts)
	if err != nil {
		return nil, fmt.Errorf("list check runs: %w", err)
	}
	var found *gh.CheckRun
	for _, cr := range res.CheckRuns {
		if cr.GetName() != name || (c.appID != 0 && cr.GetApp() != nil && cr.GetApp().GetID() != c.appID) {
			continue
		}
		if found == nil || cr.GetID() > found.GetID() {
			found = cr
		}
	}
	return found, nil
}

// checkRunBody is a CheckRun redacted, cut to GitHub's limits and checked, ready to send.
type checkRunBody struct {
	name, status           string
	conclusion             *string
	completedAt            *gh.Timestamp
	detailsURL, externalID *string
	hasOutput              bool
	title, summary, text   string
	annotations            []*gh.CheckRunAnnotation
	actions                []*gh.CheckRunAction
}

func (c *Client) checkRunRequest(run CheckRun) (*checkRunBody, error) {
	if run.Name == "" || run.HeadSHA == "" {
		return nil, fmt.Errorf("a check run needs a name and a head SHA")
	}
	b := &checkRunBody{name: c.mask.String(run.Name), status: run.Status}
	if b.status == "" {
		b.status = "queued"
		if run.Conclusion != "" {
			b.status = "completed"
		}
	}
	switch b.status {
	case "queued", "in_progress", "completed":
	default:
		return nil, fmt.Errorf("status %q is not queued, in_progress or completed", run.Status)
	}
	if run.Conclusion != "" {
		switch run.Conclusion {
		case "success", "failure", "neutral", "cancelled", "skipped", "action_required", "timed_out":
		default:
			return nil, fmt.Errorf("conclusion %q is not one GitHub knows", run.Conclusion)
		}
		b.conclusion = &run.Conclusion
	}
	if b.status == "completed" {
		if run.Conclusion == "" {
			return nil, fmt.Errorf("a completed check run needs a conclusion")
		}
		b.completedAt = &gh.Timestamp{Time: time.Now()}
	}
	if run.DetailsURL != "" {
		b.detailsURL = gh.String(c.mask.String(run.DetailsURL))
	}
	if run.ExternalID != "" {
		b.externalID = gh.String(c.mask.String(run.ExternalID))
	}
	for i, a := range run.Annotations {
		an, err := c.annotation(a)
		if err != nil {
			return nil, fmt.Errorf("annotation %d: %w", i+1, err)
		}
		b.annotations = append(b.annotations, an)
	}
	b.hasOutput = run.Title != "" || run.Summary != "" || run.Text != "" || len(b.annotations) > 0
	if b.hasOutput {
		title, summary := run.Title, run.Summary
		if title == "" {
			title = run.Name
		}
		if summary == "" {
			summary = title
		}
		b.title = truncateRunes(c.mask.String(title), maxCheckTitle, true)
		b.summary = cutMarkdown(c.mask.String(summary), MaxCheckRunOutput)
		b.text = cutMarkdown(c.mask.String(run.Text), MaxCheckRunOutput)
	}
	if len(run.Actions) > MaxCheckRunActions {
		return nil, fmt.Errorf("%d actions, GitHub allows %d", len(run.Actions), MaxCheckRunActions)
	}
	for _, a := range run.Actions {
		if a.Label == "" || a.Description == "" || a.Identifier == "" {
			return nil, fmt.Errorf("action %q needs a label, a description and an identifier", a.Identifier)
		}
		if utf8.RuneCountInString(a.Identifier) > maxActionIdentifier {
			return nil, fmt.Errorf("action identifier %q is over %d characters", a.Identifier, maxActionIdentifier)
		}
		b.actions = append(b.actions, &gh.CheckRunAction{
			Label:       truncateRunes(c.mask.String(a.Label), maxActionLabel, true),
			Description: truncateRunes(c.mask.String(a.Description), maxActionDescription, true),
			Identifier:  a.Identifier,
		})
	}
	return b, nil
}

// annotation checks a and turns it into go-github's form, redacted and cut.
func (c *Client) annotation(a Annotation) (*gh.CheckRunAnnotation, error) {
	switch a.Level {
	case "notice", "warning", "failure":
	default:
		return nil, fmt.Errorf("level %q is not notice, warning or failure", a.Level)
	}
	end := a.EndLine
	if end == 0 {
		end = a.StartLine
	}
	switch {
	case a.Path == "":
		return nil, fmt.Errorf("no path")
	case a.StartLine < 1 || end < a.StartLine:
		return nil, fmt.Errorf("%s: lines %d-%d", a.Path, a.StartLine, a.EndLine)
	case a.Message == "":
		return nil, fmt.Errorf("%s:%d: no message", a.Path, a.StartLine)
	}
	an := &gh.CheckRunAnnotation{
		Path:            gh.String(c.mask.String(a.Path)),
		StartLine:       gh.Int(a.StartLine),
		EndLine:         gh.Int(end),
		AnnotationLevel: gh.String(a.Level),
		Message:         gh.String(cutText(c.mask.String(a.Message), maxAnnotationText)),
	}
	if a.Title != "" {
		an.Title = gh.String(truncateRunes(c.mask.String(a.Title), maxAnnotationTitle, true))
	}
	if a.RawDetails != "" {
		an.RawDetails = gh.String(cutText(c.mask.String(a.RawDetails), maxAnnotationText))
	}
	return an, nil
}

// output is the run's output carrying annotations, or nil when the run has none.
func (b *checkRunBody) output(annotations []*gh.CheckRunAnnotation) *gh.CheckRunOutput {
	if !b.hasOutput {
		return nil
	}
	o := &gh.CheckRunOutput{Title: gh.String(b.title), Summary: gh.String(b.summary), Annotations: annotations}
	if b.text != "" {
		o.Text = gh.String(b.text)
	}
	return o
}

// batchAnnotations splits annotations into GitHub's per-request batches.
func batchAnnotations(all []*gh.CheckRunAnnotation) [][]*gh.CheckRunAnnotation {
	var out [][]*gh.CheckRunAnnotation
	for len(all) > 0 {
		n := min(len(all), MaxAnnotationsPerRequest)
		out = append(out, all[:n])
		all = all[n:]
	}
	return out
}

// cutText cuts plain text to at most limit bytes on a rune boundary, ending with an ellipsis when it cut.
func cutText(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= limit {
		return s
	}
	return cutBytes(s, limit-len("…")) + "…"
}
