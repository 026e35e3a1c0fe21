package fakegithub

import "encoding/json"

// RequestedActionPayload is the body of the check_run webhook GitHub sends when senderLogin presses the action
// button identifier on check run checkRunID of repo (deliver it with X-GitHub-Event: check_run). It is nil when
// the fake knows no such check run.
func (s *Server) RequestedActionPayload(repo string, checkRunID int64, identifier, senderLogin string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var run *checkRun
	for _, c := range s.checkRuns[repo] {
		if c.ID == checkRunID {
			run = c
		}
	}
	if run == nil {
		return nil
	}
	cr := s.checkRunJSON(run)
	pulls := cr["pull_requests"].([]map[string]any)
	var headBranch *string
	if len(pulls) > 0 {
		ref, _ := pulls[0]["head"].(map[string]any)["ref"].(string)
		headBranch = &ref
	}
	cr["check_suite"] = map[string]any{
		"id": checkSuiteID(run), "node_id": "CS_" + run.HeadSHA, "head_branch": headBranch, "head_sha": run.HeadSHA,
		"status": "completed", "conclusion": nullable(run.Conclusion), "app": s.appJSON(run.AppID),
		"pull_requests": pulls, "url": s.apiURL("/repos/%s/check-suites/%d", repo, checkSuiteID(run)),
	}
	var installation int64
	for id, a := range s.apps {
		if a.id == run.AppID {
			installation = id
		}
	}
	sender := userFor(senderLogin)
	payload := map[string]any{
		"action":           "requested_action",
		"check_run":        cr,
		"requested_action": map[string]any{"identifier": identifier},
		"repository":       s.repoJSON(repo),
		"sender": map[string]any{"login": sender.Login, "id": sender.ID, "type": sender.Type, "site_admin": false,
			"html_url": "https://github.example/" + sender.Login},
		"installation": map[string]any{"id": installation, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u"},
	}
	b, err := json.Marshal(payload)
	if err != nil {
		panic("encode requested_action payload: " + err.Error()) // maps of strings and numbers always encode
	}
	return b
}
