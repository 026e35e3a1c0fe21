package fakegithub

import (
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Pull is a pull request the fake knows about.
type Pull struct {
	Number         int
	Title          string
	State          string // open or closed
	Draft          bool
	User           string
	HeadRef        string
	HeadSHA        string
	BaseRef        string
	BaseSHA        string
	Merged         bool
	MergedAt       time.Time
	MergeCommitSHA string
	Commits        []string // SHAs of the commits on the branch, besides HeadSHA
	// HeadRepo is the full name of the repository the head branch lives in (a fork's); empty means the base
	// repository.
	HeadRepo string
	// HeadRepoGone says the head repository was deleted (a fork removed after the PR was opened): GitHub then
	// answers "head": {"repo": null}.
	HeadRepoGone bool
}

// Repo is what the fake says of a repository in pull requests, check runs and webhook payloads.
type Repo struct {
	CloneURL      string // empty means https://github.example/{owner}/{name}.git
	DefaultBranch string // empty means main
	Private       bool
}

// SeedRepo sets what the fake says of repo ("owner/name"); a repository never seeded has the defaults of Repo.
func (s *Server) SeedRepo(repo string, r Repo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[repo] = r
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

// repoJSON is the repository object GitHub nests in pull requests and webhook payloads; s.mu is held.
func (s *Server) repoJSON(full string) map[string]any {
	r := s.repos[full]
	owner, name, _ := strings.Cut(full, "/")
	if r.CloneURL == "" {
		r.CloneURL = "https://github.example/" + full + ".git"
	}
	if r.DefaultBranch == "" {
		r.DefaultBranch = "main"
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(strings.ToLower(full)))
	o := userFor(owner)
	return map[string]any{
		"id": int64(h.Sum32()%100_000_000) + 1, "node_id": "R_" + full, "name": name, "full_name": full,
		"owner":   map[string]any{"login": o.Login, "id": o.ID, "type": o.Type},
		"private": r.Private, "fork": false,
		"url":      s.apiURL("/repos/%s", full),
		"html_url": "https://github.example/" + full, "clone_url": r.CloneURL, "default_branch": r.DefaultBranch,
	}
}

// pullJSON is the pull request object; GitHub's list endpoints leave out "merged", so only full includes it.
// s.mu is held.
func (s *Server) pullJSON(repo string, p Pull, full bool) map[string]any {
	u := userFor(p.User)
	var mergedAt, closedAt *string
	if p.Merged {
		t := timestamp(p.MergedAt)
		mergedAt, closedAt = &t, &t
	}
	headRepo := p.HeadRepo
	if headRepo == "" {
		headRepo = repo
	}
	headOwner, _, _ := strings.Cut(headRepo, "/")
	baseOwner, _, _ := strings.Cut(repo, "/")
	head := map[string]any{"ref": p.HeadRef, "sha": p.HeadSHA, "label": headOwner + ":" + p.HeadRef, "user": userFor(headOwner), "repo": nil}
	if !p.HeadRepoGone {
		r := s.repoJSON(headRepo)
		r["fork"] = headRepo != repo
		head["repo"] = r
	}
	out := map[string]any{
		"id": int64(p.Number) + 500000, "node_id": "PR_" + strconv.Itoa(p.Number), "number": p.Number,
		"url":      s.apiURL("/repos/%s/pulls/%d", repo, p.Number),
		"html_url": "https://github.example/" + repo + "/pull/" + strconv.Itoa(p.Number),
		"state":    p.State, "draft": p.Draft, "title": p.Title, "user": u, "merged_at": mergedAt, "closed_at": closedAt,
		"merge_commit_sha": nullable(p.MergeCommitSHA),
		"head":             head,
		"base": map[string]any{"ref": p.BaseRef, "sha": p.BaseSHA, "label": baseOwner + ":" + p.BaseRef,
			"user": userFor(baseOwner), "repo": s.repoJSON(repo)},
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
