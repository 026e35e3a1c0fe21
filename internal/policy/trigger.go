package policy

import (
	"context"
	"fmt"
	"strings"
)

// What a maintainer can do about a pull request that is not planned.
const hintDraft = "Mark the pull request ready for review to have it planned, or comment `%s plan`."

// hintUntrusted says how someone allowed to plan can have the pull request planned anyway.
func hintUntrusted(rp RepoPolicy) string {
	return fmt.Sprintf("Someone allowed to plan (%s) can comment `%s plan` to have it planned after reading its changes.",
		rp.CommandRule("plan").needs(), rp.Prefix())
}

// Checker decides whether a user satisfies a Rule on a repository; *Permissions asks GitHub.
type Checker interface {
	Allows(ctx context.Context, repo, user string, rule Rule) (Decision, error)
}

// PR is what MayPlan needs to know about a pull request.
type PR struct {
	Repo     string // the base repository, owner/name
	Number   int
	Author   string // the pull request's author's login
	HeadRepo string // head.repo.full_name; "" when GitHub no longer knows it (a deleted fork)
	Draft    bool
}

// Fork reports whether the pull request's head is outside its base repository (or unknown).
func (pr PR) Fork() bool { return !strings.EqualFold(pr.HeadRepo, pr.Repo) }

// MayPlan decides whether a pull request is planned: a fork pull request only where the policy allows
// forks, a draft only where it allows drafts, and then only when the author satisfies the policy's plan rule.
// It asks perms only when the fork and draft checks pass. A refusal carries a reason and a hint for the
// neutral status and comment. An error means the look-up failed: retry later rather than refuse.
func (p *Policy) MayPlan(ctx context.Context, perms Checker, pr PR) (Decision, error) {
	rp := p.For(pr.Repo)
	if pr.Fork() && !rp.ForkPRs {
		from := pr.HeadRepo
		if from == "" {
			from = "a repository that no longer exists"
		}
		return Decision{
			Reason: fmt.Sprintf("pull request #%d comes from a fork (%s), and this runner does not plan pull requests from forks", pr.Number, from),
			Hint:   hintUntrusted(rp),
		}, nil
	}
	if pr.Draft && !rp.DraftPRs {
		return Decision{Reason: fmt.Sprintf("pull request #%d is a draft, and this runner does not plan drafts", pr.Number), Hint: fmt.Sprintf(hintDraft, rp.Prefix())}, nil
	}
	d, err := perms.Allows(ctx, pr.Repo, pr.Author, rp.Plan)
	if err != nil {
		return Decision{Reason: d.Reason}, fmt.Errorf("check whether %s may plan %s#%d: %w", pr.Author, pr.Repo, pr.Number, err)
	}
	if !d.Allowed {
		d.Reason = fmt.Sprintf("pull request #%d is not planned: %s", pr.Number, d.Reason)
		d.Hint = hintUntrusted(rp)
	}
	return d, nil
}
