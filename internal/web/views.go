package web

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gitops-runner/runner/internal/store"
)

// githubWeb is where the links to pull requests, commits, comparisons and deployments point.
const githubWeb = "https://github.com"

var hexSHA = regexp.MustCompile(`^[0-9a-fA-F]{7,64}$`)

// githubURL is a link into repo's pages on GitHub, every path segment escaped; "" when repo is not
// owner/name (then the page shows no link rather than a link somewhere else).
func githubURL(repo string, segments ...string) string {
	if !validRepo(repo) {
		return ""
	}
	owner, name, _ := strings.Cut(repo, "/")
	parts := []string{githubWeb, url.PathEscape(owner), url.PathEscape(name)}
	for _, s := range segments {
		parts = append(parts, url.PathEscape(s))
	}
	return strings.Join(parts, "/")
}

// commitURL links a commit, or "" when sha is not hex.
func commitURL(repo, sha string) string {
	if !hexSHA.MatchString(sha) {
		return ""
	}
	return githubURL(repo, "commit", sha)
}

// pullURL links a pull request, or "" when there is none.
func pullURL(repo string, pr int) string {
	if pr <= 0 {
		return ""
	}
	return githubURL(repo, "pull", strconv.Itoa(pr))
}

// compareURL links GitHub's comparison of two commits, or "" when either is not hex.
func compareURL(repo, from, to string) string {
	if !hexSHA.MatchString(from) || !hexSHA.MatchString(to) {
		return ""
	}
	return githubURL(repo, "compare", from+"..."+to)
}

// deploymentsURL links GitHub's deployments of one environment.
func deploymentsURL(repo, env string) string {
	u := githubURL(repo, "deployments")
	if u == "" || env == "" {
		return u
	}
	return u + "?environment=" + url.QueryEscape(env)
}

// short is a SHA's first 7 characters.
func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// when formats a time for the pages, "" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// span is the time from start to end (to now when end is zero), "" when it has not started.
func span(start, end, now time.Time) time.Duration {
	if start.IsZero() {
		return 0
	}
	if end.IsZero() {
		end = now
	}
	if end.Before(start) {
		return 0
	}
	return end.Sub(start)
}

// human formats a duration to a precision people read: 850ms, 12s, 3m04s, 1h02m.
func human(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// runRow is one run in the runs list.
type runRow struct {
	ID          int64
	Repo        string
	Event       string // kind and event name
	Ref         string // branch, without refs/heads/
	PR          int
	PRURL       string
	SHA         string
	CommitURL   string
	Status      string
	Envs        []string
	Created     string
	Duration    string
	RequestedBy string
}

func newRunRow(r store.Run, now time.Time) runRow {
	ev := r.Event
	return runRow{
		ID: r.ID, Repo: ev.Repo, Event: strings.TrimSpace(ev.Kind + " " + ev.Name), Ref: branch(ev.Ref), PR: ev.PR,
		PRURL: pullURL(ev.Repo, ev.PR), SHA: short(ev.SHA), CommitURL: commitURL(ev.Repo, ev.SHA), Status: r.Status,
		Envs: r.Environments, Created: when(r.Created), Duration: human(span(r.Started, r.Finished, now)),
		RequestedBy: ev.RequestedBy,
	}
}

func branch(ref string) string {
	return strings.TrimPrefix(ref, "refs/heads/")
}

// stageView is one stage on a run's timeline.
type stageView struct {
	store.Stage
	Duration string
	// Offset and Width place the stage's bar on the run's timeline, in per mille of the run's span.
	Offset, Width int
	Started       string
	Live          bool // the stage may still write its log
	Lines         []store.LogLine
	More          bool  // the log has more lines than shown
	Last          int64 // the last line's sequence number shown, 0 for none
}

// timeline places stages on one axis from the earliest start to the latest end.
func timeline(stages []store.Stage, now time.Time) []stageView {
	var first, last time.Time
	for _, s := range stages {
		if s.Started.IsZero() {
			continue
		}
		end := s.Finished
		if end.IsZero() {
			end = now
		}
		if first.IsZero() || s.Started.Before(first) {
			first = s.Started
		}
		if end.After(last) {
			last = end
		}
	}
	total := last.Sub(first)
	out := make([]stageView, 0, len(stages))
	for _, s := range stages {
		v := stageView{Stage: s, Started: when(s.Started), Live: !stageDone(s.Status)}
		d := span(s.Started, s.Finished, now)
		v.Duration = human(d)
		if !s.Started.IsZero() && total > 0 {
			v.Offset = int(s.Started.Sub(first) * 1000 / total)
			v.Width = max(int(d*1000/total), 4)
			v.Width = min(v.Width, 1000-min(v.Offset, 996))
		} else if !s.Started.IsZero() {
			v.Width = 1000
		}
		out = append(out, v)
	}
	return out
}

// stageDone reports whether a stage status is final: its log is complete.
func stageDone(status string) bool {
	switch status {
	case store.StageSucceeded, store.StageFailed, store.StageSkipped, store.StageCancelled:
		return true
	}
	return false
}

// planView is one environment's plan as the run page summarises it.
type planView struct {
	Env                           string
	Stage                         int64
	Summary                       string // the stored sentence, shown as it is
	NoChanges                     bool
	Parsed                        bool
	Add, Change, Destroy, Replace int
	Replacements                  []string // addresses of resources Terraform replaces
	Review                        string
	DeploymentsURL                string
}

var summaryPattern = regexp.MustCompile(`^(\d+) to add, (\d+) to change, (\d+) to destroy(?:, (\d+) to replace)?`)

// plans reads the plan summaries the pipeline keeps in the output of each environment's plan stage:
// "summary" ("N to add, N to change, N to destroy, N to replace" or "no changes"), "fingerprint" (the
// planned resource changes, JSON) and, on deploys, "review".
func plans(repo string, stages []store.Stage) []planView {
	var out []planView
	for _, s := range stages {
		sum, ok := s.Output["summary"]
		if s.Name != "plan" || !ok {
			continue
		}
		p := planView{Env: s.Env, Stage: s.ID, Summary: sum, Review: s.Output["review"], DeploymentsURL: deploymentsURL(repo, s.Env)}
		if sum == "no changes" {
			p.NoChanges, p.Parsed = true, true
		} else if m := summaryPattern.FindStringSubmatch(sum); m != nil {
			p.Parsed = true
			p.Add, _ = strconv.Atoi(m[1])
			p.Change, _ = strconv.Atoi(m[2])
			p.Destroy, _ = strconv.Atoi(m[3])
			p.Replace, _ = strconv.Atoi(m[4])
		}
		var changes []struct {
			Address string `json:"address"`
			Actions string `json:"actions"`
		}
		if err := json.Unmarshal([]byte(s.Output["fingerprint"]), &changes); err == nil {
			for _, c := range changes {
				if c.Actions == "delete,create" || c.Actions == "create,delete" {
					p.Replacements = append(p.Replacements, c.Address)
				}
			}
		}
		out = append(out, p)
	}
	return out
}
