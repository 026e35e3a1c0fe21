package replay

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

func testProvider(t *testing.T, providerConfig map[string]tftypes.Value) (*Provider, *Schemas) {
	t.Helper()
	s := testSchemas(t)
	o, err := DefaultOverrides()
	if err != nil {
		t.Fatal(err)
	}
	p := New(s, o)
	if providerConfig != nil {
		resp, err := p.ConfigureProvider(context.Background(), &tfprotov5.ConfigureProviderRequest{
			Config: dyn(t, s.Provider.Block, obj(s.Provider.Block, providerConfig)),
		})
		if err != nil || len(resp.Diagnostics) > 0 {
			t.Fatalf("ConfigureProvider: %v %v", err, resp.Diagnostics)
		}
	}
	return p, s
}

// obj builds a value of the block's type; attributes not given are null.
func obj(b *Block, attrs map[string]tftypes.Value) tftypes.Value {
	all := nullAttrs(b.Type())
	for k, v := range attrs {
		all[k] = v
	}
	return tftypes.NewValue(b.Type(), all)
}

func dyn(t *testing.T, b *Block, v tftypes.Value) *tfprotov5.DynamicValue {
	t.Helper()
	d, err := encode(b.Type(), v)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func undyn(t *testing.T, b *Block, d *tfprotov5.DynamicValue) map[string]tftypes.Value {
	t.Helper()
	v, err := decode(d, b.Type())
	if err != nil {
		t.Fatal(err)
	}
	if v.IsNull() {
		return nil
	}
	var attrs map[string]tftypes.Value
	if err := v.As(&attrs); err != nil {
		t.Fatal(err)
	}
	return attrs
}

func str(s string) tftypes.Value { return tftypes.NewValue(tftypes.String, s) }

func unknown(t tftypes.Type) tftypes.Value { return tftypes.NewValue(t, tftypes.UnknownValue) }

func strMap(kv ...string) tftypes.Value {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return stringMap(m)
}

// thingConfig is an aws_thing configuration with one rule and one listener block.
func thingConfig(b *Block, name string, tags tftypes.Value) tftypes.Value {
	rule := b.BlockTypes["rule"].Block
	listener := b.BlockTypes["listener"].Block
	return obj(b, map[string]tftypes.Value{
		"name": str(name),
		"tags": tags,
		"rule": tftypes.NewValue(b.Type().AttributeTypes["rule"], []tftypes.Value{
			obj(rule, map[string]tftypes.Value{"port": tftypes.NewValue(tftypes.Number, number(80))}),
		}),
		"listener": tftypes.NewValue(b.Type().AttributeTypes["listener"], []tftypes.Value{
			obj(listener, map[string]tftypes.Value{"port": tftypes.NewValue(tftypes.Number, number(443))}),
		}),
		"by_name": tftypes.NewValue(b.Type().AttributeTypes["by_name"], map[string]tftypes.Value{}),
		"grp":     obj(b.BlockTypes["grp"].Block, nil),
	})
}

func TestPlanResourceChange(t *testing.T) {
	mapType := tftypes.Map{ElementType: tftypes.String}
	tests := []struct {
		name       string
		provider   map[string]tftypes.Value
		prior      func(b *Block) tftypes.Value
		proposed   func(b *Block) tftypes.Value
		wantNull   bool
		wantAttrs  map[string]tftypes.Value
		wantNested bool // rule_id and listener arn planned unknown
	}{
		{
			name:  "create plans computed attributes as unknown",
			prior: func(b *Block) tftypes.Value { return tftypes.NewValue(b.Type(), nil) },
			proposed: func(b *Block) tftypes.Value {
				return thingConfig(b, "a", strMap("Name", "a"))
			},
			wantAttrs: map[string]tftypes.Value{
				"id": unknown(tftypes.String), "arn": unknown(tftypes.String), "enabled": unknown(tftypes.Bool),
				"zones": unknown(tftypes.List{ElementType: tftypes.String}), "size": tftypes.NewValue(tftypes.Number, nil),
				"name": str("a"), "region": str("us-east-1"), "tags_all": strMap("Name", "a"),
			},
			wantNested: true,
		},
		{
			name:     "create merges provider default tags and region",
			provider: map[string]tftypes.Value{"region": str("eu-west-1"), "default_tags": defaultTags("Env", "dev")},
			prior:    func(b *Block) tftypes.Value { return tftypes.NewValue(b.Type(), nil) },
			proposed: func(b *Block) tftypes.Value { return thingConfig(b, "a", strMap("Name", "a", "Env", "x")) },
			wantAttrs: map[string]tftypes.Value{
				"region": str("eu-west-1"), "tags_all": strMap("Env", "x", "Name", "a"),
			},
		},
		{
			name:      "create with null tags still gets default tags",
			provider:  map[string]tftypes.Value{"default_tags": defaultTags("Env", "dev")},
			prior:     func(b *Block) tftypes.Value { return tftypes.NewValue(b.Type(), nil) },
			proposed:  func(b *Block) tftypes.Value { return thingConfig(b, "a", tftypes.NewValue(mapType, nil)) },
			wantAttrs: map[string]tftypes.Value{"tags_all": strMap("Env", "dev")},
		},
		{
			name:  "update keeps prior computed values",
			prior: func(b *Block) tftypes.Value { return appliedThing(t, b, "a") },
			proposed: func(b *Block) tftypes.Value {
				// What Terraform proposes: config values over prior computed values.
				v, _ := setAttrs(appliedThing(t, b, "a"), map[string]tftypes.Value{
					"size": tftypes.NewValue(tftypes.Number, number(2)), "tags": strMap("Name", "b"),
				})
				return v
			},
			wantAttrs: map[string]tftypes.Value{
				"size": tftypes.NewValue(tftypes.Number, number(2)), "tags_all": strMap("Name", "b"),
				"enabled": tftypes.NewValue(tftypes.Bool, false), "zones": tftypes.NewValue(tftypes.List{ElementType: tftypes.String}, []tftypes.Value{}),
			},
		},
		{
			name:     "delete plans null",
			prior:    func(b *Block) tftypes.Value { return appliedThing(t, b, "a") },
			proposed: func(b *Block) tftypes.Value { return tftypes.NewValue(b.Type(), nil) },
			wantNull: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, s := testProvider(t, tt.provider)
			b := s.Resources["aws_thing"].Block
			proposed := tt.proposed(b)
			config := proposed
			if !proposed.IsNull() {
				// Computed-only attributes are always null in configuration.
				config, _ = setAttrs(proposed, map[string]tftypes.Value{
					"id": tftypes.NewValue(tftypes.String, nil), "arn": tftypes.NewValue(tftypes.String, nil),
					"enabled": tftypes.NewValue(tftypes.Bool, nil), "zones": tftypes.NewValue(tftypes.List{ElementType: tftypes.String}, nil),
					"tags_all": tftypes.NewValue(mapType, nil), "region": tftypes.NewValue(tftypes.String, nil),
				})
			}
			resp, err := p.PlanResourceChange(context.Background(), &tfprotov5.PlanResourceChangeRequest{
				TypeName: "aws_thing", PriorState: dyn(t, b, tt.prior(b)), ProposedNewState: dyn(t, b, proposed), Config: dyn(t, b, config),
			})
			if err != nil || len(resp.Diagnostics) > 0 {
				t.Fatalf("PlanResourceChange: %v %v", err, resp.Diagnostics)
			}
			got := undyn(t, b, resp.PlannedState)
			if tt.wantNull {
				if got != nil {
					t.Fatalf("planned %v, want null", got)
				}
				return
			}
			for k, want := range tt.wantAttrs {
				if !got[k].Equal(want) {
					t.Errorf("%s = %s, want %s", k, got[k], want)
				}
			}
			if tt.wantNested {
				if s := got["rule"].String(); !strings.Contains(s, "rule_id") || !strings.Contains(s, "<unknown>") {
					t.Errorf("rule = %s, want rule_id unknown", s)
				}
				if s := got["listener"].String(); !strings.Contains(s, "<unknown>") {
					t.Errorf("listener = %s, want arn unknown", s)
				}
			}
		})
	}
}

func defaultTags(kv ...string) tftypes.Value {
	dt := testSchemasOnce().Provider.Block.BlockTypes["default_tags"].Block
	return tftypes.NewValue(tftypes.List{ElementType: dt.Type()}, []tftypes.Value{obj(dt, map[string]tftypes.Value{"tags": strMap(kv...)})})
}

func testSchemasOnce() *Schemas {
	s, err := ParseSchemas([]byte(testSchemaJSON), "aws")
	if err != nil {
		panic(err)
	}
	return s
}

// appliedThing plans and applies a new aws_thing and returns its state.
func appliedThing(t *testing.T, b *Block, name string) tftypes.Value {
	t.Helper()
	p, _ := testProvider(t, nil)
	cfg := thingConfig(b, name, strMap("Name", name))
	planned, _, err := p.plan("aws_thing", b, nil, dyn(t, b, cfg), dyn(t, b, cfg))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.ApplyResourceChange(context.Background(), &tfprotov5.ApplyResourceChangeRequest{
		TypeName: "aws_thing", PlannedState: planned, Config: dyn(t, b, cfg),
	})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("ApplyResourceChange: %v %v", err, resp.Diagnostics)
	}
	v, err := decode(resp.NewState, b.Type())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestApplyResourceChangeFillsUnknowns(t *testing.T) {
	_, s := testProvider(t, nil)
	b := s.Resources["aws_thing"].Block
	a1 := appliedThing(t, b, "one")
	if !a1.IsFullyKnown() {
		t.Fatalf("state has unknowns: %s", a1)
	}
	if again := appliedThing(t, b, "one"); !again.Equal(a1) {
		t.Errorf("apply is not deterministic:\n%s\n%s", a1, again)
	}
	a2 := appliedThing(t, b, "two")
	tests := []struct {
		attr  string
		check func(v tftypes.Value) bool
	}{
		{"id", func(v tftypes.Value) bool { s, _ := asString(v); return s != "" }},
		{"arn", func(v tftypes.Value) bool {
			s, _ := asString(v)
			return strings.HasPrefix(s, "arn:aws:thing:us-east-1:123456789012:")
		}},
		{"enabled", func(v tftypes.Value) bool { return v.Equal(tftypes.NewValue(tftypes.Bool, false)) }},
		{"zones", func(v tftypes.Value) bool { return len(asStrings(v)) == 0 && !v.IsNull() }},
		{"rules", func(v tftypes.Value) bool { return !v.IsNull() }},
		{"size", func(v tftypes.Value) bool { return v.IsNull() }},
	}
	attrs := map[string]tftypes.Value{}
	_ = a1.As(&attrs)
	for _, tt := range tests {
		if !tt.check(attrs[tt.attr]) {
			t.Errorf("%s = %s: unexpected", tt.attr, attrs[tt.attr])
		}
	}
	if getAttr(a1, "id").Equal(getAttr(a2, "id")) {
		t.Errorf("two resources with different names got the same id %s", getAttr(a1, "id"))
	}
}

func TestReadDataSource(t *testing.T) {
	tests := []struct {
		typeName string
		provider map[string]tftypes.Value
		config   func(b *Block) tftypes.Value
		want     map[string]tftypes.Value
	}{
		{
			typeName: "aws_availability_zones",
			config:   func(b *Block) tftypes.Value { return obj(b, map[string]tftypes.Value{"state": str("available")}) },
			want: map[string]tftypes.Value{
				"names":  stringList(tftypes.List{ElementType: tftypes.String}, []string{"us-east-1a", "us-east-1b", "us-east-1c"}),
				"region": str("us-east-1"), "state": str("available"),
			},
		},
		{
			typeName: "aws_availability_zones",
			provider: map[string]tftypes.Value{"region": str("eu-west-1")},
			config: func(b *Block) tftypes.Value {
				return obj(b, map[string]tftypes.Value{"exclude_names": stringList(tftypes.Set{ElementType: tftypes.String}, []string{"eu-west-1b"})})
			},
			want: map[string]tftypes.Value{"names": stringList(tftypes.List{ElementType: tftypes.String}, []string{"eu-west-1a", "eu-west-1c"})},
		},
		{
			typeName: "aws_caller_identity",
			config:   func(b *Block) tftypes.Value { return obj(b, nil) },
			want:     map[string]tftypes.Value{"account_id": str("123456789012"), "arn": str("arn:aws:iam::123456789012:user/replay")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.typeName, func(t *testing.T) {
			p, s := testProvider(t, tt.provider)
			b := s.DataSources[tt.typeName].Block
			resp, err := p.ReadDataSource(context.Background(), &tfprotov5.ReadDataSourceRequest{TypeName: tt.typeName, Config: dyn(t, b, tt.config(b))})
			if err != nil || len(resp.Diagnostics) > 0 {
				t.Fatalf("ReadDataSource: %v %v", err, resp.Diagnostics)
			}
			got := undyn(t, b, resp.State)
			for k, want := range tt.want {
				if !got[k].Equal(want) {
					t.Errorf("%s = %s, want %s", k, got[k], want)
				}
			}
			for k, v := range got {
				if a := b.Attributes[k]; a != nil && a.Computed && (v.IsNull() || !v.IsFullyKnown()) {
					t.Errorf("computed %s left %s", k, v)
				}
			}
		})
	}
}

func TestReadDataSourceRendersPolicyDocument(t *testing.T) {
	p, s := testProvider(t, nil)
	b := s.DataSources["aws_iam_policy_document"].Block
	st := b.BlockTypes["statement"].Block
	pr := st.BlockTypes["principals"].Block
	cond := st.BlockTypes["condition"].Block
	setOf := func(bb *Block, elems ...tftypes.Value) tftypes.Value {
		return tftypes.NewValue(tftypes.Set{ElementType: bb.Type()}, elems)
	}
	strs := func(ss ...string) tftypes.Value { return stringList(tftypes.Set{ElementType: tftypes.String}, ss) }
	config := obj(b, map[string]tftypes.Value{
		"statement": tftypes.NewValue(tftypes.List{ElementType: st.Type()}, []tftypes.Value{
			obj(st, map[string]tftypes.Value{
				"sid":     str("Assume"),
				"actions": strs("sts:AssumeRole"),
				"principals": setOf(pr, obj(pr, map[string]tftypes.Value{
					"type": str("Service"), "identifiers": strs("ecs-tasks.amazonaws.com"),
				})),
				"condition": setOf(cond, obj(cond, map[string]tftypes.Value{
					"test": str("StringEquals"), "variable": str("aws:SourceAccount"),
					"values": stringList(tftypes.List{ElementType: tftypes.String}, []string{"123456789012"}),
				})),
			}),
			obj(st, map[string]tftypes.Value{
				"effect": str("Deny"), "actions": strs("s3:PutObject", "s3:DeleteObject"), "resources": strs("*"),
			}),
		}),
	})
	resp, err := p.ReadDataSource(context.Background(), &tfprotov5.ReadDataSourceRequest{TypeName: "aws_iam_policy_document", Config: dyn(t, b, config)})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("ReadDataSource: %v %v", err, resp.Diagnostics)
	}
	got := undyn(t, b, resp.State)
	min, _ := asString(got["minified_json"])
	want := `{"Version":"2012-10-17","Statement":[{"Sid":"Assume","Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"}}},{"Effect":"Deny","Action":["s3:DeleteObject","s3:PutObject"],"Resource":"*"}]}`
	if min != want {
		t.Errorf("minified_json =\n%s\nwant\n%s", min, want)
	}
	indented, _ := asString(got["json"])
	if !json.Valid([]byte(indented)) || !strings.Contains(indented, "\n  \"Statement\"") {
		t.Errorf("json is not indented JSON: %s", indented)
	}
}

func TestUpgradeResourceState(t *testing.T) {
	p, s := testProvider(t, nil)
	b := s.Resources["aws_thing"].Block
	tests := []struct {
		name    string
		raw     *tfprotov5.RawState
		wantErr bool
		wantID  string
	}{
		{"current json with a removed attribute", &tfprotov5.RawState{JSON: []byte(`{"id":"t-1","name":"a","removed_attr":"x","zones":["a"]}`)}, false, "t-1"},
		{"flatmap", &tfprotov5.RawState{Flatmap: map[string]string{"id": "t-1"}}, true, ""},
		{"wrong type", &tfprotov5.RawState{JSON: []byte(`{"zones":{"a":1}}`)}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := p.UpgradeResourceState(context.Background(), &tfprotov5.UpgradeResourceStateRequest{TypeName: "aws_thing", Version: 1, RawState: tt.raw})
			if err != nil {
				t.Fatal(err)
			}
			if gotErr := len(resp.Diagnostics) > 0; gotErr != tt.wantErr {
				t.Fatalf("diagnostics = %v, want error %v", resp.Diagnostics, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if id, _ := asString(undyn(t, b, resp.UpgradedState)["id"]); id != tt.wantID {
				t.Errorf("id = %q, want %q", id, tt.wantID)
			}
		})
	}
}

func TestImportResourceStateSetsID(t *testing.T) {
	p, s := testProvider(t, nil)
	resp, err := p.ImportResourceState(context.Background(), &tfprotov5.ImportResourceStateRequest{TypeName: "aws_thing", ID: "t-9"})
	if err != nil || len(resp.Diagnostics) > 0 || len(resp.ImportedResources) != 1 {
		t.Fatalf("ImportResourceState: %v %v %d", err, resp.Diagnostics, len(resp.ImportedResources))
	}
	if id, _ := asString(undyn(t, s.Resources["aws_thing"].Block, resp.ImportedResources[0].State)["id"]); id != "t-9" {
		t.Errorf("id = %q, want t-9", id)
	}
}

func TestUnknownTypeIsAnError(t *testing.T) {
	p, _ := testProvider(t, nil)
	resp, err := p.ValidateResourceTypeConfig(context.Background(), &tfprotov5.ValidateResourceTypeConfigRequest{TypeName: "aws_nope"})
	if err != nil || len(resp.Diagnostics) != 1 {
		t.Fatalf("got %v %v, want one diagnostic", err, resp.Diagnostics)
	}
}

func TestValidateWarnsAboutDeprecatedArguments(t *testing.T) {
	p, s := testProvider(t, nil)
	b := s.Resources["aws_thing"].Block
	tests := []struct {
		name   string
		config tftypes.Value
		want   int
	}{
		{"not set", thingConfig(b, "a", strMap()), 0},
		{"set", func() tftypes.Value {
			v, _ := setAttrs(thingConfig(b, "a", strMap()), map[string]tftypes.Value{"old": str("x")})
			return v
		}(), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := p.ValidateResourceTypeConfig(context.Background(), &tfprotov5.ValidateResourceTypeConfigRequest{TypeName: "aws_thing", Config: dyn(t, b, tt.config)})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Diagnostics) != tt.want {
				t.Fatalf("diagnostics = %v, want %d", resp.Diagnostics, tt.want)
			}
			for _, d := range resp.Diagnostics {
				if d.Severity != tfprotov5.DiagnosticSeverityWarning || !d.Attribute.Equal(tftypes.NewAttributePath().WithAttributeName("old")) {
					t.Errorf("diagnostic %+v: want a warning on old", d)
				}
			}
		})
	}
}

func TestPlanUpdateReplacesAndInvalidates(t *testing.T) {
	s := testSchemas(t)
	b := s.Resources["aws_thing"].Block
	o, err := ParseOverrides([]byte(`{"replace_on_change": {"aws_thing": ["name"]}, "unknown_on_update": {"aws_thing": ["arn"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	p := New(s, o)
	prior := appliedThing(t, b, "a")
	tests := []struct {
		name        string
		change      map[string]tftypes.Value
		wantReplace []string
		wantArn     string // "unknown" or "prior"
	}{
		{"no change", nil, nil, "prior"},
		{"tags only", map[string]tftypes.Value{"tags": strMap("Name", "x")}, nil, "prior"},
		{"in-place argument", map[string]tftypes.Value{"size": tftypes.NewValue(tftypes.Number, number(3))}, nil, "unknown"},
		{"force-new argument", map[string]tftypes.Value{"name": str("b")}, []string{`AttributeName("name")`}, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proposed, _ := setAttrs(prior, tt.change)
			config, _ := setAttrs(proposed, map[string]tftypes.Value{"arn": tftypes.NewValue(tftypes.String, nil)})
			resp, err := p.PlanResourceChange(context.Background(), &tfprotov5.PlanResourceChangeRequest{
				TypeName: "aws_thing", PriorState: dyn(t, b, prior), ProposedNewState: dyn(t, b, proposed), Config: dyn(t, b, config),
			})
			if err != nil || len(resp.Diagnostics) > 0 {
				t.Fatalf("PlanResourceChange: %v %v", err, resp.Diagnostics)
			}
			var got []string
			for _, path := range resp.RequiresReplace {
				got = append(got, path.String())
			}
			if strings.Join(got, ",") != strings.Join(tt.wantReplace, ",") {
				t.Errorf("requires replace = %v, want %v", got, tt.wantReplace)
			}
			arn := undyn(t, b, resp.PlannedState)["arn"]
			if (tt.wantArn == "unknown") != !arn.IsKnown() {
				t.Errorf("arn = %s, want %s", arn, tt.wantArn)
			}
		})
	}
}

func TestGeneratedNumbers(t *testing.T) {
	objType := tftypes.Object{AttributeTypes: map[string]tftypes.Type{"latest_version": tftypes.Number}}
	prior := tftypes.NewValue(objType, map[string]tftypes.Value{"latest_version": tftypes.NewValue(tftypes.Number, number(4))})
	tests := []struct {
		name       string
		prior      tftypes.Value
		attr, path string
		want       int64
	}{
		{"new version", tftypes.NewValue(objType, nil), "latest_version", ".latest_version", 1},
		{"updated version increments", prior, "latest_version", ".latest_version", 5},
		{"nested version does not", prior, "latest_version", ".x.latest_version", 1},
		{"other numbers", prior, "port", ".port", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newValueGen("aws_launch_template", tt.prior, "us-east-1", DefaultAccount)
			g.prior = tt.prior
			if got := g.num(tt.attr, tt.path); got != tt.want {
				t.Errorf("num = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestReadLatency(t *testing.T) {
	p, s := testProvider(t, nil)
	p.SetReadLatency(50 * time.Millisecond)
	azs := s.DataSources["aws_availability_zones"].Block
	vpc := s.Resources["aws_thing"].Block
	state := dyn(t, vpc, obj(vpc, map[string]tftypes.Value{"id": str("vpc-1")}))
	reads := map[string]func(ctx context.Context) []*tfprotov5.Diagnostic{
		"ReadDataSource": func(ctx context.Context) []*tfprotov5.Diagnostic {
			resp, err := p.ReadDataSource(ctx, &tfprotov5.ReadDataSourceRequest{TypeName: "aws_availability_zones", Config: dyn(t, azs, obj(azs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			return resp.Diagnostics
		},
		"ReadResource": func(ctx context.Context) []*tfprotov5.Diagnostic {
			resp, err := p.ReadResource(ctx, &tfprotov5.ReadResourceRequest{TypeName: "aws_thing", CurrentState: state})
			if err != nil {
				t.Fatal(err)
			}
			return resp.Diagnostics
		},
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			if diags := read(context.Background()); len(diags) > 0 {
				t.Fatalf("diagnostics: %v", diags)
			}
			if took := time.Since(start); took < 50*time.Millisecond {
				t.Errorf("read took %s, want at least the 50ms latency", took)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			start = time.Now()
			diags := read(ctx)
			if len(diags) != 1 || diags[0].Severity != tfprotov5.DiagnosticSeverityError {
				t.Fatalf("cancelled read: diagnostics %v, want one error", diags)
			}
			if took := time.Since(start); took > 40*time.Millisecond {
				t.Errorf("cancelled read took %s, want it to return at once", took)
			}
		})
	}
}
