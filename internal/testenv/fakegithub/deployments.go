package fakegithub

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Deployment is one deployment as the fake keeps it, with the request's flags.
type Deployment struct {
	ID                    int64
	SHA, Ref, Task        string
	Environment           string
	Description           string
	AutoMerge             *bool
	RequiredContexts      *[]string // nil when the request left it out (GitHub then checks every context)
	TransientEnvironment  bool
	ProductionEnvironment bool
	Payload               json.RawMessage
	CreatedAt             time.Time
}

// DeploymentStatus is one deployment status as the fake keeps it.
type DeploymentStatus struct {
	ID             int64
	DeploymentID   int64
	State          string
	Description    string
	Environment    string
	EnvironmentURL string
	LogURL         string
	CreatedAt      time.Time
}

// Deployments returns a repository's deployments, oldest first.
func (s *Server) Deployments(repo string) []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Deployment
	for _, d := range s.deployments[repo] {
		out = append(out, *d)
	}
	return out
}

// DeploymentStatuses returns the statuses of one deployment, oldest first.
func (s *Server) DeploymentStatuses(id int64) []DeploymentStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]DeploymentStatus(nil), s.deplStatuses[id]...)
}

func (s *Server) deploymentJSON(repo string, d *Deployment) map[string]any {
	payload := d.Payload
	if len(payload) == 0 {
		payload = json.RawMessage("{}")
	}
	return map[string]any{
		"id": d.ID, "node_id": "DE_" + strconv.FormatInt(d.ID, 10),
		"url": s.apiURL("/repos/%s/deployments/%d", repo, d.ID),
		"sha": d.SHA, "ref": d.Ref, "task": d.Task, "payload": payload,
		"environment": d.Environment, "original_environment": d.Environment,
		"description": nullable(d.Description), "creator": s.userJSON(),
		"created_at": timestamp(d.CreatedAt), "updated_at": timestamp(d.CreatedAt),
		"statuses_url":           s.apiURL("/repos/%s/deployments/%d/statuses", repo, d.ID),
		"repository_url":         s.apiURL("/repos/%s", repo),
		"transient_environment":  d.TransientEnvironment,
		"production_environment": d.ProductionEnvironment,
	}
}

func (s *Server) createDeployment(w http.ResponseWriter, _ *http.Request, raw []byte, p params) int {
	var req struct {
		Ref                   string          `json:"ref"`
		Task                  string          `json:"task"`
		AutoMerge             *bool           `json:"auto_merge"`
		RequiredContexts      *[]string       `json:"required_contexts"`
		Payload               json.RawMessage `json:"payload"`
		Environment           string          `json:"environment"`
		Description           string          `json:"description"`
		TransientEnvironment  bool            `json:"transient_environment"`
		ProductionEnvironment *bool           `json:"production_environment"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return writeError(w, http.StatusBadRequest, "Problems parsing JSON")
	}
	if req.Ref == "" {
		return writeValidation(w, "Deployment", "ref", "missing_field", "")
	}
	if req.Task == "" {
		req.Task = "deploy"
	}
	if req.Environment == "" {
		req.Environment = "production"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Like GitHub: without an explicit required_contexts every status context on the ref must be successful.
	if req.RequiredContexts == nil {
		for _, st := range latestByContext(s.statuses[p.full()+"@"+req.Ref]) {
			if st.State != "success" {
				return writeJSON(w, http.StatusConflict, apiError{
					Message:          "Conflict: Commit status checks failed for " + req.Ref + ".",
					DocumentationURL: "https://docs.github.com/rest/deployments/deployments#create-a-deployment",
					Status:           "409",
				})
			}
		}
	}
	prod := req.Environment == "production"
	if req.ProductionEnvironment != nil {
		prod = *req.ProductionEnvironment
	}
	d := &Deployment{
		ID: s.id(), SHA: req.Ref, Ref: req.Ref, Task: req.Task, Environment: req.Environment,
		Description: req.Description, AutoMerge: req.AutoMerge, RequiredContexts: req.RequiredContexts,
		TransientEnvironment: req.TransientEnvironment, ProductionEnvironment: prod, Payload: req.Payload,
		CreatedAt: s.now(),
	}
	s.deployments[p.full()] = append(s.deployments[p.full()], d)
	return writeJSON(w, http.StatusCreated, s.deploymentJSON(p.full(), d))
}

// listDeployments answers newest first and filters by sha, ref, task and environment like GitHub.
func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request, _ []byte, p params) int {
	q := r.URL.Query()
	s.mu.Lock()
	ds := s.deployments[p.full()]
	all := []map[string]any{}
	for i := len(ds) - 1; i >= 0; i-- {
		d := ds[i]
		if (q.Get("sha") != "" && q.Get("sha") != d.SHA) || (q.Get("ref") != "" && q.Get("ref") != d.Ref) ||
			(q.Get("task") != "" && q.Get("task") != d.Task) || (q.Get("environment") != "" && q.Get("environment") != d.Environment) {
			continue
		}
		all = append(all, s.deploymentJSON(p.full(), d))
	}
	s.mu.Unlock()
	return writeJSON(w, http.StatusOK, paginate(w, r, all))
}

func (s *Server) findDeployment(repo, id string) *Deployment {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil
	}
	for _, d := range s.deployments[repo] {
		if d.ID == n {
			return d
		}
	}
	return nil
}

func (s *Server) deploymentStatusJSON(repo string, st DeploymentStatus) map[string]any {
	return map[string]any{
		"id": st.ID, "node_id": "DES_" + strconv.FormatInt(st.ID, 10),
		"url":   s.apiURL("/repos/%s/deployments/%d/statuses/%d", repo, st.DeploymentID, st.ID),
		"state": st.State, "creator": s.userJSON(), "description": st.Description,
		"environment": st.Environment, "environment_url": st.EnvironmentURL, "log_url": st.LogURL,
		"target_url": st.LogURL, "created_at": timestamp(st.CreatedAt), "updated_at": timestamp(st.CreatedAt),
		"deployment_url": s.apiURL("/repos/%s/deployments/%d", repo, st.DeploymentID),
		"repository_url": s.apiURL("/repos/%s", repo),
	}
}

func (s *Server) createDeploymentStatus(w http.ResponseWriter, _ *http.Request, raw []byte, p params) int {
	var req struct {
		State          string `json:"state"`
		LogURL         string `json:"log_url"`
		TargetURL      string `json:"target_url"`
		Description    string `json:"description"`
		Environment    string `json:"environment"`
		EnvironmentURL string `json:"environment_url"`
		AutoInactive   *bool  `json:"auto_inactive"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return writeError(w, http.StatusBadRequest, "Problems parsing JSON")
	}
	switch req.State {
	case "error", "failure", "inactive", "in_progress", "queued", "pending", "success":
	default:
		return writeValidation(w, "DeploymentStatus", "state", "invalid", "")
	}
	if len([]rune(req.Description)) > 140 {
		return writeValidation(w, "DeploymentStatus", "description", "custom", "description is too long (maximum is 140 characters)")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.findDeployment(p.full(), p.rest[1])
	if d == nil {
		return writeError(w, http.StatusNotFound, "Not Found")
	}
	if req.LogURL == "" {
		req.LogURL = req.TargetURL
	}
	if req.Environment == "" {
		req.Environment = d.Environment
	}
	st := DeploymentStatus{
		ID: s.id(), DeploymentID: d.ID, State: req.State, Description: req.Description, Environment: req.Environment,
		EnvironmentURL: req.EnvironmentURL, LogURL: req.LogURL, CreatedAt: s.now(),
	}
	// auto_inactive (default true): a success marks earlier non-transient deployments of the environment inactive.
	if req.State == "success" && (req.AutoInactive == nil || *req.AutoInactive) {
		for _, other := range s.deployments[p.full()] {
			if other.ID != d.ID && other.Environment == d.Environment && !other.TransientEnvironment {
				sts := s.deplStatuses[other.ID]
				if len(sts) > 0 && sts[len(sts)-1].State == "success" {
					s.deplStatuses[other.ID] = append(sts, DeploymentStatus{ID: s.id(), DeploymentID: other.ID,
						State: "inactive", Environment: other.Environment, CreatedAt: s.now()})
				}
			}
		}
	}
	s.deplStatuses[d.ID] = append(s.deplStatuses[d.ID], st)
	return writeJSON(w, http.StatusCreated, s.deploymentStatusJSON(p.full(), st))
}

func (s *Server) listDeploymentStatuses(w http.ResponseWriter, r *http.Request, _ []byte, p params) int {
	s.mu.Lock()
	d := s.findDeployment(p.full(), p.rest[1])
	if d == nil {
		s.mu.Unlock()
		return writeError(w, http.StatusNotFound, "Not Found")
	}
	sts := s.deplStatuses[d.ID]
	all := make([]map[string]any, 0, len(sts))
	for i := len(sts) - 1; i >= 0; i-- {
		all = append(all, s.deploymentStatusJSON(p.full(), sts[i]))
	}
	s.mu.Unlock()
	return writeJSON(w, http.StatusOK, paginate(w, r, all))
}
