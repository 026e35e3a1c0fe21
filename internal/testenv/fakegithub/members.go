package fakegithub

import (
	"net/http"
	"strings"
)

// Collaborator is a user's access to a repository, as GET /repos/{owner}/{repo}/collaborators/{user}/permission
// answers it.
type Collaborator struct {
	// Role is GitHub's role_name: admin, maintain, write, triage, read, or a custom role's name.
	Role string
	// Permission is the legacy level GitHub reports beside the role (admin, write, read or none); empty derives
	// it from Role (maintain counts as write and triage as read, as on GitHub). A custom role needs it.
	Permission string
}

// SetCollaborator gives user access c to repo ("owner/name"). A user without one has permission "none".
func (s *Server) SetCollaborator(repo, user string, c Collaborator) {
	if c.Permission == "" {
		switch c.Role {
		case "admin":
			c.Permission = "admin"
		case "maintain", "write":
			c.Permission = "write"
		case "triage", "read":
			c.Permission = "read"
		default:
			c.Permission = "none"
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.collaborators == nil {
		s.collaborators = map[string]Collaborator{}
	}
	s.collaborators[strings.ToLower(repo+"/"+user)] = c
}

// SetTeamMembership makes user a member of team ("org/slug") in state "active" or "pending"; an empty state
// removes the membership. GitHub answers 404 for a user who is not a member.
func (s *Server) SetTeamMembership(team, user, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.teams == nil {
		s.teams = map[string]string{}
	}
	key := strings.ToLower(team + "/" + user)
	if state == "" {
		delete(s.teams, key)
		return
	}
	s.teams[key] = state
}

// collaboratorPermission answers GET /repos/{owner}/{repo}/collaborators/{user}/permission.
func (s *Server) collaboratorPermission(w http.ResponseWriter, _ *http.Request, _ []byte, p params) int {
	login := p.rest[1]
	s.mu.Lock()
	c, ok := s.collaborators[strings.ToLower(p.full()+"/"+login)]
	s.mu.Unlock()
	if !ok {
		c = Collaborator{Role: "none", Permission: "none"}
	}
	u := userFor(login)
	return writeJSON(w, http.StatusOK, map[string]any{
		"permission": c.Permission,
		"role_name":  c.Role,
		"user": map[string]any{
			"login": u.Login, "id": u.ID, "type": u.Type, "site_admin": false, "role_name": c.Role,
			"url": s.apiURL("/users/%s", u.Login),
		},
	})
}

// teamMembership answers GET /orgs/{org}/teams/{slug}/memberships/{user}.
func (s *Server) teamMembership(w http.ResponseWriter, org, slug, login string) int {
	s.mu.Lock()
	state, ok := s.teams[strings.ToLower(org+"/"+slug+"/"+login)]
	s.mu.Unlock()
	if !ok {
		return writeError(w, http.StatusNotFound, "Not Found")
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"url":   s.apiURL("/orgs/%s/teams/%s/memberships/%s", org, slug, login),
		"role":  "member",
		"state": state,
	})
}
