package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/tf"
)

// StageDrift is a drift check's one stage: the environment's deployed commit planned read-only.
const StageDrift = "drift"

// driftReport is what a drift check found: resources changed outside Terraform since the last apply (the
// refresh's drift), and what the plan of the deployed commit would change (reality and the code differ).
type driftReport struct {
	Drift   []tf.DriftedResource `json:"drift"`
	Pending []tf.ResourceChange  `json:"pending"`
	Outputs []tf.OutputChange    `json:"outputs,omitempty"`
}

func newDriftReport(s tf.Summary) driftReport {
	r := driftReport{Drift: s.Drift, Outputs: s.Outputs}
	for _, c := range s.Resources {
		if c.Action != tf.ActionRead {
			r.Pending = append(r.Pending, c)
		}
	}
	return r
}

func (r driftReport) drifted() bool {
	return len(r.Drift) > 0 || len(r.Pending) > 0 || len(r.Outputs) > 0
}

// fingerprint identifies the drift: the same resources and attribute values found again give the same one.
func (r driftReport) fingerprint() string {
	if !r.drifted() {
		return ""
	}
	b, _ := json.Marshal(r) // plain strings: never fails
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// line is the check's one-line outcome.
func (r driftReport) line() string {
	if !r.drifted() {
		return "no drift: the cloud matches the deployed commit"
	}
	var parts []string
	if n := len(r.Drift); n > 0 {
		parts = append(parts, fmt.Sprintf("%d resource(s) changed outside Terraform", n))
	}
	if n := len(r.Pending); n > 0 {
		parts = append(parts, fmt.Sprintf("%d resource(s) the deployed code would change", n))
	}
	if n := len(r.Outputs); n > 0 {
		parts = append(parts, fmt.Sprintf("%d output(s) differ", n))
	}
	return "drift: " + strings.Join(parts, ", ")
}

// lines lists the drift, at most max lines.
func (r driftReport) lines(max int) []string {
	var out []string
	for _, d := range r.Drift {
		if d.Action == tf.ActionDelete {
			out = append(out, d.Address+": deleted outside Terraform")
			continue
		}
		var attrs []string
		for _, a := range d.Attributes {
			attrs = append(attrs, fmt.Sprintf("%s %s -> %s", a.Path, a.Before, a.After))
		}
		out = append(out, d.Address+": "+strings.Join(attrs, "; "))
	}
	for _, c := range r.Pending {
		out = append(out, fmt.Sprintf("%s: the deployed code would %s it", c.Address, c.Action))
	}
	if len(out) > max {
		out = append(out[:max], fmt.Sprintf("… and %d more", len(out)-max))
	}
	return out
}

// driftCheck plans one environment's deployed commit with the plan role, records what differs, and says
// so in Slack when the drift is new (not when a later check finds the same drift again).
func (w *work) driftCheck(ctx context.Context) (string, string) {
	ev := w.run.Event
	name := ev.Envs[0]
	env, ok := w.cfg.Environment(name)
	if !ok {
		return store.StatusFailed, fmt.Sprintf("no environment %s in the default branch's configuration", name)
	}
	if err := w.e.deps.Store.SetRunScope(ctx, w.run.ID, nil, []string{name}, nil); err != nil {
		return store.StatusFailed, err.Error()
	}
	key := store.StageKey{Env: name, Name: StageDrift}
	if err := w.addStages(ctx, []store.StageKey{key}); err != nil {
		return store.StatusFailed, err.Error()
	}
	var report driftReport
	_, err := w.runStage(ctx, key, true, func(ctx context.Context, log io.Writer) (string, map[string]string, error) {
		fmt.Fprintf(log, "checking %s at its deployed commit %s, read-only (plan role)\n", name, short(ev.SHA))
		r, err := w.planEnv(ctx, env, nil, w.lastDeployedVars(ctx, env), log)
		if err != nil {
			return "", nil, err
		}
		report = newDriftReport(r.Summary)
		raw, _ := json.Marshal(report)
		check := store.DriftCheck{Repo: ev.Repo, Env: name, SHA: ev.SHA, RunID: w.run.ID, Drifted: report.drifted(),
			Fingerprint: report.fingerprint(), Report: string(raw)}
		prev, found, err := w.e.deps.Store.RecordDriftCheck(ctx, check)
		if err != nil {
			return "", nil, err
		}
		for _, l := range report.lines(200) {
			fmt.Fprintln(log, l)
		}
		w.e.deps.Observer.Drift(ev.Repo, name, report.drifted())
		if report.drifted() && (!found || prev.Fingerprint != check.Fingerprint) {
			fmt.Fprintln(log, "new drift: telling Slack")
			w.notifyDrift(ctx, env, report)
		} else if report.drifted() {
			fmt.Fprintln(log, "the same drift as the last check: already reported")
		}
		return report.line(), map[string]string{"drifted": fmt.Sprint(report.drifted()), "fingerprint": check.Fingerprint}, nil
	})
	if err != nil {
		return store.StatusFailed, err.Error()
	}
	return store.StatusSucceeded, report.line()
}

// notifyDrift posts one Slack message about new drift in env.
func (w *work) notifyDrift(ctx context.Context, env config.Environment, r driftReport) {
	if w.e.deps.Slack == nil {
		return
	}
	ev := w.run.Event
	st := w.e.deps.Slack.Story(w.cfg.SlackChannelFor(env), SlackMessage{})
	stage := StageView{Env: env.Name, Name: StageDrift, State: store.StageFailed, Detail: r.line()}
	st.Update(DeployView{Title: "Drift in", Repo: ev.Repo, Commit: ev.SHA, Author: ev.RequestedBy, RunURL: w.runURL(),
		Environments: []string{env.Name}, Stages: []StageView{stage}})
	st.Failure(stage, r.lines(20))
	if err := st.Close(ctx); err != nil {
		w.log.Warn("post drift to Slack", "env", env.Name, "err", w.redactor.String(err.Error()))
	}
}
