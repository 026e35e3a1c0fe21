// Package notify groups the runner's outbound reporting; each subpackage has one job:
//
//   - notify/github: sticky plan comments on pull requests (split under GitHub's 65,536-character limit),
//     idempotent commit statuses, deployments and their statuses, and the deploy comment on the merged PR,
//     through go-github with token or GitHub App auth and retries on 5xx and rate limits.
//   - notify/slack: one Slack message per deploy, posted at the start and updated per stage (resumable by its
//     ts), with failures threaded under it and Approve / Reject buttons on environments waiting for approval;
//     sending happens in the background so Slack can never fail or slow a deploy. Its Interactions handler
//     verifies Slack's signature and hands the clicks to a Decider; Groups answers user-group membership.
//
// The pipeline consumes them through small interfaces it declares itself (for example
// `interface{ SetStatus(ctx, repo, sha, context, state, description, targetURL string) error }`), so this
// package holds no interface of its own and a new provider is one new subpackage.
package notify
