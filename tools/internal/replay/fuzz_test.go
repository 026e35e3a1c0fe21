package replay

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
)

// FuzzParseSchemas feeds arbitrary documents to the schema decoder: it may reject them, never panic.
func FuzzParseSchemas(f *testing.F) {
	f.Add([]byte(testSchemaJSON))
	f.Add([]byte(resourceDoc(`"attributes": {"a": {"type": ["object", {"b": ["tuple", ["string", "number"]]}], "optional": true}}`)))
	f.Add([]byte(resourceDoc(`"block_types": {"b": {"nesting_mode": "list", "block": {"block_types": {"c": {"nesting_mode": "set", "block": {}}}}}}`)))
	f.Add([]byte(`{"provider_schemas": {"aws": null}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := ParseSchemas(doc, "aws")
		if err != nil {
			return
		}
		for _, r := range s.Resources {
			_ = r.Proto()
			_ = r.Block.Type().String()
		}
	})
}

// FuzzUpgradeState feeds arbitrary stored state JSON to the state decoder of a real-shaped resource.
func FuzzUpgradeState(f *testing.F) {
	s, err := ParseSchemas([]byte(testSchemaJSON), "aws")
	if err != nil {
		f.Fatal(err)
	}
	typ := s.Resources["aws_thing"].Block.Type()
	f.Add([]byte(`{"id":"t-1","name":"a","zones":["a"],"rule":[{"port":80,"rule_id":"r"}],"tags":{"a":"b"}}`))
	f.Add([]byte(`{"id":null,"listener":[{"port":1.5,"arn":null}],"rules":[{"port":1,"cidrs":["0.0.0.0/0"]}]}`))
	f.Add([]byte(`{"by_name":{"x":{"v":"y"}},"grp":{"g":"h"},"unknown_attr":[1,2,3]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, err := UpgradeState(&tfprotov5.RawState{JSON: raw}, typ)
		if err != nil {
			return
		}
		if _, err := tfprotov5.NewDynamicValue(typ, v); err != nil {
			t.Fatalf("decoded state %s does not encode: %v", raw, err)
		}
	})
}
