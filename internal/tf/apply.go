package tf

import (
	"context"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// Apply applies exactly the saved plan in planFile: `terraform apply -input=false -lock-timeout=...
// planFile`. Terraform refuses a stale plan (state changed since it was made), so nothing outside the
// reviewed plan is applied.
func (w *Workspace) Apply(ctx context.Context, planFile string) error {
	return w.run(ctx, "apply", true, func(ctx context.Context, tf *tfexec.Terraform) error {
		return tf.Apply(ctx, tfexec.DirOrPlan(planFile), w.lockTimeout())
	})
}
