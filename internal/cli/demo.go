package cli

import (
	"context"
	"errors"
)

// Demo runs the whole story locally.
func Demo(ctx context.Context, env Env, args []string) error {
	return errors.New("demo: not built yet")
}
