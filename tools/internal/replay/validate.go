package replay

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// deprecations warns about deprecated arguments set in a configuration, as the real provider does.
// Terraform itself only warns about references to deprecated attributes.
func deprecations(b *Block, v tftypes.Value, path *tftypes.AttributePath) []*tfprotov5.Diagnostic {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	var attrs map[string]tftypes.Value
	if err := v.As(&attrs); err != nil {
		return nil
	}
	var diags []*tfprotov5.Diagnostic
	for _, name := range sortedKeys(b.Attributes) {
		if av, ok := attrs[name]; ok && b.Attributes[name].Deprecated && !av.IsNull() {
			diags = append(diags, &tfprotov5.Diagnostic{
				Severity:  tfprotov5.DiagnosticSeverityWarning,
				Summary:   "Argument is deprecated",
				Detail:    fmt.Sprintf("The argument %q is deprecated in this version of hashicorp/aws; see the provider documentation for its replacement.", name),
				Attribute: path.WithAttributeName(name),
			})
		}
	}
	for _, name := range sortedKeys(b.BlockTypes) {
		bv, ok := attrs[name]
		if !ok || bv.IsNull() || !bv.IsKnown() {
			continue
		}
		nb := b.BlockTypes[name]
		bp := path.WithAttributeName(name)
		switch nb.Nesting {
		case nestList, nestSet:
			var elems []tftypes.Value
			if bv.As(&elems) != nil {
				continue
			}
			for i, e := range elems {
				ep := bp.WithElementKeyInt(i)
				if nb.Nesting == nestSet {
					ep = bp.WithElementKeyValue(e)
				}
				diags = append(diags, deprecations(nb.Block, e, ep)...)
			}
		case nestMap:
			var elems map[string]tftypes.Value
			if bv.As(&elems) != nil {
				continue
			}
			for _, k := range sortedKeys(elems) {
				diags = append(diags, deprecations(nb.Block, elems[k], bp.WithElementKeyString(k))...)
			}
		default:
			diags = append(diags, deprecations(nb.Block, bv, bp)...)
		}
	}
	return diags
}

// validateConfig decodes a configuration and reports its deprecated arguments.
func validateConfig(s *Schema, dv *tfprotov5.DynamicValue) []*tfprotov5.Diagnostic {
	v, err := decode(dv, s.Block.Type())
	if err != nil {
		return errorDiag("Invalid configuration", err)
	}
	return deprecations(s.Block, v, tftypes.NewAttributePath())
}
