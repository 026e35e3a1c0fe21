package replay

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

//go:embed overrides.json
var defaultOverrides []byte

// Overrides are fixed attribute values per type, used instead of generated ones where the configuration
// leaves a computed attribute null. Values are JSON in Terraform's JSON value encoding.
//
// ReplaceOnChange and UnknownOnUpdate (type -> attribute names) stand in for what the schema does not
// record: arguments whose change replaces the resource, and computed attributes that change on any update.
type Overrides struct {
	DataSources     map[string]map[string]json.RawMessage `json:"data_sources"`
	Resources       map[string]map[string]json.RawMessage `json:"resources"`
	ReplaceOnChange map[string]json.RawMessage            `json:"replace_on_change"`
	UnknownOnUpdate map[string]json.RawMessage            `json:"unknown_on_update"`
}

// DefaultOverrides returns the overrides built into the provider.
func DefaultOverrides() (*Overrides, error) {
	return ParseOverrides(defaultOverrides)
}

// ParseOverrides decodes an overrides document.
func ParseOverrides(raw []byte) (*Overrides, error) {
	var o Overrides
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("decode overrides: %w", err)
	}
	return &o, nil
}

// LoadOverrides reads the overrides file at path and lays it over the built-in ones, attribute by attribute.
func LoadOverrides(path string) (*Overrides, error) {
	base, err := DefaultOverrides()
	if err != nil {
		return nil, err
	}
	if path == "" {
		return base, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read overrides: %w", err)
	}
	extra, err := ParseOverrides(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	base.DataSources = mergeOverrides(base.DataSources, extra.DataSources)
	base.Resources = mergeOverrides(base.Resources, extra.Resources)
	for _, m := range []struct{ dst, src *map[string]json.RawMessage }{
		{&base.ReplaceOnChange, &extra.ReplaceOnChange},
		{&base.UnknownOnUpdate, &extra.UnknownOnUpdate},
	} {
		if *m.dst == nil {
			*m.dst = map[string]json.RawMessage{}
		}
		for k, v := range *m.src {
			(*m.dst)[k] = v
		}
	}
	return base, nil
}

func mergeOverrides(dst, src map[string]map[string]json.RawMessage) map[string]map[string]json.RawMessage {
	if dst == nil {
		dst = map[string]map[string]json.RawMessage{}
	}
	for typeName, attrs := range src {
		if dst[typeName] == nil {
			dst[typeName] = map[string]json.RawMessage{}
		}
		for k, v := range attrs {
			dst[typeName][k] = v
		}
	}
	return dst
}

// values converts the overrides of one type to values of the block's attribute types. Attributes the
// schema does not have are ignored, so one file serves several provider versions.
func (o *Overrides) values(set map[string]map[string]json.RawMessage, typeName string, b *Block, region, account string) (map[string]tftypes.Value, error) {
	out := map[string]tftypes.Value{}
	if o == nil {
		return out, nil
	}
	repl := strings.NewReplacer("${region}", region, "${account}", account)
	for name, raw := range set[typeName] {
		a, ok := b.Attributes[name]
		if !ok || strings.HasPrefix(name, "_") {
			continue
		}
		v, err := tftypes.ValueFromJSON([]byte(repl.Replace(string(raw))), a.Type)
		if err != nil {
			return nil, fmt.Errorf("override %s.%s: %w", typeName, name, err)
		}
		out[name] = v
	}
	return out, nil
}

// names returns the attribute names listed for typeName in one of the per-type list sections.
func (o *Overrides) names(set map[string]json.RawMessage, typeName string) ([]string, error) {
	if o == nil || set[typeName] == nil {
		return nil, nil
	}
	var names []string
	if err := json.Unmarshal(set[typeName], &names); err != nil {
		return nil, fmt.Errorf("override list for %s: %w", typeName, err)
	}
	return names, nil
}
