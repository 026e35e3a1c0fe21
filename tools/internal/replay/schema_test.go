package replay

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// testSchemaJSON is a tiny `terraform providers schema -json` document with one of each construct.
const testSchemaJSON = `{
  "format_version": "1.0",
  "provider_schemas": {
    "registry.terraform.io/hashicorp/aws": {
      "provider": {"version": 0, "block": {
        "attributes": {"region": {"type": "string", "optional": true}},
        "block_types": {"default_tags": {"nesting_mode": "list", "max_items": 1,
          "block": {"attributes": {"tags": {"type": ["map", "string"], "optional": true}}}}}
      }},
      "resource_schemas": {
        "aws_thing": {"version": 2, "block": {
          "attributes": {
            "id": {"type": "string", "optional": true, "computed": true},
            "arn": {"type": "string", "computed": true},
            "name": {"type": "string", "required": true},
            "size": {"type": "number", "optional": true},
            "enabled": {"type": "bool", "computed": true},
            "zones": {"type": ["list", "string"], "computed": true},
            "tags": {"type": ["map", "string"], "optional": true},
            "tags_all": {"type": ["map", "string"], "optional": true, "computed": true},
            "region": {"type": "string", "optional": true, "computed": true},
            "secret": {"type": "string", "optional": true, "sensitive": true, "write_only": true},
            "old": {"type": "string", "optional": true, "deprecated": true},
            "rules": {"type": ["set", ["object", {"port": "number", "cidrs": ["list", "string"]}]], "optional": true, "computed": true},
            "shape": {"nested_type": {"nesting_mode": "list", "attributes": {"x": {"type": "number", "optional": true}}}, "optional": true}
          },
          "block_types": {
            "timeouts": {"nesting_mode": "single", "block": {"attributes": {"create": {"type": "string", "optional": true}}}},
            "rule": {"nesting_mode": "set", "block": {"attributes": {
              "port": {"type": "number", "required": true},
              "rule_id": {"type": "string", "computed": true}}}},
            "listener": {"nesting_mode": "list", "min_items": 1, "max_items": 2, "block": {"attributes": {
              "port": {"type": "number", "required": true},
              "arn": {"type": "string", "computed": true}}}},
            "by_name": {"nesting_mode": "map", "block": {"attributes": {"v": {"type": "string", "optional": true}}}},
            "grp": {"nesting_mode": "group", "block": {"attributes": {"g": {"type": "string", "optional": true}}}}
          }
        }}
      },
      "data_source_schemas": {
        "aws_availability_zones": {"version": 0, "block": {"attributes": {
          "id": {"type": "string", "optional": true, "computed": true},
          "state": {"type": "string", "optional": true},
          "exclude_names": {"type": ["set", "string"], "optional": true},
          "names": {"type": ["list", "string"], "computed": true},
          "region": {"type": "string", "optional": true, "computed": true}}}},
        "aws_caller_identity": {"version": 0, "block": {"attributes": {
          "id": {"type": "string", "optional": true, "computed": true},
          "account_id": {"type": "string", "computed": true},
          "arn": {"type": "string", "computed": true}}}},
        "aws_iam_policy_document": {"version": 0, "block": {
          "attributes": {
            "id": {"type": "string", "optional": true, "computed": true},
            "json": {"type": "string", "computed": true},
            "minified_json": {"type": "string", "computed": true},
            "version": {"type": "string", "optional": true},
            "source_policy_documents": {"type": ["list", "string"], "optional": true}},
          "block_types": {"statement": {"nesting_mode": "list", "block": {
            "attributes": {
              "sid": {"type": "string", "optional": true},
              "effect": {"type": "string", "optional": true},
              "actions": {"type": ["set", "string"], "optional": true},
              "resources": {"type": ["set", "string"], "optional": true}},
            "block_types": {
              "principals": {"nesting_mode": "set", "block": {"attributes": {
                "type": {"type": "string", "required": true},
                "identifiers": {"type": ["set", "string"], "required": true}}}},
              "condition": {"nesting_mode": "set", "block": {"attributes": {
                "test": {"type": "string", "required": true},
                "variable": {"type": "string", "required": true},
                "values": {"type": ["list", "string"], "required": true}}}}}}}}}}
      },
      "ephemeral_resource_schemas": {
        "aws_token": {"version": 0, "block": {"attributes": {"value": {"type": "string", "computed": true, "sensitive": true}}}}
      }
    }
  }
}`

func testSchemas(t *testing.T) *Schemas {
	t.Helper()
	s, err := ParseSchemas([]byte(testSchemaJSON), "aws")
	if err != nil {
		t.Fatalf("ParseSchemas: %v", err)
	}
	return s
}

func TestParseSchemasConvertsAttributes(t *testing.T) {
	s := testSchemas(t)
	thing := s.Resources["aws_thing"]
	if thing == nil || thing.Version != 2 {
		t.Fatalf("aws_thing: got %+v, want version 2", thing)
	}
	ruleObj := tftypes.Object{AttributeTypes: map[string]tftypes.Type{"port": tftypes.Number, "cidrs": tftypes.List{ElementType: tftypes.String}}}
	tests := []struct {
		name                         string
		want                         tftypes.Type
		required, optional, computed bool
		sensitive, deprecated        bool
	}{
		{name: "id", want: tftypes.String, optional: true, computed: true},
		{name: "arn", want: tftypes.String, computed: true},
		{name: "name", want: tftypes.String, required: true},
		{name: "size", want: tftypes.Number, optional: true},
		{name: "enabled", want: tftypes.Bool, computed: true},
		{name: "zones", want: tftypes.List{ElementType: tftypes.String}, computed: true},
		{name: "tags", want: tftypes.Map{ElementType: tftypes.String}, optional: true},
		{name: "secret", want: tftypes.String, optional: true, sensitive: true},
		{name: "old", want: tftypes.String, optional: true, deprecated: true},
		{name: "rules", want: tftypes.Set{ElementType: ruleObj}, optional: true, computed: true},
		{name: "shape", want: tftypes.List{ElementType: tftypes.Object{AttributeTypes: map[string]tftypes.Type{"x": tftypes.Number}}}, optional: true},
	}
	proto := map[string]*tfprotov5.SchemaAttribute{}
	for _, a := range thing.Proto().Block.Attributes {
		proto[a.Name] = a
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := proto[tt.name]
			if a == nil {
				t.Fatalf("attribute %s missing", tt.name)
			}
			if !a.Type.Equal(tt.want) {
				t.Errorf("type = %s, want %s", a.Type, tt.want)
			}
			if a.Required != tt.required || a.Optional != tt.optional || a.Computed != tt.computed {
				t.Errorf("required/optional/computed = %v/%v/%v, want %v/%v/%v", a.Required, a.Optional, a.Computed, tt.required, tt.optional, tt.computed)
			}
			if a.Sensitive != tt.sensitive || a.Deprecated != tt.deprecated {
				t.Errorf("sensitive/deprecated = %v/%v, want %v/%v", a.Sensitive, a.Deprecated, tt.sensitive, tt.deprecated)
			}
			if a.WriteOnly {
				t.Errorf("write-only must not be served (Terraform 1.5 would keep it in state)")
			}
		})
	}
}

func TestParseSchemasConvertsBlocks(t *testing.T) {
	thing := testSchemas(t).Resources["aws_thing"]
	tests := []struct {
		name     string
		nesting  tfprotov5.SchemaNestedBlockNestingMode
		min, max int64
		implied  func(obj tftypes.Object) tftypes.Type
	}{
		{"timeouts", tfprotov5.SchemaNestedBlockNestingModeSingle, 0, 0, func(o tftypes.Object) tftypes.Type { return o }},
		{"rule", tfprotov5.SchemaNestedBlockNestingModeSet, 0, 0, func(o tftypes.Object) tftypes.Type { return tftypes.Set{ElementType: o} }},
		{"listener", tfprotov5.SchemaNestedBlockNestingModeList, 1, 2, func(o tftypes.Object) tftypes.Type { return tftypes.List{ElementType: o} }},
		{"by_name", tfprotov5.SchemaNestedBlockNestingModeMap, 0, 0, func(o tftypes.Object) tftypes.Type { return tftypes.Map{ElementType: o} }},
		{"grp", tfprotov5.SchemaNestedBlockNestingModeGroup, 0, 0, func(o tftypes.Object) tftypes.Type { return o }},
	}
	proto := map[string]*tfprotov5.SchemaNestedBlock{}
	for _, b := range thing.Proto().Block.BlockTypes {
		proto[b.TypeName] = b
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := proto[tt.name]
			if b == nil {
				t.Fatalf("block %s missing", tt.name)
			}
			if b.Nesting != tt.nesting || b.MinItems != tt.min || b.MaxItems != tt.max {
				t.Errorf("nesting/min/max = %v/%d/%d, want %v/%d/%d", b.Nesting, b.MinItems, b.MaxItems, tt.nesting, tt.min, tt.max)
			}
			inner := thing.Block.BlockTypes[tt.name].Block.Type()
			got := thing.Block.Type().AttributeTypes[tt.name]
			if want := tt.implied(inner); !got.Equal(want) {
				t.Errorf("implied type = %s, want %s", got, want)
			}
		})
	}
}

func TestParseSchemasRejectsBadInput(t *testing.T) {
	tests := []struct {
		name, doc, wantErr string
	}{
		{"not json", `{`, "decode"},
		{"no provider", `{"provider_schemas": {"registry.terraform.io/hashicorp/google": {}}}`, `no provider "aws"`},
		{"bad type", resourceDoc(`"attributes": {"a": {"type": "strin", "optional": true}}`), "invalid primitive type"},
		{"missing type", resourceDoc(`"attributes": {"a": {"optional": true}}`), "no type"},
		{"no mode", resourceDoc(`"attributes": {"a": {"type": "string"}}`), "neither required, optional nor computed"},
		{"bad nesting", resourceDoc(`"block_types": {"b": {"nesting_mode": "tuple", "block": {}}}`), "unknown nesting mode"},
		{"deep type", resourceDoc(`"attributes": {"a": {"optional": true, "type": ` + strings.Repeat(`["list",`, 100) + `"string"` + strings.Repeat(`]`, 100) + `}}`), "too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSchemas([]byte(tt.doc), "aws")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}

func resourceDoc(block string) string {
	return `{"provider_schemas": {"registry.terraform.io/hashicorp/aws": {"provider": {"block": {}},
	  "resource_schemas": {"aws_x": {"block": {` + block + `}}}}}}`
}

// TestLoadSchemaFileReal converts the real aws schemas this project replays, where they are available.
func TestLoadSchemaFileReal(t *testing.T) {
	for _, file := range []string{"aws-provider-schema-6.47.0.json.gz", "aws-provider-schema-4.36.1.json.gz"} {
		t.Run(file, func(t *testing.T) {
			path := "../../../../shared/terraform/" + file
			if _, err := os.Stat(path); err != nil {
				t.Skipf("SKIP: %s not present (needs ../shared/terraform beside the repository)", path)
			}
			s, err := LoadSchemaFile(path, "aws")
			if err != nil {
				t.Fatalf("LoadSchemaFile: %v", err)
			}
			if len(s.Resources) < 1000 || len(s.DataSources) < 400 {
				t.Errorf("got %d resources and %d data sources, want >= 1000 and >= 400", len(s.Resources), len(s.DataSources))
			}
			for _, typeName := range []string{"aws_vpc", "aws_subnet", "aws_security_group", "aws_lb", "aws_ecs_service", "aws_autoscaling_group", "aws_route53_record", "aws_acm_certificate"} {
				if s.Resources[typeName] == nil {
					t.Errorf("resource %s missing", typeName)
				}
			}
			if _, err := json.Marshal(s.Resources["aws_vpc"].Block.Type()); err != nil {
				t.Errorf("aws_vpc type does not marshal: %v", err)
			}
		})
	}
}
