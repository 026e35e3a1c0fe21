package fakeslack

import (
	"encoding/json"
	"net/http"
	"slices"
)

// SetUserGroup makes the user group id exist with exactly these members (user IDs).
func (s *Server) SetUserGroup(id string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = slices.Clone(members)
}

// userGroupMembers is usergroups.users.list: the member IDs of the group in the "usergroup" field.
func (s *Server) userGroupMembers(w http.ResponseWriter, r *http.Request) {
	a, err := parseChat(r) // the token, and the form parsed
	switch {
	case err != nil:
		slackError(w, "invalid_arguments")
		return
	case a.token == "":
		slackError(w, "not_authed")
		return
	case s.token != "" && a.token != s.token:
		slackError(w, "invalid_auth")
		return
	}
	id := r.PostForm.Get("usergroup")
	if id == "" {
		slackError(w, "invalid_arguments")
		return
	}
	s.mu.Lock()
	members, ok := s.groups[id]
	members = slices.Clone(members)
	s.mu.Unlock()
	if !ok {
		slackError(w, "no_such_subteam")
		return
	}
	if members == nil {
		members = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "users": members})
}
