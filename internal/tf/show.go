package tf

import (
	"context"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
)

// Show returns the saved plan as `terraform show -json` describes it, numbers kept as json.Number.
func (w *Workspace) Show(ctx context.Context, planFile string) (*tfjson.Plan, error) {
	var plan *tfjson.Plan
	err := w.run(ctx, "show -json", false, func(ctx context.Context, tf *tfexec.Terraform) error {
		var err error
		plan, err = tf.ShowPlanFile(ctx, planFile, tfexec.JSONNumber(true))
		return err
	})
	return plan, err
}

// ShowText returns the saved plan as Terraform prints it for humans, without colour, for PR comments.
func (w *Workspace) ShowText(ctx context.Context, planFile string) (string, error) {
	var text string
	err := w.run(ctx, "show", false, func(ctx context.Context, tf *tfexec.Terraform) error {
		var err error
		text, err = tf.ShowPlanFileRaw(ctx, planFile)
		return err
	})
	return text, err
}
