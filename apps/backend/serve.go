package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gitops-runner/runner/apps/backend/internal/api"
	"github.com/gitops-runner/runner/apps/backend/internal/config"
	"github.com/gitops-runner/runner/apps/backend/internal/database"
	"github.com/gitops-runner/runner/apps/backend/internal/items"
	"github.com/gitops-runner/runner/apps/backend/internal/server"
	"github.com/gitops-runner/runner/apps/backend/internal/telemetry"
)

// credentialCheckEvery is how often a fresh connection tests the task's database credentials: RDS rotates
// its managed master secret (every 7 days by default) and ECS gives a task the secret once, at start.
const credentialCheckEvery = time.Minute

// flushTimeout bounds sending the last spans at exit, inside ECS's stop
// timeout together with server.ShutdownGrace.
const flushTimeout = 5 * time.Second

// serve runs the API until ctx ends. It does not migrate the database:
// `backend migrate` does, before a deploy rolls the service.
func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Parse(getenv)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))

	tracing, err := telemetry.Setup(ctx, cfg.Tracing)
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	defer func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
		defer cancel()
		if err := tracing.Shutdown(fctx); err != nil {
			log.Warn("could not send the last spans", "err", err)
		}
	}()

	attrs := []any{"addr", cfg.Addr, "allowed_origins", cfg.AllowedOrigins, "store", cfg.Store, "tracing", cfg.Tracing.Enabled}
	var store api.Store
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	switch cfg.Store {
	case config.StorePostgres:
		pool, err := database.OpenPool(ctx, cfg.DB, telemetry.QueryTracer(tracing.Provider()))
		if err != nil {
			return err
		}
		defer pool.Close()
		store = items.NewPostgres(pool)
		go func() {
			// Rejected credentials stop the task (an error exit) so that ECS starts one with the current secret,
			// before the pool's connections, which outlive a password change, are replaced and start failing.
			if err := database.WatchCredentials(ctx, cfg.DB, credentialCheckEvery); err != nil {
				log.Error("stopping: the database rejects this task's credentials; a new task reads the current secret", "err", err)
				stop(err)
			}
		}()
		attrs = append(attrs, "db", cfg.DB)
	default:
		store = items.NewMemory()
	}
	log.Info("starting", attrs...)
	if p, ok := store.(api.Pinger); ok {
		// Start anyway when the database does not answer yet: /readyz says
		// so, and requests get a 500 until it does.
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := p.Ping(pctx); err != nil {
			log.Warn("database does not answer yet", "err", database.Scrub(cfg.DB, err))
		}
		cancel()
	}

	h := api.New(store, api.Options{AllowedOrigins: cfg.AllowedOrigins, Logger: log, TracerProvider: tracing.Provider()})
	if err := server.ListenAndServe(ctx, cfg.Addr, h, log); err != nil {
		return err
	}
	if cause := context.Cause(ctx); errors.Is(cause, database.ErrCredentialsRejected) {
		return cause
	}
	return nil
}
