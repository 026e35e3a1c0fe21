package fakegithub

import (
	"net/http"
	"strings"
)

// getUser answers GET /user with the user the token belongs to (Config.Login). An installation token ("ghs_",
// as GitHub Actions' GITHUB_TOKEN is) acts for no user, and GitHub refuses it.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) int {
	if tok, _ := bearer(r); strings.HasPrefix(tok, "ghs_") {
		return writeError(w, http.StatusForbidden, "Resource not accessible by integration")
	}
	u := s.userJSON()
	return writeJSON(w, http.StatusOK, map[string]any{
		"login": u.Login, "id": u.ID, "node_id": "U_" + u.Login, "type": u.Type, "site_admin": false,
		"url": s.apiURL("/users/%s", u.Login), "html_url": "https://github.example/" + u.Login,
	})
}
