package server

import (
	"context"
	"io"
	"time"

	"github.com/gitops-runner/runner/internal/migrate"
	"github.com/gitops-runner/runner/internal/pipeline"
)

// migrations runs image apps' database migrations as one-off ECS tasks (internal/migrate).
type migrations struct{ r *migrate.Runner }

// NewMigrations returns the pipeline's migration runner on an ECS client; poll is the first delay between
// looks at the task (it grows to 6x).
func NewMigrations(api migrate.API, poll time.Duration) pipeline.Migrations {
	return migrations{r: migrate.New(api, migrate.Options{PollMin: poll, PollMax: 6 * poll})}
}

func (m migrations) Migrate(ctx context.Context, target, image string, command []string, log io.Writer) (string, error) {
	t, err := migrate.ParseTarget(target)
	if err != nil {
		return "", err
	}
	return m.r.Run(ctx, t, image, command, log)
}
