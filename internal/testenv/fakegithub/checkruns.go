package fakegithub

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// GitHub's limits on a check run request.
const (
	MaxCheckRunOutput      = 65535 // characters in output.summary, and in output.text
	MaxAnnotationsPerCall  = 50
	MaxCheckRunActions     = 3
	maxActionLabel         = 20
	maxActionDescription   = 40
	maxActionIdentifier    = 20
	checkRunsDocumentation = "https://docs.github.com/rest/checks/runs#create-a-check-run"
)

// CheckRunRecord is a check run as the fake keeps it.
type CheckRunRecord struct {
	ID         int64
	AppID      int64 // the App whose installation token created it
	Name       string
	HeadSHA    string
	Status     string // queued, in_progress or completed
	Conclusion string
	ExternalID string
	DetailsURL string
	// Title, Summary and Text are the output of the latest request that had one.
	Title, Summary, Text string
	// Annotations are every annotation posted, across requests: GitHub appends those of each update.
	Annotations []CheckAnnotation
	Actions     []CheckAction
	StartedAt   time.Time
	CompletedAt time.Time
}

// CheckAnnotation is one annotation of a check run's output.
type CheckAnnotation struct {
	Path                   string
	StartLine, EndLine     int
	StartColumn, EndColumn int
	Level                  string // notice, warning or failure
	Title, Message         string
	RawDetails             string
}

// CheckAction is a button a check run offers; pressing it sends a check_run "requested_action" webhook.
type CheckAction struct {
	Label, Description, Identifier string
}

type checkRun struct {
	CheckRunRecord
	repo string
}

// CheckRuns returns the check runs made on repo, oldest first.
func (s *Server) CheckRuns(repo string) []CheckRunRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CheckRunRecord, 0, len(s.checkRuns[repo]))
	for _, c := range s.checkRuns[repo] {
		r := c.CheckRunRecord
		r.Annotations = slices.Clone(r.Annotations)
		r.Actions = slices.Clone(r.Actions)
		out = append(out, r)
	}
	return out
}

type checkRunRequest struct {
	Name        *string `json:"name"`
	HeadSHA     *string `json:"head_sha"`
	DetailsURL  *string `json:"details_url"`
	ExternalID  *string `json:"external_id"`
	Status      *string `json:"status"`
	Conclusion  *string `json:"conclusion"`
	StartedAt   *string `json:"started_at"`
	CompletedAt *string `json:"completed_at"`
	Output      *struct {
		Title       *string             `json:"title"`
		Summary     *string             `json:"summary"`
		Text        *string             `json:"text"`
		Annotations []annotationRequest `json:"annotations"`
	} `json:"output"`
	Actions []actionRequest `json:"actions"`
}

type annotationRequest struct {
	Path            *string `json:"path"`
	StartLine       *int    `json:"start_line"`
	EndLine         *int    `json:"end_line"`
	StartColumn     *int    `json:"start_column"`
	EndColumn       *int    `json:"end_column"`
	AnnotationLevel *string `json:"annotation_level"`
	Message         *string `json:"message"`
	Title           *string `json:"title"`
	RawDetails      *string `json:"raw_details"`
}

type actionRequest struct {
	Label       *string `json:"label"`
	Description *string `json:"description"`
	Identifier  *string `json:"identifier"`
}

// invalid is the field and message of a 422 answer.
type invalid struct{ field, code, msg string }

func (v *invalid) write(w http.ResponseWriter) int {
	return writeValidation(w, "CheckRun", v.field, v.code, v.msg)
}

func missing(field string) *invalid { return &invalid{field, "missing_field", field + " is missing"} }

// validate checks req as GitHub does; run is the existing check run an update applies to, nil on create.
func (req *checkRunRequest) validate(run *checkRun) *invalid {
	if run == nil {
		if req.Name == nil || *req.Name == "" {
			return missing("name")
		}
		if req.HeadSHA == nil || *req.HeadSHA == "" {
			return missing("head_sha")
		}
	}
	if req.Status != nil {
		switch *req.Status {
		case "queued", "in_progress", "completed":
		default:
			return &invalid{"status", "invalid", fmt.Sprintf("status %q is not queued, in_progress or completed", *req.Status)}
		}
	}
	if req.Conclusion != nil {
		switch *req.Conclusion {
		case "success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required":
		default:
			return &invalid{"conclusion", "invalid", fmt.Sprintf("conclusion %q is not one GitHub knows", *req.Conclusion)}
		}
	}
	hadConclusion := run != nil && run.Conclusion != ""
	completing := (req.Status != nil && *req.Status == "completed") || req.CompletedAt != nil
	if completing && req.Conclusion == nil && !hadConclusion {
		return &invalid{"conclusion", "missing_field", "conclusion is required when status is completed"}
	}
	if o := req.Output; o != nil {
		if o.Title == nil {
			return missing("output.title")
		}
		if o.Summary == nil {
			return missing("output.summary")
		}
		for field, v := range map[string]*string{"output.summary": o.Summary, "output.text": o.Text} {
			if v != nil && utf8.RuneCountInString(*v) > MaxCheckRunOutput {
				return &invalid{field, "custom", fmt.Sprintf("%s is too long (maximum is %d characters)", field, MaxCheckRunOutput)}
			}
		}
		if len(o.Annotations) > MaxAnnotationsPerCall {
			return &invalid{"output.annotations", "custom", fmt.Sprintf("only %d annotations are allowed per request", MaxAnnotationsPerCall)}
		}
		for i, a := range o.Annotations {
			field := fmt.Sprintf("output.annotations[%d]", i)
			switch {
			case a.Path == nil || *a.Path == "":
				return missing(field + ".path")
			case a.StartLine == nil:
				return missing(field + ".start_line")
			case a.EndLine == nil:
				return missing(field + ".end_line")
			case a.Message == nil || *a.Message == "":
				return missing(field + ".message")
			case a.AnnotationLevel == nil:
				return missing(field + ".annotation_level")
			}
			switch *a.AnnotationLevel {
			case "notice", "warning", "failure":
			default:
				return &invalid{field + ".annotation_level", "invalid", fmt.Sprintf("annotation_level %q is not notice, warning or failure", *a.AnnotationLevel)}
			}
		}
	}
	if len(req.Actions) > MaxCheckRunActions {
		return &invalid{"actions", "custom", fmt.Sprintf("only %d actions are allowed", MaxCheckRunActions)}
	}
	for i, a := range req.Actions {
		field := fmt.Sprintf("actions[%d]", i)
		for _, f := range []struct {
			name string
			v    *string
			max  int
		}{{"label", a.Label, maxActionLabel}, {"description", a.Description, maxActionDescription}, {"identifier", a.Identifier, maxActionIdentifier}} {
			if f.v == nil || *f.v == "" {
				return missing(field + "." + f.name)
			}
			if utf8.RuneCountInString(*f.v) > f.max {
				return &invalid{field + "." + f.name, "custom", fmt.Sprintf("%s is too long (maximum is %d characters)", f.name, f.max)}
			}
		}
	}
	return nil
}

// apply writes an already validated request into run.
func (req *checkRunRequest) apply(run *checkRun, now time.Time) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&run.Name, req.Name)
	set(&run.DetailsURL, req.DetailsURL)
	set(&run.ExternalID, req.ExternalID)
	set(&run.Status, req.Status)
	if req.Conclusion != nil {
		// A conclusion completes the run, whatever status says.
		run.Conclusion, run.Status = *req.Conclusion, "completed"
	}
	if run.Status == "completed" {
		if run.CompletedAt.IsZero() {
			run.CompletedAt = now
		}
	} else {
		run.Conclusion, run.CompletedAt = "", time.Time{}
	}
	if o := req.Output; o != nil {
		// The output is replaced as a whole, except annotations, which are appended.
		run.Title, run.Summary, run.Text = *o.Title, *o.Summary, ""
		set(&run.Text, o.Text)
		for _, a := range o.Annotations {
			an := CheckAnnotation{Path: *a.Path, StartLine: *a.StartLine, EndLine: *a.EndLine, Level: *a.AnnotationLevel, Message: *a.Message}
			set(&an.Title, a.Title)
			set(&an.RawDetails, a.RawDetails)
			if a.StartColumn != nil {
				an.StartColumn = *a.StartColumn
			}
			if a.EndColumn != nil {
				an.EndColumn = *a.EndColumn
			}
			run.Annotations = append(run.Annotations, an)
		}
	}
	if req.Actions != nil {
		run.Actions = run.Actions[:0]
		for _, a := range req.Actions {
			run.Actions = append(run.Actions, CheckAction{Label: *a.Label, Description: *a.Description, Identifier: *a.Identifier})
		}
	}
}

// checkRunApp is the App a check-run write is made by: only an installation token the fake minted acts for one.
// Real GitHub refuses personal and OAuth tokens here with this very message.
func (s *Server) checkRunApp(w http.ResponseWriter, r *http.Request) (int64, int) {
	tok, _ := bearer(r)
	s.mu.Lock()
	id, ok := s.appOf[tok]
	s.mu.Unlock()
	if !ok {
		return 0, writeJSON(w, http.StatusForbidden, apiError{Message: "You must authenticate via a GitHub App.",
			DocumentationURL: checkRunsDocumentation, Status: "403"})
	}
	return id, 0
}

func decodeCheckRun(w http.ResponseWriter, raw []byte) (*checkRunRequest, int) {
	var req checkRunRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, writeError(w, http.StatusBadRequest, "Problems parsing JSON")
	}
	return &req, 0
}

// createCheckRun answers POST /repos/{owner}/{repo}/check-runs.
func (s *Server) createCheckRun(w http.ResponseWriter, r *http.Request, raw []byte, p params) int {
	appID, status := s.checkRunApp(w, r)
	if status != 0 {
		return status
	}
	req, status := decodeCheckRun(w, raw)
	if status != 0 {
		return status
	}
	if v := req.validate(nil); v != nil {
		return v.write(w)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	run := &checkRun{repo: p.full(), CheckRunRecord: CheckRunRecord{ID: s.id(), AppID: appID, Status: "queued", StartedAt: now}}
	req.HeadSHA, run.HeadSHA = nil, *req.HeadSHA
	req.apply(run, now)
	s.checkRuns[p.full()] = append(s.checkRuns[p.full()], run)
	return writeJSON(w, http.StatusCreated, s.checkRunJSON(run))
}

// findCheckRun returns repo's check run id; s.mu is held.
func (s *Server) findCheckRun(repo, id string) *checkRun {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil
	}
	for _, c := range s.checkRuns[repo] {
		if c.ID == n {
			return c
		}
	}
	return nil
}

// updateCheckRun answers PATCH /repos/{owner}/{repo}/check-runs/{id}. Only the App that made a check run may
// change it.
func (s *Server) updateCheckRun(w http.ResponseWriter, r *http.Request, raw []byte, p params) int {
	appID, status := s.checkRunApp(w, r)
	if status != 0 {
		return status
	}
	req, status := decodeCheckRun(w, raw)
	if status != 0 {
		return status
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.findCheckRun(p.full(), p.rest[1])
	if run == nil {
		return writeError(w, http.StatusNotFound, "Not Found")
	}
	if run.AppID != appID {
		return writeError(w, http.StatusForbidden, "Resource not accessible by integration")
	}
	if v := req.validate(run); v != nil {
		return v.write(w)
	}
	if req.Name != nil && *req.Name == "" {
		req.Name = nil
	}
	req.HeadSHA = nil // not changeable
	req.apply(run, s.now())
	return writeJSON(w, http.StatusOK, s.checkRunJSON(run))
}

func (s *Server) getCheckRun(w http.ResponseWriter, _ *http.Request, _ []byte, p params) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.findCheckRun(p.full(), p.rest[1])
	if run == nil {
		return writeError(w, http.StatusNotFound, "Not Found")
	}
	return writeJSON(w, http.StatusOK, s.checkRunJSON(run))
}

// listCheckRuns answers GET /repos/{owner}/{repo}/commits/{ref}/check-runs for a commit SHA (branch and tag
// names are not resolved), newest first, with GitHub's check_name, status, app_id and filter (latest: only the
// newest run of each name and App; all) parameters.
func (s *Server) listCheckRuns(w http.ResponseWriter, r *http.Request, _ []byte, p params) int {
	sha := p.rest[1]
	q := r.URL.Query()
	name, status, appID := q.Get("check_name"), q.Get("status"), q.Get("app_id")
	latest := q.Get("filter") != "all"
	s.mu.Lock()
	runs := s.checkRuns[p.full()]
	seen := map[string]bool{}
	all := []map[string]any{}
	for i := len(runs) - 1; i >= 0; i-- {
		c := runs[i]
		key := c.Name + "\x00" + strconv.FormatInt(c.AppID, 10)
		if c.HeadSHA != sha || (name != "" && c.Name != name) || (status != "" && c.Status != status) ||
			(appID != "" && strconv.FormatInt(c.AppID, 10) != appID) || (latest && seen[key]) {
			continue
		}
		seen[key] = true
		all = append(all, s.checkRunJSON(c))
	}
	s.mu.Unlock()
	return writeJSON(w, http.StatusOK, map[string]any{"total_count": len(all), "check_runs": paginate(w, r, all)})
}

// checkRunJSON is GitHub's check run object; s.mu is held.
func (s *Server) checkRunJSON(c *checkRun) map[string]any {
	var completed *string
	if !c.CompletedAt.IsZero() {
		t := timestamp(c.CompletedAt)
		completed = &t
	}
	return map[string]any{
		"id": c.ID, "node_id": fmt.Sprintf("CR_%d", c.ID), "name": c.Name, "head_sha": c.HeadSHA,
		"external_id": c.ExternalID, "details_url": nullable(c.DetailsURL),
		"url":      s.apiURL("/repos/%s/check-runs/%d", c.repo, c.ID),
		"html_url": fmt.Sprintf("https://github.example/%s/runs/%d", c.repo, c.ID),
		"status":   c.Status, "conclusion": nullable(c.Conclusion),
		"started_at": timestamp(c.StartedAt), "completed_at": completed,
		"output": map[string]any{
			"title": nullable(c.Title), "summary": nullable(c.Summary), "text": nullable(c.Text),
			"annotations_count": len(c.Annotations),
			"annotations_url":   s.apiURL("/repos/%s/check-runs/%d/annotations", c.repo, c.ID),
		},
		"check_suite":   map[string]any{"id": checkSuiteID(c)},
		"app":           s.appJSON(c.AppID),
		"pull_requests": s.checkRunPulls(c.repo, c.HeadSHA),
	}
}

// checkSuiteID is stable per repository, commit and App, as GitHub keeps one suite for each.
func checkSuiteID(c *checkRun) int64 {
	h := fnv.New32a()
	_, _ = fmt.Fprintf(h, "%s@%s#%d", strings.ToLower(c.repo), c.HeadSHA, c.AppID)
	return int64(h.Sum32()%100_000_000) + 1
}

func (s *Server) appJSON(id int64) map[string]any {
	return map[string]any{
		"id": id, "slug": s.slug, "node_id": "A_" + strconv.FormatInt(id, 10), "name": s.slug,
		"owner": map[string]any{"login": "fake-org", "id": 1, "type": "Organization"},
	}
}

// checkRunPulls are the open pull requests whose head is sha in repo itself: GitHub leaves out forks' here.
// s.mu is held.
func (s *Server) checkRunPulls(repo, sha string) []map[string]any {
	var nums []int
	for n, pr := range s.pulls[repo] {
		if pr.HeadSHA == sha && pr.State == "open" && (pr.HeadRepo == "" || pr.HeadRepo == repo) {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	out := []map[string]any{}
	for _, n := range nums {
		pr := s.pulls[repo][n]
		r := s.repoJSON(repo)
		short := map[string]any{"id": r["id"], "url": r["url"], "name": r["name"]}
		out = append(out, map[string]any{
			"url": s.apiURL("/repos/%s/pulls/%d", repo, n), "id": int64(n) + 500000, "number": n,
			"head": map[string]any{"ref": pr.HeadRef, "sha": pr.HeadSHA, "repo": short},
			"base": map[string]any{"ref": pr.BaseRef, "sha": pr.BaseSHA, "repo": short},
		})
	}
	return out
}
