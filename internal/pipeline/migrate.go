package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gitops-runner/runner/internal/config"
	"github.com/gitops-runner/runner/internal/store"
)

// The migrate stage. An image app with migrate in .runner.yaml has its database migrations run before each
// environment's apply, which rolls the service: no task of the new version starts before its schema is
// there, and a failed migration stops the deploy with every running task untouched. Migrations must stay
// compatible with the version running while they apply (expand, then contract); rollbacks do not migrate.
//
// Where the task runs comes from the environment's current state (the output migrate.output names). A first
// deploy has none yet (the database comes with that apply): its stage runs after the apply instead, before
// the service is waited for.

// migrator is the image app of this deploy whose migrations run, if any.
func (w *work) migrator(apps []string) (config.App, bool) {
	for _, a := range apps {
		if app, ok := w.cfg.App(a); ok && app.Kind == config.AppKindImage && app.Migrate != nil {
			return app, true
		}
	}
	return config.App{}, false
}

// migrate runs env's migrate stage. Before the apply it reads the target from the current state, and
// reports later when there is none yet; after the apply (afterApply, applied: its outputs) the target must
// be there.
func (w *work) migrate(ctx context.Context, env config.Environment, app config.App, image, lastImage string,
	afterApply bool, applied map[string]string) (later bool, err error) {
	key := store.StageKey{Env: env.Name, Name: StageMigrate}
	_, err = w.runStage(ctx, key, false, func(ctx context.Context, log io.Writer) (string, map[string]string, error) {
		switch {
		case w.rollbackVars != nil:
			return "", nil, skip("rollbacks do not migrate: the schema stays (expand/contract keeps it compatible with the version rolled back to)")
		case image == "" || image == lastImage:
			return "", nil, skip("%s unchanged", app.Name)
		case w.e.deps.Migrations == nil:
			return "", nil, errors.New("no migration runner configured (it needs the runner's AWS clients)")
		}
		name := app.Migrate.Output
		outs := applied
		if !afterApply {
			fmt.Fprintf(log, "reading the %s output of %s\n", name, env.Name)
			g, err := w.grant(ctx, env.Name)
			if err != nil {
				return "", nil, err
			}
			o, err := w.outputsEnv(ctx, env, g.Env, log)
			if err != nil && o[name] == "" {
				return "", nil, fmt.Errorf("read the outputs of %s: %w", env.Name, err)
			}
			outs = o
		}
		target := outs[name]
		if target == "" {
			if !afterApply {
				later = true
				fmt.Fprintf(log, "no %s output yet (a first deploy): migrating after the apply\n", name)
				return "", nil, skip("no %s output yet (a first deploy): migrating after the apply, before the service is waited for", name)
			}
			return "", nil, fmt.Errorf("%s declares migrate, but environment %s has no %s output after its apply: "+
				"its Terraform must output where the migration task runs (see internal/migrate)", app.Name, env.Name, name)
		}
		fmt.Fprintf(log, "migrating %s with %s: %s\n", app.Name, image, strings.Join(app.Migrate.Command, " "))
		detail, err := w.e.deps.Migrations.Migrate(ctx, target, image, app.Migrate.Command, log)
		return detail, nil, err
	})
	return later, err
}
