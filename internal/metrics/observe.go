package metrics

import (
	"time"
)

// ObserveDelivery counts one webhook delivery by how it ended (webhook.Config.Observe). The webhook
// package gives bounded values: event is a name it knows or "other", reason one of its constants.
func (m *Metrics) ObserveDelivery(event, outcome, reason string) {
	m.deliveries.WithLabelValues(event, outcome, reason).Inc()
}

// StageFinished counts a stage that ran to an outcome (pipeline.Observer).
func (m *Metrics) StageFinished(kind, stage, env, outcome string, d time.Duration) {
	stage, env = StageLabel(stage), m.envs.value(env)
	m.stages.WithLabelValues(kind, stage, env, outcome).Inc()
	m.stageDuration.WithLabelValues(stage, env, outcome).Observe(d.Seconds())
}

// RunFinished counts a run that reached its final status (pipeline.Observer).
func (m *Metrics) RunFinished(kind, outcome string, d time.Duration) {
	m.runs.WithLabelValues(kind, outcome).Inc()
	m.runDuration.WithLabelValues(kind, outcome).Observe(d.Seconds())
}

// LockReleased records how long a run waited for an environment lock before it had it, and how long
// it held it (pipeline.Observer).
func (m *Metrics) LockReleased(env string, waited, held time.Duration) {
	env = m.envs.value(env)
	m.lockWait.WithLabelValues(env).Observe(waited.Seconds())
	m.lockHeld.WithLabelValues(env).Observe(held.Seconds())
}

// Drift records the outcome of a drift check (pipeline.Observer): runner_environment_drifted{env} follows
// the environment's last check.
func (m *Metrics) Drift(repo, env string, drifted bool) {
	v := 0.0
	if drifted {
		v = 1
	}
	m.drifted.WithLabelValues(m.envs.value(env)).Set(v)
}

// ObserveTerraform records one Terraform command: verb is its first word (init, plan, apply, show,
// output, workspace, force-unlock), result ok or error.
func (m *Metrics) ObserveTerraform(verb, result string, d time.Duration) {
	verb = oneOf(verb, "init", "plan", "apply", "show", "output", "workspace", "force-unlock", "version", "validate")
	m.terraform.WithLabelValues(verb, oneOf(result, "ok", "error")).Observe(d.Seconds())
}

// ObserveImageBuild records one image build (without its push): result ok or error.
func (m *Metrics) ObserveImageBuild(result string, d time.Duration) {
	m.imageBuild.WithLabelValues(oneOf(result, "ok", "error")).Observe(d.Seconds())
}

// ObserveImagePush counts what one push uploaded: blob bytes and blobs (layers and configs).
func (m *Metrics) ObserveImagePush(bytes int64, layers int) {
	if bytes > 0 {
		m.imagePushBytes.Add(float64(bytes))
	}
	if layers > 0 {
		m.imagePushLayers.Add(float64(layers))
	}
}
