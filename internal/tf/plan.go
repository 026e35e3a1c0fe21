package tf

import (
	"context"
	"sort"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// Plan runs `terraform plan -input=false -lock-timeout=... -out=out` with Options.VarFiles as -var-file
// and vars as -var k=v, and
// reports whether the plan has changes (from -detailed-exitcode).
func (w *Workspace) Plan(ctx context.Context, out string, vars map[string]string) (hasChanges bool, err error) {
	opts := []tfexec.PlanOption{tfexec.Out(out)}
	for _, f := range w.opts.VarFiles {
		opts = append(opts, tfexec.VarFile(f))
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		opts = append(opts, tfexec.Var(k+"="+vars[k]))
	}
	err = w.run(ctx, "plan", true, func(ctx context.Context, tf *tfexec.Terraform) error {
		var err error
		hasChanges, err = tf.Plan(ctx, append(opts, w.lockTimeout())...)
		return err
	})
	return hasChanges, err
}
