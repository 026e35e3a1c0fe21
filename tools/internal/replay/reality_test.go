package replay

import (
	"context"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

func TestReadResourceFollowsTheRealityFile(t *testing.T) {
	p, s := testProvider(t, nil)
	b := s.Resources["aws_thing"].Block
	state := dyn(t, b, obj(b, map[string]tftypes.Value{"id": str("thing-1"), "name": str("api"), "size": tftypes.NewValue(tftypes.Number, big.NewFloat(2))}))
	file := filepath.Join(t.TempDir(), "reality.json")
	p.SetReality(file)
	read := func() (tftypes.Value, []*tfprotov5.Diagnostic) {
		t.Helper()
		resp, err := p.ReadResource(context.Background(), &tfprotov5.ReadResourceRequest{TypeName: "aws_thing", CurrentState: state})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Diagnostics) > 0 {
			return tftypes.Value{}, resp.Diagnostics
		}
		v, err := resp.NewState.Unmarshal(b.Type())
		if err != nil {
			t.Fatal(err)
		}
		return v, nil
	}
	tests := []struct {
		name, file string
		want       func(v tftypes.Value) bool
		diag       string
	}{
		{name: "no file: as stored", want: func(v tftypes.Value) bool { s, _ := asString(getAttr(v, "name")); return s == "api" }},
		{name: "another resource: as stored", file: `{"aws_thing/other": {"set": {"name": "x"}}}`,
			want: func(v tftypes.Value) bool { s, _ := asString(getAttr(v, "name")); return s == "api" }},
		{name: "changed in place", file: `{"aws_thing/thing-1": {"set": {"name": "renamed", "size": 3}}}`, want: func(v tftypes.Value) bool {
			s, _ := asString(getAttr(v, "name"))
			var n big.Float
			_ = getAttr(v, "size").As(&n)
			return s == "renamed" && n.Cmp(big.NewFloat(3)) == 0
		}},
		{name: "deleted", file: `{"aws_thing/thing-1": {"deleted": true}}`, want: func(v tftypes.Value) bool { return v.IsNull() }},
		{name: "unknown attribute", file: `{"aws_thing/thing-1": {"set": {"colour": "red"}}}`, diag: `no attribute "colour"`},
		{name: "not JSON", file: `{`, diag: "reality file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.Remove(file)
			if tt.file != "" {
				if err := os.WriteFile(file, []byte(tt.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			v, diags := read()
			if tt.diag != "" {
				if len(diags) == 0 || !strings.Contains(diags[0].Detail, tt.diag) {
					t.Fatalf("diagnostics %v, want one with %q", diags, tt.diag)
				}
				return
			}
			if len(diags) > 0 {
				t.Fatalf("diagnostics %v", diags)
			}
			if !tt.want(v) {
				t.Errorf("state %v", v)
			}
		})
	}
}
