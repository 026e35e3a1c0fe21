package tf

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// Outputs returns the root module's outputs from the state as strings: a string output as its value,
// any other type as compact JSON. Sensitive outputs are left out, so the result can be logged and
// posted.
func (w *Workspace) Outputs(ctx context.Context) (map[string]string, error) {
	var metas map[string]tfexec.OutputMeta
	err := w.run(ctx, "output -json", false, func(ctx context.Context, tf *tfexec.Terraform) error {
		var err error
		metas, err = tf.Output(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(metas))
	for name, m := range metas {
		if m.Sensitive {
			continue
		}
		v, err := outputString(m.Value)
		if err != nil {
			return nil, fmt.Errorf("output %s %s: %w", w.name, name, err)
		}
		out[name] = v
	}
	return out, nil
}

func outputString(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return "", err
	}
	return buf.String(), nil
}
