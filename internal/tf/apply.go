package tf

import (
	"context"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// Apply applies exactly the saved plan in planFile: `terraform apply -input=false -lock-timeout=...
// planFile`. Terraform refuses a stale plan (state changed since it was made), so nothing outside the
// reviewed plan is applied. The stage log shows how many resources are done, out of Planned when given.
func (w *Workspace) Apply(ctx context.Context, planFile string, opts ...ApplyOption) error {
	var cfg applyConfig
	for _, o := range opts {
		o.applyOption(&cfg)
	}
	progress := newApplyProgress(w.log, cfg)
	w.stdout.setObserver(progress.line)
	defer w.stdout.setObserver(nil)
	err := w.run(ctx, "apply", true, func(ctx context.Context, tf *tfexec.Terraform) error {
		return tf.Apply(ctx, tfexec.DirOrPlan(planFile), w.lockTimeout())
	})
	progress.finish()
	return err
}
