// Package action is what a person can ask of the runner (plan, unlock, approve, reject, roll back), from
// any channel: a pull request comment, a Slack button, a check run button, the dashboard or the CLI. Every
// request is authorised against the server policy with the same permission look-ups that decide who may
// have a pull request planned, recorded, and answered with a Result the channel shows where it was asked.
package action

import (
	"errors"
	"fmt"
	"strings"
)

// Kinds of request.
const (
	KindPlan     = "plan"
	KindUnlock   = "unlock"
	KindApprove  = "approve"
	KindReject   = "reject"
	KindRollback = "rollback"
	KindOverride = "override" // let a pull request's policy check failures through
	KindDrift    = "drift"    // check an environment for drift now (read-only)
	// KindFix applies an environment's deployed commit again ("apply to fix"), with the environment's
	// approvals: what drifted from the code goes back to what the code says.
	KindFix  = "fix"
	KindHelp = "help"
)

// Channels a request arrives by.
const (
	ChannelComment   = "comment"   // a pull request comment command
	ChannelSlack     = "slack"     // a Slack button
	ChannelCheckRun  = "check_run" // a check run's requested action
	ChannelDashboard = "dashboard" // the dashboard: with the API token, or signed in by single sign-on
	ChannelCLI       = "cli"       // the runner CLI, with the API token
)

// Actor is who asks, as the channel authenticated them.
type Actor struct {
	// Login is the GitHub login the request is authorised as: the commenter, the Slack user's mapped
	// login, or the name an operator gives. "" when the channel knows none.
	Login   string
	Channel string
	// SlackUser is the Slack user id (Slack requests only): the policy maps it to a login or lets
	// members of Slack user groups act.
	SlackUser string
	// Operator is set when the request carries the runner's API token: its holder operates the runner.
	Operator bool
}

// Describe names the actor for records and answers: "alice (slack)".
func (a Actor) Describe() string {
	who := a.Login
	if who == "" {
		who = a.SlackUser
	}
	if who == "" {
		who = "someone"
	}
	return fmt.Sprintf("%s (%s)", who, a.Channel)
}

// Request is one thing asked of the runner.
type Request struct {
	Kind  string
	Repo  string // owner/name
	PR    int    // the pull request asked on (comment commands, check runs); 0 otherwise
	RunID int64  // the deploy run decided (approve, reject) when the channel names it; 0: find by PR
	// ApprovalID, when set, is the one approval the decision was offered for (a check run button): a
	// decision never lands on a later request of the same run.
	ApprovalID int64
	Env        string   // the environment (unlock, approve, reject, rollback, drift, fix)
	Envs       []string // environments to plan (plan); none: every affected one
	To         string   // rollback target: a SHA (or unique prefix), or "" / "previous" for the deploy before the current one
	Reason     string   // why (reject, unlock, rollback, fix), free text, recorded
	Actor      Actor
	// CommentID is the comment that asked (comment commands), for the answer.
	CommentID int64
}

// Result is the outcome of a request, in words the channel shows.
type Result struct {
	Message string // plain text, one or a few sentences
	RunID   int64  // the run started (plan, rollback, drift, fix) or decided (approve, reject), if any
}

// Denied is returned when the actor may not do what they asked. Needs says what permission is missing,
// in words: "maintain access or more, or to be one of the approvers of prod (alice, team acme/sre)".
type Denied struct {
	Kind  string
	Actor string
	Needs string
	Why   string // more detail, e.g. "the author of the change may not approve it"
}

func (d *Denied) Error() string {
	msg := fmt.Sprintf("%s may not %s", d.Actor, d.Kind)
	if d.Why != "" {
		msg += ": " + d.Why
	}
	if d.Needs != "" && !strings.Contains(d.Why, d.Needs) { // the permission check's reason may say it already
		msg += "; it needs " + d.Needs
	}
	return msg
}

// ErrInvalid marks a request that cannot be carried out as asked (no such environment, nothing waiting
// for approval, an unknown rollback target); its message says why.
var ErrInvalid = errors.New("invalid request")

// Invalidf returns an ErrInvalid error with a message.
func Invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
