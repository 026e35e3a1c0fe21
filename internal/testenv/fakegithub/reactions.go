package fakegithub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// reactionContents are the reactions GitHub accepts.
var reactionContents = []string{"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}

type reaction struct {
	ID        int64
	User      string
	Content   string
	CreatedAt time.Time
}

// Reactions returns the contents of the reactions on an issue comment, oldest first.
func (s *Server) Reactions(commentID int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.reactions[commentID] {
		out = append(out, r.Content)
	}
	return out
}

func (s *Server) reactionJSON(r reaction) map[string]any {
	return map[string]any{
		"id": r.ID, "node_id": fmt.Sprintf("REA_%d", r.ID), "user": userFor(r.User), "content": r.Content,
		"created_at": timestamp(r.CreatedAt),
	}
}

// createReaction answers POST /repos/{owner}/{repo}/issues/comments/{id}/reactions: 201 with a new reaction, 200
// with the existing one when the same user already reacted so, 422 for content GitHub does not know.
func (s *Server) createReaction(w http.ResponseWriter, _ *http.Request, raw []byte, p params) int {
	var req struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return writeError(w, http.StatusBadRequest, "Problems parsing JSON")
	}
	if !slices.Contains(reactionContents, req.Content) {
		return writeValidation(w, "Reaction", "content", "invalid",
			"content is not one of "+strings.Join(reactionContents, ", "))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.findComment(p.full(), p.rest[2])
	if i < 0 {
		return writeError(w, http.StatusNotFound, "Not Found")
	}
	id := s.comments[i].ID
	for _, r := range s.reactions[id] {
		if r.Content == req.Content && strings.EqualFold(r.User, s.login) {
			return writeJSON(w, http.StatusOK, s.reactionJSON(r))
		}
	}
	r := reaction{ID: s.id(), User: s.login, Content: req.Content, CreatedAt: s.now()}
	s.reactions[id] = append(s.reactions[id], r)
	w.Header().Set("Location", s.apiURL("/repos/%s/issues/comments/%s/reactions/%s", p.full(), p.rest[2], strconv.FormatInt(r.ID, 10)))
	return writeJSON(w, http.StatusCreated, s.reactionJSON(r))
}
