package fakegithub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// Comment is an issue (pull request) comment as the fake keeps it.
type Comment struct {
	ID        int64
	Repo      string // owner/name
	Issue     int
	Body      string
	User      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

type commentJSON struct {
	ID                int64  `json:"id"`
	NodeID            string `json:"node_id"`
	URL               string `json:"url"`
	HTMLURL           string `json:"html_url"`
	IssueURL          string `json:"issue_url"`
	Body              string `json:"body"`
	User              user   `json:"user"`
	CreatedAt         string `json:"created_at"`
	UpdatedAt         string `json:"updated_at"`
	AuthorAssociation string `json:"author_association"`
}

// Comments returns the comments on an issue or pull request, oldest first.
func (s *Server) Comments(repo string, issue int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.comments {
		if c.Repo == repo && c.Issue == issue {
			out = append(out, *c)
		}
	}
	return out
}

// SeedComment adds a comment written by someone else (user), as if a person had commented.
func (s *Server) SeedComment(repo string, issue int, login, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	c := &Comment{ID: s.id(), Repo: repo, Issue: issue, Body: body, User: login, CreatedAt: now, UpdatedAt: now}
	s.comments = append(s.comments, c)
	return c.ID
}

func (s *Server) commentJSON(c *Comment) commentJSON {
	u := userFor(c.User)
	return commentJSON{
		ID:                c.ID,
		NodeID:            fmt.Sprintf("IC_%d", c.ID),
		URL:               s.apiURL("/repos/%s/issues/comments/%d", c.Repo, c.ID),
		HTMLURL:           fmt.Sprintf("https://github.example/%s/pull/%d#issuecomment-%d", c.Repo, c.Issue, c.ID),
		IssueURL:          s.apiURL("/repos/%s/issues/%d", c.Repo, c.Issue),
		Body:              c.Body,
		User:              u,
		CreatedAt:         timestamp(c.CreatedAt),
		UpdatedAt:         timestamp(c.UpdatedAt),
		AuthorAssociation: "NONE",
	}
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request, _ []byte, p params) int {
	n, err := strconv.Atoi(p.rest[1])
	if err != nil {
		return writeError(w, http.StatusNotFound, "Not Found")
	}
	s.mu.Lock()
	var all []commentJSON
	for _, c := range s.comments {
		if c.Repo == p.full() && c.Issue == n {
			all = append(all, s.commentJSON(c))
		}
	}
	s.mu.Unlock()
	page := paginate(w, r, all)
	if page == nil {
		page = []commentJSON{}
	}
	return writeJSON(w, http.StatusOK, page)
}

// bodyRequest decodes {"body": ...}; GitHub rejects a missing body and one over 65,536 characters.
func bodyRequest(w http.ResponseWriter, raw []byte) (string, int) {
	var req struct {
		Body *string `json:"body"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return "", writeError(w, http.StatusBadRequest, "Problems parsing JSON")
	}
	if req.Body == nil {
		return "", writeValidation(w, "IssueComment", "body", "missing_field", "")
	}
	if utf8.RuneCountInString(*req.Body) > MaxCommentLength {
		return "", writeValidation(w, "IssueComment", "body", "custom",
			fmt.Sprintf("body is too long (maximum is %d characters)", MaxCommentLength))
	}
	return *req.Body, 0
}

func (s *Server) createComment(w http.ResponseWriter, r *http.Request, raw []byte, p params) int {
	n, err := strconv.Atoi(p.rest[1])
	if err != nil {
		return writeError(w, http.StatusNotFound, "Not Found")
	}
	body, status := bodyRequest(w, raw)
	if status != 0 {
		return status
	}
	s.mu.Lock()
	now := s.now()
	c := &Comment{ID: s.id(), Repo: p.full(), Issue: n, Body: body, User: s.login, CreatedAt: now, UpdatedAt: now}
	s.comments = append(s.comments, c)
	out := s.commentJSON(c)
	s.mu.Unlock()
	w.Header().Set("Location", out.URL)
	return writeJSON(w, http.StatusCreated, out)
}

// findComment returns the comment's index, or -1.
func (s *Server) findComment(repo, id string) int {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return -1
	}
	for i, c := range s.comments {
		if c.ID == n && c.Repo == repo {
			return i
		}
	}
	return -1
}

func (s *Server) getComment(w http.ResponseWriter, _ *http.Request, _ []byte, p params) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.findComment(p.full(), p.rest[2])
	if i < 0 {
		return writeError(w, http.StatusNotFound, "Not Found")
	}
	return writeJSON(w, http.StatusOK, s.commentJSON(s.comments[i]))
}

func (s *Server) editComment(w http.ResponseWriter, _ *http.Request, raw []byte, p params) int {
	body, status := bodyRequest(w, raw)
	if status != 0 {
		return status
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.findComment(p.full(), p.rest[2])
	if i < 0 {
		return writeError(w, http.StatusNotFound, "Not Found")
	}
	c := s.comments[i]
	c.Body = body
	c.UpdatedAt = s.now()
	return writeJSON(w, http.StatusOK, s.commentJSON(c))
}

func (s *Server) deleteComment(w http.ResponseWriter, _ *http.Request, _ []byte, p params) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.findComment(p.full(), p.rest[2])
	if i < 0 {
		return writeError(w, http.StatusNotFound, "Not Found")
	}
	s.comments = append(s.comments[:i], s.comments[i+1:]...)
	w.WriteHeader(http.StatusNoContent)
	return http.StatusNoContent
}
