// Package event holds the normalised form of a GitHub delivery: the few fields
// the runner acts on, shared by the receiver, the store and the pipeline.
package event

// Kinds of work a delivery asks for.
const (
	KindPlan    = "plan"    // pull request opened, reopened, synchronised or marked ready for review
	KindDeploy  = "deploy"  // push to a branch (deploys when it is an environment's branch)
	KindComment = "comment" // issue_comment on a pull request
	KindMerged  = "merged"  // pull request closed with merged=true (the push deploys; this records it)
	// KindRollback redeploys one environment at a commit that deployed there successfully before (SHA),
	// with the app versions recorded for it; Envs names the environment.
	KindRollback = "rollback"
	// KindAction is a check run's requested action (a button on a check run): Comment holds the action's
	// identifier and CheckRun the check run's external id.
	KindAction = "action"
	// KindDrift checks one environment (Envs) for drift: its deployed commit (SHA) planned read-only, with
	// the plan role; nothing is applied.
	KindDrift = "drift"
	// KindFix applies one environment's deployed commit (SHA, Envs) again, with the app versions recorded
	// for it and the environment's approvals: drift goes back to what the code says ("apply to fix").
	KindFix = "fix"
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
	// Sender is the authenticated GitHub login that caused the delivery (the payload's sender), never
	// free text such as a commit's author name, which anyone can set.
	Sender  string `json:"sender"`
	Comment string `json:"comment,omitempty"`

	// What a trigger policy judges a pull request by.
	Author   string `json:"author,omitempty"`    // pull_request.user.login: who opened the pull request
	Fork     bool   `json:"fork,omitempty"`      // the head is in another repository (or a deleted one)
	Draft    bool   `json:"draft,omitempty"`     // pull_request.draft
	HeadRepo string `json:"head_repo,omitempty"` // pull_request.head.repo.full_name ("" for a deleted fork)

	// DefaultBranch is the repository's default branch: its .runner.yaml decides what deploys.
	DefaultBranch string `json:"default_branch,omitempty"`
	CommentID     int64  `json:"comment_id,omitempty"` // issue_comment: the comment's id

	// RequestedBy is set on runs a person asked for (a plan command, a rollback): who, and by which
	// channel ("alice (comment)"). Their authorisation was checked when they asked.
	RequestedBy string   `json:"requested_by,omitempty"`
	Envs        []string `json:"envs,omitempty"` // the environments asked for (plan, rollback); none: every affected one

	// ContentKey names what the delivery is about, independently of its delivery id: two deliveries
	// with one key are the same GitHub event (a replayed body, or one event sent to two hooks). Empty
	// means the delivery is only deduplicated by its id. See webhook.contentKey for what goes in.
	ContentKey string `json:"-"`
}

// Receipt is what recording a delivery came to.
type Receipt struct {
	Run       int64 // the run the delivery started, or the earlier run it repeats
	Duplicate bool  // nothing was stored: the delivery repeats Run's
	Replay    bool  // a duplicate by content (ContentKey) under a delivery id not seen before
}

// Branch returns the branch name of a refs/heads/ ref, or "" for tags and others.
func Branch(ref string) string {
	const p = "refs/heads/"
	if len(ref) > len(p) && ref[:len(p)] == p {
		return ref[len(p):]
	}
	return ""
}
