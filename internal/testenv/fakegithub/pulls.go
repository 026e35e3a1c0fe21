package fakegithub

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Pull is a pull request the fake knows about.
type Pull struct {
	Number         int
	Title          string
	State          string // open or closed
	User           string
	HeadRef        string
	HeadSHA        string
	BaseRef        string
	Merged         bool
	MergedAt       time.Time
	MergeCommitSHA string
	Commits        []string // SHAs of the commits on the branch, besides HeadSHA
}

// SeedPull adds or replaces a pull request.
func (s *Server) SeedPull(repo string, p Pull) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.State == "" {
		p.State = "open"
		if p.Merged {
			p.State = "closed"
		}
	}
	if p.Merged && p.MergedAt.IsZero() {
		p.MergedAt = s.now()
	}
	if p.BaseRef == "" {
		p.BaseRef = "main"
	}
	if s.pulls[repo] == nil {
		s.pulls[repo] = map[int]Pull{}
	}
	s.pulls[repo][p.Number] = p
}

// pullJSON is the pull request object; GitHub's list endpoints leave out "merged", so only full includes it.
func (s *Server) pullJSON(repo string, p Pull, full bool) map[string]any {
	u := userFor(p.User)
	var mergedAt, closedAt *string
	if p.Merged {
		t := timestamp(p.MergedAt)
		mergedAt, closedAt = &t, &t
	}
	out := map[string]any{
		"id": int64(p.Number) + 500000, "node_id": "PR_" + strconv.Itoa(p.Number), "number": p.Number,
		"url":      s.apiURL("/repos/%s/pulls/%d", repo, p.Number),
		"html_url": "https://github.example/" + repo + "/pull/" + strconv.Itoa(p.Number),
		"state":    p.State, "title": p.Title, "user": u, "merged_at": mergedAt, "closed_at": closedAt,
		"merge_commit_sha": nullable(p.MergeCommitSHA),
		"head":             map[string]any{"ref": p.HeadRef, "sha": p.HeadSHA, "label": p.User + ":" + p.HeadRef},
		"base":             map[string]any{"ref": p.BaseRef, "label": "base:" + p.BaseRef},
	}
	if full {
		out["merged"] = p.Merged
		out["mergeable"] = nil
	}
	return out
}

// commitPulls lists the pull requests a commit belongs to: on the branch, as head, or as the merge commit.
func (s *Server) commitPulls(w http.ResponseWriter, r *http.Request, _ []byte, p params) int {
	sha := p.rest[1]
	s.mu.Lock()
	var nums []int
	for n, pr := range s.pulls[p.full()] {
		if pr.HeadSHA == sha || (pr.Merged && pr.MergeCommitSHA == sha) || slices.Contains(pr.Commits, sha) {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	all := []map[string]any{}
	for _, n := range nums {
		all = append(all, s.pullJSON(p.full(), s.pulls[p.full()][n], false))
	}
	s.mu.Unlock()
	return writeJSON(w, http.StatusOK, paginate(w, r, all))
}

func (s *Server) getPull(w http.ResponseWriter, _ *http.Request, _ []byte, p params) int {
	n, err := strconv.Atoi(p.rest[1])
	s.mu.Lock()
	defer s.mu.Unlock()
	pr, ok := s.pulls[p.full()][n]
	if err != nil || !ok {
		return writeError(w, http.StatusNotFound, "Not Found")
	}
	return writeJSON(w, http.StatusOK, s.pullJSON(p.full(), pr, true))
}
