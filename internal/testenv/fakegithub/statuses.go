package fakegithub

import (
	"encoding/json"
	"net/http"
	"time"
	"unicode/utf8"
)

// Status is one commit status as the fake keeps it.
type Status struct {
	ID          int64
	State       string
	Context     string
	Description string
	TargetURL   string
	CreatedAt   time.Time
}

type statusJSON struct {
	ID          int64   `json:"id"`
	NodeID      string  `json:"node_id"`
	URL         string  `json:"url"`
	State       string  `json:"state"`
	Context     string  `json:"context"`
	Description *string `json:"description"`
	TargetURL   *string `json:"target_url"`
	Creator     user    `json:"creator"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
}

// Statuses returns the statuses posted for a commit, oldest first.
func (s *Server) Statuses(repo, sha string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Status(nil), s.statuses[repo+"@"+sha]...)
}

func nullable(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

func (s *Server) statusJSON(repo, sha string, st Status) statusJSON {
	return statusJSON{
		ID: st.ID, NodeID: "SC_" + sha[:min(len(sha), 7)], URL: s.apiURL("/repos/%s/statuses/%s", repo, sha),
		State: st.State, Context: st.Context, Description: nullable(st.Description), TargetURL: nullable(st.TargetURL),
		Creator: s.userJSON(), CreatedAt: timestamp(st.CreatedAt), UpdatedAt: timestamp(st.CreatedAt),
	}
}

func (s *Server) createStatus(w http.ResponseWriter, _ *http.Request, raw []byte, p params) int {
	sha := p.rest[1]
	var req struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
		Context     string `json:"context"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return writeError(w, http.StatusBadRequest, "Problems parsing JSON")
	}
	switch req.State {
	case "pending", "success", "failure", "error":
	default:
		return writeValidation(w, "Status", "state", "invalid", "")
	}
	if req.Context == "" {
		req.Context = "default"
	}
	if utf8.RuneCountInString(req.Context) > 255 {
		return writeValidation(w, "Status", "context", "custom", "context is too long (maximum is 255 characters)")
	}
	if utf8.RuneCountInString(req.Description) > 140 {
		return writeValidation(w, "Status", "description", "custom", "description is too long (maximum is 140 characters)")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{ID: s.id(), State: req.State, Context: req.Context, Description: req.Description, TargetURL: req.TargetURL, CreatedAt: s.now()}
	key := p.full() + "@" + sha
	s.statuses[key] = append(s.statuses[key], st)
	return writeJSON(w, http.StatusCreated, s.statusJSON(p.full(), sha, st))
}

// listStatuses answers newest first, as GitHub does.
func (s *Server) listStatuses(w http.ResponseWriter, r *http.Request, _ []byte, p params) int {
	sha := p.rest[1]
	s.mu.Lock()
	sts := s.statuses[p.full()+"@"+sha]
	all := make([]statusJSON, 0, len(sts))
	for i := len(sts) - 1; i >= 0; i-- {
		all = append(all, s.statusJSON(p.full(), sha, sts[i]))
	}
	s.mu.Unlock()
	return writeJSON(w, http.StatusOK, paginate(w, r, all))
}

// latestByContext is the newest status of each context, in order of first appearance.
func latestByContext(sts []Status) []Status {
	idx := map[string]int{}
	var out []Status
	for _, st := range sts {
		if i, ok := idx[st.Context]; ok {
			out[i] = st
			continue
		}
		idx[st.Context] = len(out)
		out = append(out, st)
	}
	return out
}

func combinedState(latest []Status) string {
	if len(latest) == 0 {
		return "pending"
	}
	state := "success"
	for _, st := range latest {
		switch st.State {
		case "failure", "error":
			return "failure"
		case "pending":
			state = "pending"
		}
	}
	return state
}

func (s *Server) combinedStatus(w http.ResponseWriter, r *http.Request, _ []byte, p params) int {
	sha := p.rest[1]
	s.mu.Lock()
	latest := latestByContext(s.statuses[p.full()+"@"+sha])
	all := make([]statusJSON, 0, len(latest))
	for _, st := range latest {
		all = append(all, s.statusJSON(p.full(), sha, st))
	}
	s.mu.Unlock()
	page := paginate(w, r, all)
	return writeJSON(w, http.StatusOK, map[string]any{
		"state":       combinedState(latest),
		"sha":         sha,
		"total_count": len(all),
		"statuses":    page,
		"commit_url":  s.apiURL("/repos/%s/commits/%s", p.full(), sha),
		"url":         s.apiURL("/repos/%s/commits/%s/status", p.full(), sha),
	})
}
