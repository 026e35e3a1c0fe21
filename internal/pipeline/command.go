package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gitops-runner/runner/internal/action"
	"github.com/gitops-runner/runner/internal/command"
	"github.com/gitops-runner/runner/internal/event"
	"github.com/gitops-runner/runner/internal/store"
)

// Reactions that answer a comment command.
const (
	reactReceived = "eyes"
	reactDone     = "+1"
	reactRefused  = "-1"
	reactInvalid  = "confused"
)

// command carries out what a person asked: a pull request comment command, or a check run's button. Every
// command gets an answer where it was asked: a reaction at once, then a reply that says what happened.
func (w *work) command(ctx context.Context) (string, string) {
	ev := w.run.Event
	if ev.Kind == event.KindAction {
		return w.checkRunAction(ctx)
	}
	cmd, ok, perr := command.Parse(w.e.opts.CommandPrefix, ev.Comment)
	if !ok {
		return store.StatusNothing, "the comment is not a command"
	}
	w.react(ctx, reactReceived)
	if perr != nil {
		w.react(ctx, reactInvalid)
		w.reply(ctx, fmt.Sprintf("@%s %s\n\n%s", ev.Sender, perr.Error(), command.Help(w.e.opts.CommandPrefix)))
		return store.StatusNothing, "not a valid command: " + perr.Error()
	}
	if cmd.Name == action.KindHelp {
		w.reply(ctx, command.Help(w.e.opts.CommandPrefix))
		w.react(ctx, reactDone)
		return store.StatusSucceeded, ""
	}
	if w.e.deps.Actions == nil {
		w.react(ctx, reactRefused)
		w.reply(ctx, fmt.Sprintf("@%s this runner carries out no commands (it has no GitHub client to check permissions with).", ev.Sender))
		return store.StatusFailed, "no action service configured"
	}
	res, err := w.e.deps.Actions.Do(ctx, action.Request{
		Kind: cmd.Name, Repo: ev.Repo, PR: ev.PR, Env: cmd.Env, Envs: cmd.Envs, To: cmd.To, Reason: cmd.Reason,
		Actor: action.Actor{Login: ev.Sender, Channel: action.ChannelComment}, CommentID: ev.CommentID,
	})
	return w.answer(ctx, cmd.Name, res, err)
}

// answer replies to a comment command with its outcome.
func (w *work) answer(ctx context.Context, kind string, res action.Result, err error) (string, string) {
	ev := w.run.Event
	var denied *action.Denied
	switch {
	case err == nil:
		w.react(ctx, reactDone)
		w.reply(ctx, fmt.Sprintf("@%s %s", ev.Sender, escapeMarkdown(res.Message)))
		return store.StatusSucceeded, ""
	case errors.As(err, &denied):
		w.react(ctx, reactRefused)
		w.reply(ctx, fmt.Sprintf("@%s you may not `%s` here: %s.", ev.Sender, kind, escapeMarkdown(refusal(denied))))
		return store.StatusNothing, "refused: " + err.Error()
	case errors.Is(err, action.ErrInvalid):
		w.react(ctx, reactInvalid)
		msg := strings.TrimPrefix(err.Error(), action.ErrInvalid.Error()+": ")
		w.reply(ctx, fmt.Sprintf("@%s `%s` was not carried out: %s.", ev.Sender, kind, escapeMarkdown(msg)))
		return store.StatusNothing, "not carried out: " + msg
	default:
		if ctx.Err() != nil {
			return store.StatusCancelled, ctx.Err().Error()
		}
		w.react(ctx, reactInvalid)
		w.reply(ctx, fmt.Sprintf("@%s `%s` failed: %s. Try again in a while.", ev.Sender, kind, escapeMarkdown(firstLine(w.redactor.String(err.Error())))))
		return store.StatusFailed, err.Error()
	}
}

// refusal says what a refused actor lacks.
func refusal(d *action.Denied) string {
	var parts []string
	if d.Why != "" {
		parts = append(parts, d.Why)
	}
	if d.Needs != "" && !strings.Contains(d.Why, d.Needs) { // the permission check's reason may say it already
		parts = append(parts, "this needs "+d.Needs)
	}
	return strings.Join(parts, "; ")
}

// checkRunAction carries out a check run's button: Comment holds "<identifier> <external id>", the external
// id naming the run and the environment ("run:12:env:prod").
func (w *work) checkRunAction(ctx context.Context) (string, string) {
	ev := w.run.Event
	ident, ext, _ := strings.Cut(ev.Comment, " ")
	runID, env, approvalID, ok := parseExternalID(ext)
	if !ok {
		return store.StatusNothing, "the check run is not one of this runner's approvals"
	}
	kind := ""
	switch ident {
	case checkApprove:
		kind = action.KindApprove
	case checkReject:
		kind = action.KindReject
	default:
		return store.StatusNothing, "unknown check run action " + strconv.Quote(ident)
	}
	if w.e.deps.Actions == nil {
		return store.StatusFailed, "no action service configured"
	}
	res, err := w.e.deps.Actions.Do(ctx, action.Request{
		Kind: kind, Repo: ev.Repo, RunID: runID, Env: env, ApprovalID: approvalID, Reason: "with the check run button",
		Actor: action.Actor{Login: ev.Sender, Channel: action.ChannelCheckRun},
	})
	if err != nil {
		w.log.Info("check run action not carried out", "by", ev.Sender, "err", err)
		w.refusedCheck(ctx, runID, env, err)
		return store.StatusNothing, "not carried out: " + err.Error()
	}
	return store.StatusSucceeded, res.Message
}

// externalID names a run's environment on a check run, and the approval its buttons decide (0: none).
func externalID(runID int64, env string, approvalID int64) string {
	if approvalID == 0 {
		return fmt.Sprintf("run:%d:env:%s", runID, env)
	}
	return fmt.Sprintf("run:%d:env:%s:approval:%d", runID, env, approvalID)
}

// parseExternalID reads externalID's form back.
func parseExternalID(s string) (runID int64, env string, approvalID int64, ok bool) {
	rest, ok := strings.CutPrefix(s, "run:")
	if !ok {
		return 0, "", 0, false
	}
	num, rest, ok := strings.Cut(rest, ":env:")
	id, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || id <= 0 {
		return 0, "", 0, false
	}
	env, aid, hasApproval := strings.Cut(rest, ":approval:")
	if hasApproval {
		if approvalID, err = strconv.ParseInt(aid, 10, 64); err != nil || approvalID <= 0 {
			return 0, "", 0, false
		}
	}
	if env == "" || strings.Contains(env, ":") {
		return 0, "", 0, false
	}
	return id, env, approvalID, true
}

func (w *work) react(ctx context.Context, content string) {
	ev := w.run.Event
	if w.e.deps.Replies == nil || ev.CommentID == 0 {
		return
	}
	if err := w.e.deps.Replies.React(context.WithoutCancel(ctx), ev.Repo, ev.CommentID, content); err != nil {
		w.log.Warn("react to a command", "err", w.redactor.String(err.Error()))
	}
}

func (w *work) reply(ctx context.Context, body string) {
	ev := w.run.Event
	if w.e.deps.Replies == nil || ev.PR == 0 {
		return
	}
	if err := w.e.deps.Replies.Reply(context.WithoutCancel(ctx), ev.Repo, ev.PR, w.redactor.String(body)); err != nil {
		w.log.Warn("reply to a command", "err", w.redactor.String(err.Error()))
	}
}
