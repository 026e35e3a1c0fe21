// Command backend serves the items REST API (see internal/api) on :$PORT.
// It reads its configuration from the environment once, here, and stops
// gracefully on SIGTERM or SIGINT.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/gitops-runner/runner/apps/backend/internal/api"
	"github.com/gitops-runner/runner/apps/backend/internal/config"
	"github.com/gitops-runner/runner/apps/backend/internal/items"
	"github.com/gitops-runner/runner/apps/backend/internal/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := config.Parse(os.Getenv)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))
	log.Info("starting", "addr", cfg.Addr, "allowed_origins", cfg.AllowedOrigins)
	h := api.New(items.NewMemory(), api.Options{AllowedOrigins: cfg.AllowedOrigins, Logger: log})
	return server.ListenAndServe(ctx, cfg.Addr, h, log)
}
