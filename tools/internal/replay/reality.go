package replay

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// Reality is what "the cloud" holds where it differs from the state: a JSON file, read at every refresh,
// that tests edit behind Terraform's back to make drift. Keys are "<resource type>/<id>"; a value is
// either {"deleted": true} (the resource is gone) or {"set": {"<attribute>": <JSON value>}} (top-level
// string, number and bool attributes changed in place, e.g. from a console).
type Reality struct {
	Path string // "" for none
}

type realEntry struct {
	Deleted bool                       `json:"deleted"`
	Set     map[string]json.RawMessage `json:"set"`
}

// SetReality makes every ReadResource consult the reality file at path. Call it before serving.
func (p *Provider) SetReality(path string) { p.reality = Reality{Path: path} }

// apply returns state as the reality file says the cloud holds it: unchanged when the file or the entry
// is absent, null when deleted, or with the entry's attributes set.
func (r Reality) apply(typeName string, state tftypes.Value) (tftypes.Value, error) {
	if r.Path == "" || state.IsNull() || !state.IsKnown() {
		return state, nil
	}
	raw, err := os.ReadFile(r.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return state, nil
	}
	if err != nil {
		return state, fmt.Errorf("read the reality file: %w", err)
	}
	var entries map[string]realEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return state, fmt.Errorf("reality file %s: %w", r.Path, err)
	}
	id, ok := asString(getAttr(state, "id"))
	if !ok {
		return state, nil
	}
	e, ok := entries[typeName+"/"+id]
	if !ok {
		return state, nil
	}
	if e.Deleted {
		return tftypes.NewValue(state.Type(), nil), nil
	}
	obj, ok := state.Type().(tftypes.Object)
	if !ok {
		return state, nil
	}
	repl := map[string]tftypes.Value{}
	for name, js := range e.Set {
		t, ok := obj.AttributeTypes[name]
		if !ok {
			return state, fmt.Errorf("reality file: %s has no attribute %q", typeName, name)
		}
		v, err := tftypes.ValueFromJSON(js, t)
		if err != nil {
			return state, fmt.Errorf("reality file: %s.%s: %w", typeName, name, err)
		}
		repl[name] = v
	}
	return setAttrs(state, repl)
}
