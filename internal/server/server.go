// Package server assembles the runner process from its configuration: store,
// queue, pipeline and its collaborators, webhook receiver and API; and runs it
// until it is told to stop.
package server

import (
	"context"
	"errors"
	"fmt"
	"github.com/gitops-runner/runner/internal/drift"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sys/unix"

	"github.com/gitops-runner/runner/internal/action"
	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/gitrepo"
	"github.com/gitops-runner/runner/internal/metrics"
	slacknotify "github.com/gitops-runner/runner/internal/notify/slack"
	"github.com/gitops-runner/runner/internal/outbound"
	"github.com/gitops-runner/runner/internal/pipeline"
	"github.com/gitops-runner/runner/internal/planvault"
	"github.com/gitops-runner/runner/internal/policy"
	"github.com/gitops-runner/runner/internal/queue"
	"github.com/gitops-runner/runner/internal/sso"
	"github.com/gitops-runner/runner/internal/store"
	"github.com/gitops-runner/runner/internal/tf"
	"github.com/gitops-runner/runner/internal/tracing"
	"github.com/gitops-runner/runner/internal/web"
	"github.com/gitops-runner/runner/internal/webhook"
)

// Server is a running runner: HTTP front, durable queue, workers.
type Server struct {
	cfg      config.Server
	log      *slog.Logger
	store    *store.Store
	queue    *queue.Queue
	http     *http.Server
	listener net.Listener
	unlock   func()
	slack    *slacknotify.Interactions // nil without a Slack signing secret
	// metrics is this server's registry (metrics.go); metricsHTTP and metricsListener serve it apart
	// when RUNNER_METRICS_LISTEN is set.
	metrics         *metrics.Metrics
	metricsHTTP     *http.Server
	metricsListener net.Listener
	traces          *tracing.Provider // flushed at stop; nil when the caller owns the tracer provider
}

// Collaborators lets callers (tests, the demo) replace the outside-world clients
// the pipeline uses. Zero fields are built from the configuration.
type Collaborators struct {
	Terraform pipeline.Terraform
	PRs       pipeline.PRReporter
	Deploys   pipeline.DeployReporter
	Slack     pipeline.SlackFactory
	Images    pipeline.ImageBuilder
	Bundles   pipeline.BundleBuilder
	Rollouts  pipeline.Rollouts
	// Migrations runs image apps' database migrations (ECS one-off tasks); default: on the runner's ECS
	// client, built with Rollouts.
	Migrations pipeline.Migrations
	// Permissions answers who may plan (GitHub look-ups); default: from the GitHub client.
	Permissions policy.Checker
	// Credentials give Terraform its per-phase role sessions; default: STS from the runner's own AWS
	// configuration.
	Credentials pipeline.Credentials
	// Getenv reads the runner's environment for the variables the policy passes on (pass_env);
	// default: os.Getenv.
	Getenv func(string) string
	// Replies answers comment commands; Merged finds merged pull requests; Pulls reads pull requests for
	// plan commands: default from the GitHub client.
	Replies pipeline.Replies
	Merged  pipeline.MergedPRs
	Pulls   action.Pulls
	// Checks posts check runs; default: from the GitHub client when it authenticates as a GitHub App.
	Checks pipeline.Checks
	// SlackGroups answers Slack user group membership; default: from the Slack bot token.
	SlackGroups action.SlackGroups
	// TracerProvider makes the spans of runs, stages, Terraform commands and outbound calls; default: from
	// the OTEL_* variables (read through Getenv), off without an OTLP endpoint.
	TracerProvider trace.TracerProvider
	// Observer is told of every call to GitHub, Slack and AWS; nil: the server's metrics.
	Observer outbound.Observer

	outbound outbound.Options // the instrumented transports' options (see tracing.go)
}

// New opens the store (taking the data directory for this process alone), builds
// the pipeline and the queue, and binds the listen address. Nothing runs until Run.
func New(ctx context.Context, cfg config.Server, log *slog.Logger, c Collaborators) (*Server, error) {
	// With SQLite the data directory holds the database, for this process alone; with PostgreSQL it is
	// this replica's cache (mirrors, work trees) and replicas share the database.
	unlock := func() {}
	if cfg.DatabaseURL == "" {
		u, err := lockDataDir(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		unlock = u
	}
	s := &Server{cfg: cfg, log: log, unlock: unlock}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()
	if len(cfg.Policies) > 0 {
		dir, err := writePolicies(filepath.Join(cfg.DataDir, "server-policies"), cfg.Policies)
		if err != nil {
			return nil, err
		}
		cfg.PolicyDir, s.cfg.PolicyDir = dir, dir
	}
	var storeOpts []store.Option
	if cfg.ReplayWindow > 0 {
		storeOpts = append(storeOpts, store.WithReplayWindow(cfg.ReplayWindow))
	}
	var err error
	if cfg.DatabaseURL != "" {
		s.store, err = store.OpenPostgres(ctx, cfg.DatabaseURL, store.PostgresOptions{MaxConns: cfg.DatabaseMaxConns,
			StatementTimeout: statementTimeout(cfg.DatabaseStatementTimeout)}, storeOpts...)
	} else {
		s.store, err = store.OpenSQLite(ctx, cfg.DataDir, storeOpts...)
	}
	if err != nil {
		return nil, err
	}
	log.Info("store", "database", cfg.DatabaseDescription())
	s.metrics = newMetrics(s.store, log)
	if cfg.DatabaseURL == "" {
		// This process owns the database: locks left behind belong to a dead process. (On PostgreSQL
		// other replicas hold theirs; a dead one's expire with their lease.)
		if stale, err := s.store.ReleaseAllLocks(ctx, "holder process restarted"); err != nil {
			return nil, err
		} else if len(stale) > 0 {
			log.Warn("released environment locks of a previous process", "count", len(stale))
		}
	}
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if c.Observer == nil {
		c.Observer = s.metrics // calls to GitHub, Slack and AWS counted on /metrics
	}
	if s.traces, err = setupTracing(ctx, log, &c); err != nil {
		return nil, err
	}
	iso, err := setupIsolation(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	// Each binary's version is learned once for the process (not once per plan): see tf.Versions.
	known := tf.NewVersions(filepath.Join(cfg.DataDir, "terraform"))
	if c.Terraform == nil {
		tfr, err := iso.terraform(ctx, cfg, log, known)
		tfr.Observe = s.metrics.ObserveTerraform
		if err == nil {
			tfr.Tracer = c.tracer(tracerTerraform)
			c.Terraform, err = NewTerraform(tfr)
		}
		if err != nil {
			log.Warn("terraform not available: plan and apply stages will fail until it is installed", "err", err)
		}
	}
	pol, err := loadPolicy(cfg)
	if err != nil {
		return nil, err
	}
	if err := fillFromConfig(ctx, cfg, log, &c); err != nil {
		return nil, err
	}
	observeImages(&c, s.metrics)
	host, _ := os.Hostname()
	auth, err := gitAuth(cfg)
	if err != nil {
		return nil, err
	}
	actions, waker := &lateActions{}, &lateWaker{}
	stepRunner, err := iso.steps(cfg)
	if err != nil {
		return nil, err
	}
	var plans pipeline.PlanKeeper
	if cfg.DatabaseURL != "" {
		// Replicas share the database, not their disks: a deploy waiting for approval keeps its saved plans
		// in the database, sealed under a key of the webhook secret (which every replica holds).
		v, err := planvault.New(s.store, cfg.WebhookSecret)
		if err != nil {
			return nil, err
		}
		plans = v
	}
	transport, err := gitrepo.ParseTransport(cfg.GitTransport)
	if err != nil {
		return nil, err
	}
	mirrors := gitrepo.NewMirrors(filepath.Join(cfg.DataDir, "mirrors"), auth, log, gitrepo.WithTransport(transport))
	if _, _, err := mirrors.Transport(ctx); err != nil {
		return nil, err
	}
	engine, err := pipeline.New(pipeline.Deps{
		Store: s.store, Git: mirrors,
		Terraform: c.Terraform, Steps: stepRunner, PRs: c.PRs, Deploys: c.Deploys, Slack: c.Slack, Images: c.Images,
		Bundles: c.Bundles, Rollouts: c.Rollouts, Migrations: c.Migrations, Logger: log,
		Policy: runPolicy{p: pol, perms: c.Permissions}, Credentials: c.Credentials,
		Actions: actions, Replies: c.Replies, Waker: waker, Merged: c.Merged, Checks: c.Checks, Plans: plans,
		Observer: s.metrics,
		Tracer:   c.tracer(tracerPipeline),
	}, pipeline.Options{
		WorkDir: filepath.Join(cfg.DataDir, "runs"), FullWorkTrees: cfg.FullWorkTrees, StageTimeout: cfg.StageTimeout, LockLease: cfg.LockLease,
		PlanParallelism: cfg.PlanParallelism, PublicURL: cfg.PublicURL, Holder: fmt.Sprintf("%s/%d", host, os.Getpid()),
		Secrets: cfg.Secrets(), Isolation: iso.pipeline(), TerraformVersion: terraformVersion(ctx, cfg, log, known),
		CommandPrefix: cfg.CommandPrefix, ApprovalTimeout: cfg.ApprovalTimeout, ApprovalPoll: cfg.ApprovalPoll,
	})
	if err != nil {
		return nil, err
	}
	// Drift checks are started by one replica (River's leader), every minute, when the policy schedules them.
	driftChecks := &drift.Scheduler{Store: s.store, Schedules: driftSchedules{pol}, Log: log}
	if s.queue, err = queue.New(ctx, s.store, engine, queue.Options{
		Workers: cfg.Workers, JobTimeout: 4 * cfg.StageTimeout, Logger: log, Ticker: driftChecks,
		ReplicaLease: cfg.LockLease, // a random id per start: a restarted replica never answers for its dead self
		// A cancelled apply gets Terraform's own interrupt grace to stop and release its state lock
		// before the process exits.
		CancelWait: tf.DefaultGracePeriod + 10*time.Second,
	}); err != nil {
		return nil, err
	}
	driftChecks.Runs = s.queue // before the queue starts: no tick comes earlier
	waker.set(s.queue)
	if cfg.DatabaseURL != "" {
		log.Info("replica", "id", s.queue.ReplicaID(), "lease", cfg.LockLease)
	}
	actions.set(action.NewService(action.Deps{
		Store: s.store, Runs: s.queue, Policy: pol, Perms: c.Permissions, Groups: c.SlackGroups, Pulls: c.Pulls, Logger: log,
	}))
	acts := repoOfRun{st: s.store, next: actions}
	hook, err := webhook.New(webhook.Config{Secret: []byte(cfg.WebhookSecret), AllowedRepos: cfg.AllowedRepos,
		UnverifiedBudget: int64(cfg.UnverifiedBudgetMiB) << 20, Observe: s.metrics.ObserveDelivery}, s.queue, log)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/github", hook)
	// Without an API token the API and dashboard answer on loopback only (web logs which mode is in effect).
	if cfg.SlackSigningSecret != "" {
		h, err := slacknotify.NewInteractions(slacknotify.InteractionsOptions{SigningSecret: cfg.SlackSigningSecret,
			Decider: slackDecider{actions: acts}, Logger: log, ResponseURLPrefix: slackOrigin(cfg.SlackAPIURL)})
		if err != nil {
			return nil, err
		}
		mux.Handle("POST /slack/interactions", h)
		s.slack = h
	}
	webOpts := web.Options{Token: cfg.APIToken, PublicURL: cfg.PublicURL, AllowedHosts: cfg.AllowedHosts,
		Logger: log, Isolation: iso.Status(), Actions: acts, Approvals: approvalViews{st: s.store},
		Database: cfg.DatabaseDescription(), Replica: replicaName(cfg, s.queue)}
	if cfg.OIDCIssuer != "" {
		signOn, err := sso.New(ctx, sso.Config{Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret,
			PublicURL: cfg.PublicURL, LoginClaim: cfg.OIDCLoginClaim, AllowedLogins: cfg.OIDCAllowedLogins, Key: sso.DeriveKey(cfg.APIToken),
			HTTPClient: &http.Client{Timeout: 15 * time.Second}, Logger: log.With("component", "sso")})
		if err != nil {
			return nil, err
		}
		signOn.Routes(mux)
		webOpts.Sessions = signOn
		log.Info("single sign-on on", "issuer", cfg.OIDCIssuer, "redirect_url", strings.TrimSuffix(cfg.PublicURL, "/")+sso.CallbackPath)
	}
	web.Routes(mux, s.store, s.queue, webOpts)
	if err := s.serveMetrics(cfg, mux); err != nil {
		return nil, err
	}
	s.http = &http.Server{
		Handler:           s.metrics.HTTP(mux),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if s.listener, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	ok = true
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Store gives tests and the CLI read access to the store.
func (s *Server) Store() *store.Store { return s.store }

// Run serves until ctx is cancelled, then shuts down gracefully: it stops taking
// webhooks, lets the runs in flight finish within the shutdown grace period, and
// abandons what is left safely (it resumes on the next start).
func (s *Server) Run(ctx context.Context) error {
	if err := s.queue.Start(ctx); err != nil {
		s.close()
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.listener) }()
	if s.metricsHTTP != nil {
		go func() {
			if err := s.metricsHTTP.Serve(s.metricsListener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Warn("metrics listener stopped", "err", err)
			}
		}()
		s.log.Info("metrics serving", "addr", s.MetricsAddr())
	}
	s.log.Info("runner serving", "addr", s.Addr(), "data_dir", s.cfg.DataDir, "workers", s.cfg.Workers)
	// ECS hands a task its secrets once; RDS rotates the store's password under it. Refused, the runner
	// drains like on SIGTERM and fails, and its supervisor starts one that reads the current secret.
	credc := make(chan error, 1)
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if s.cfg.DatabaseURL != "" && s.cfg.DatabaseCredentialCheck > 0 {
		go func() {
			if err := s.store.WatchCredentials(wctx, s.cfg.DatabaseCredentialCheck); err != nil {
				credc <- err
			}
		}()
	}
	if s.cfg.QueueLogEvery > 0 {
		go logQueueEvery(wctx, s.store, s.log, s.cfg.QueueLogEvery)
	}
	var serveErr, credErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	case credErr = <-credc:
		s.log.Error("stopping: the database refuses this runner's credentials; a new process reads the current secret", "err", credErr)
	}
	stopWatch() // the credential check and the queue line end before the store closes
	s.log.Info("shutting down", "grace", s.cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	if err := s.http.Shutdown(sctx); err != nil {
		s.log.Warn("http shutdown", "err", err)
	}
	if s.metricsHTTP != nil {
		_ = s.metricsHTTP.Shutdown(sctx)
	}
	if s.slack != nil {
		// Button presses in flight finish (or are cut off at the grace period's end).
		if err := s.slack.Close(sctx); err != nil {
			s.log.Warn("slack decisions in flight cut off", "err", err)
		}
	}
	if err := s.queue.Stop(sctx); err != nil {
		s.log.Warn("queue shutdown", "err", err)
	}
	s.close()
	if credErr != nil {
		return credErr
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

func (s *Server) close() {
	if s.listener != nil {
		s.listener.Close()
	}
	if s.metricsListener != nil {
		s.metricsListener.Close()
	}
	if s.store != nil {
		s.store.Close()
	}
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
	shutdownTracing(s.traces, s.log)
	s.traces = nil
}

// lockDataDir takes an exclusive lock on the data directory, so that two
// processes never share one SQLite store (a second one would double-run jobs).
func lockDataDir(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "runner.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open data dir lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data dir %s is in use by another runner process (%v); use another RUNNER_DATA_DIR or Postgres for several replicas", dir, err)
	}
	return func() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// statementTimeout maps the setting (0: no limit) to the store's option (0: its default, negative: none).
func statementTimeout(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// replicaName is the queue's replica id when replicas share a database, for /readyz.
func replicaName(cfg config.Server, q *queue.Queue) string {
	if cfg.DatabaseURL == "" {
		return ""
	}
	return q.ReplicaID()
}
