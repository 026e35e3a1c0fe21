// Package event holds the normalised form of a GitHub delivery: the few fields
// the runner acts on, shared by the receiver, the store and the pipeline.
package event

// Kinds of work a delivery asks for.
const (
	KindPlan    = "plan"    // pull request opened, reopened or synchronised
	KindDeploy  = "deploy"  // push to a branch (deploys when it is an environment's branch)
	KindComment = "comment" // issue_comment on a pull request
	KindMerged  = "merged"  // pull request closed with merged=true (the push deploys; this records it)
)

// ZeroSHA is what GitHub sends as "before" for a new branch and "after" for a deleted one.
const ZeroSHA = "0000000000000000000000000000000000000000"

// Event is one accepted GitHub delivery, reduced to what the runner needs.
type Event struct {
	DeliveryID string `json:"delivery_id"`
	Name       string `json:"event"`  // X-GitHub-Event
	Action     string `json:"action"` // payload action, if any
	Kind       string `json:"kind"`
	Repo       string `json:"repo"` // owner/name
	CloneURL   string `json:"clone_url"`
	SHA        string `json:"sha"`      // head of the PR, or the pushed commit
	BaseSHA    string `json:"base_sha"` // PR base, or the push's "before"
	Ref        string `json:"ref"`      // pushed ref or PR head ref
	BaseRef    string `json:"base_ref"` // PR base branch
	PR         int    `json:"pr,omitempty"`
	Sender     string `json:"sender"`
	Comment    string `json:"comment,omitempty"`
}

// Branch returns the branch name of a refs/heads/ ref, or "" for tags and others.
func Branch(ref string) string {
	const p = "refs/heads/"
	if len(ref) > len(p) && ref[:len(p)] == p {
		return ref[len(p):]
	}
	return ""
}
