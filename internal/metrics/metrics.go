// Package metrics counts what the runner does for Prometheus: one registry per server (never the
// global one), observers the other packages are handed, and the /metrics handler.
package metrics

import (
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DurationBuckets fit work that takes seconds to an hour: stages, runs, Terraform commands, lock waits.
var DurationBuckets = []float64{1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600}

// Label bounds: values past these many distinct ones are counted as "other", so that hostile input
// (a pull request adding environment folders) cannot grow the series without end.
const (
	maxEnvs       = 64
	maxOperations = 256
	maxServices   = 16
)

// Other is the label value of everything past a bound, and of unknown routes.
const Other = "other"

// Options configure the metrics.
type Options struct {
	// Queue answers the queue's depth at scrape time; nil: no queue metrics.
	Queue QueueStats
	// QueueTimeout bounds that question; default 2s.
	QueueTimeout time.Duration
	// Logger receives scrape errors; default: discarded.
	Logger *slog.Logger
}

// Metrics holds one registry and every metric the runner exports. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	deliveries *prometheus.CounterVec

	runs          *prometheus.CounterVec
	runDuration   *prometheus.HistogramVec
	stages        *prometheus.CounterVec
	stageDuration *prometheus.HistogramVec
	lockWait      *prometheus.HistogramVec
	lockHeld      *prometheus.HistogramVec
	drifted       *prometheus.GaugeVec

	terraform *prometheus.HistogramVec

	imageBuild       *prometheus.HistogramVec
	imagePushBytes   prometheus.Counter
	imagePushLayers  prometheus.Counter
	calls            *prometheus.CounterVec
	callDuration     *prometheus.HistogramVec
	rateLimitLeft    *prometheus.GaugeVec
	rateLimitLimit   *prometheus.GaugeVec
	envs, operations *bounded
	services         *bounded
}

// New builds the registry with the Go and process collectors, the build info and the runner's own
// metrics.
func New(opts Options) *Metrics {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg, envs: newBounded(maxEnvs), operations: newBounded(maxOperations),
		services: newBounded(maxServices)}
	f := factory{reg}
	m.httpRequests = f.counter("runner_http_requests_total",
		"HTTP requests served, by route (the matched pattern; other: none matched) and status code.", "route", "code")
	m.httpDuration = f.histogram("runner_http_request_duration_seconds",
		"Time to answer HTTP requests, by route.", prometheus.DefBuckets, "route")
	m.deliveries = f.counter("runner_webhook_deliveries_total",
		"GitHub webhook deliveries, by event, outcome (accepted, duplicate, ignored, refused, error) and reason.",
		"event", "outcome", "reason")
	m.runs = f.counter("runner_runs_total", "Runs finished, by kind and outcome (the run's final status).", "kind", "outcome")
	m.runDuration = f.histogram("runner_run_duration_seconds",
		"Time from a run's start to its end, by kind and outcome.", DurationBuckets, "kind", "outcome")
	m.stages = f.counter("runner_stages_total",
		"Stages finished, by run kind, stage (image:<app> counted as image), environment and outcome.",
		"kind", "stage", "env", "outcome")
	m.stageDuration = f.histogram("runner_stage_duration_seconds",
		"Time a stage ran, by stage, environment and outcome.", DurationBuckets, "stage", "env", "outcome")
	m.lockWait = f.histogram("runner_env_lock_wait_seconds",
		"Time a run waited for an environment lock until it had it, by environment.", DurationBuckets, "env")
	m.lockHeld = f.histogram("runner_env_lock_held_seconds",
		"Time a run held an environment lock, by environment.", DurationBuckets, "env")
	m.drifted = f.gauge("runner_environment_drifted",
		"1 when the last drift check of the environment found drift (changed outside Terraform, or differing from the deployed code), 0 when it found none.", "env")
	m.terraform = f.histogram("runner_terraform_command_duration_seconds",
		"Time Terraform commands took, by verb (init, plan, apply, show, output, workspace) and result (ok, error).",
		DurationBuckets, "verb", "result")
	m.imageBuild = f.histogram("runner_image_build_duration_seconds",
		"Time to build an image app (go build and layering, without the push), by result.", DurationBuckets, "result")
	m.imagePushBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "runner_image_push_bytes_total",
		Help: "Bytes of image blobs uploaded to registries (blobs the registry had are not counted)."})
	m.imagePushLayers = prometheus.NewCounter(prometheus.CounterOpts{Name: "runner_image_push_layers_total",
		Help: "Image blobs (layers and configs) uploaded to registries."})
	reg.MustRegister(m.imagePushBytes, m.imagePushLayers)
	m.calls = f.counter("runner_external_calls_total",
		"Calls to outside services, by service (github, slack, aws), operation and result.", "service", "operation", "result")
	m.callDuration = f.histogram("runner_external_call_duration_seconds",
		"Time calls to outside services took, by service and operation.", prometheus.DefBuckets, "service", "operation")
	m.rateLimitLeft = f.gauge("runner_external_rate_limit_remaining",
		"Requests left in the service's current rate limit window, as its last answer said.", "service")
	m.rateLimitLimit = f.gauge("runner_external_rate_limit",
		"Requests allowed in the service's rate limit window, as its last answer said.", "service")

	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(buildInfo())
	if opts.Queue != nil {
		timeout := opts.QueueTimeout
		if timeout <= 0 {
			timeout = 2 * time.Second
		}
		reg.MustRegister(newQueueCollector(opts.Queue, timeout))
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A failing collector (the store not answering) leaves its metrics out; the rest are served.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slogPrinter{log},
		Registry:      reg,
	})
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Gatherer is the registry, for tests (prometheus/testutil).
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// buildInfo is runner_build_info{version,goversion,revision} 1.
func buildInfo() prometheus.Collector {
	version, revision := "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "runner_build_info",
		Help:        "The runner's build: always 1, with the module version, Go version and VCS revision as labels.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version(), "revision": revision},
	})
	g.Set(1)
	return g
}

// factory makes and registers vectors.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) histogram(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// slogPrinter gives promhttp's error log to slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.log.Warn("metrics scrape", "err", fmtArgs(v))
}
