package tf

import (
	"fmt"
	"reflect"
	"sort"

	tfjson "github.com/hashicorp/terraform-json"
)

// DriftedResource is a resource that changed outside Terraform since the last apply: what the refresh of a
// plan found (the plan JSON's resource_drift), with the attributes that differ. Sensitive values are
// SensitiveValue, never the value.
type DriftedResource struct {
	Address    string            `json:"address"`
	Action     string            `json:"action"` // update, or delete (gone from the cloud)
	Attributes []AttributeChange `json:"attributes,omitempty"`
}

// AttributeChange is one attribute of a drifted resource: its value in the state (Before) and in the
// cloud (After), as JSON.
type AttributeChange struct {
	Path   string `json:"path"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// maxDriftAttributes bounds the attributes listed per resource.
const maxDriftAttributes = 50

// drift lists the plan's resource drift, by address.
func drift(p *tfjson.Plan) []DriftedResource {
	var out []DriftedResource
	for _, rc := range p.ResourceDrift {
		if rc == nil || rc.Change == nil {
			continue
		}
		d := DriftedResource{Address: rc.Address}
		switch {
		case rc.Change.Actions.Delete():
			d.Action = ActionDelete
		case rc.Change.Actions.Update():
			d.Action = ActionUpdate
		default:
			continue
		}
		if d.Action == ActionUpdate {
			diffValues("", rc.Change.Before, rc.Change.After, rc.Change.BeforeSensitive, rc.Change.AfterSensitive, &d.Attributes)
			sort.Slice(d.Attributes, func(i, j int) bool { return d.Attributes[i].Path < d.Attributes[j].Path })
			if len(d.Attributes) > maxDriftAttributes {
				d.Attributes = d.Attributes[:maxDriftAttributes]
			}
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// diffValues appends the leaves where before and after differ, masking those either side marks sensitive.
func diffValues(path string, before, after, bs, as interface{}, out *[]AttributeChange) {
	if len(*out) > maxDriftAttributes {
		return
	}
	if markedTrue(bs) || markedTrue(as) {
		if !equalJSON(before, after) {
			*out = append(*out, AttributeChange{Path: pathOr(path), Before: SensitiveValue, After: SensitiveValue})
		}
		return
	}
	bm, bok := before.(map[string]interface{})
	am, aok := after.(map[string]interface{})
	if bok && aok {
		keys := map[string]bool{}
		for k := range bm {
			keys[k] = true
		}
		for k := range am {
			keys[k] = true
		}
		for k := range keys {
			diffValues(join(path, k), bm[k], am[k], child(bs, k), child(as, k), out)
		}
		return
	}
	bl, blok := before.([]interface{})
	al, alok := after.([]interface{})
	if blok && alok && len(bl) == len(al) {
		for i := range bl {
			diffValues(fmt.Sprintf("%s[%d]", path, i), bl[i], al[i], index(bs, i), index(as, i), out)
		}
		return
	}
	if !equalJSON(before, after) {
		sensitive := anyTrue(bs) || anyTrue(as) // a list or object holding sensitive parts, replaced whole
		*out = append(*out, AttributeChange{Path: pathOr(path), Before: showValue(before, sensitive, false), After: showValue(after, sensitive, false)})
	}
}

func markedTrue(v interface{}) bool { b, ok := v.(bool); return ok && b }

func child(marks interface{}, k string) interface{} {
	if m, ok := marks.(map[string]interface{}); ok {
		return m[k]
	}
	return marks // true marks everything under it
}

func index(marks interface{}, i int) interface{} {
	if l, ok := marks.([]interface{}); ok {
		if i < len(l) {
			return l[i]
		}
		return nil
	}
	return marks
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func pathOr(p string) string {
	if p == "" {
		return "(whole object)"
	}
	return p
}

func equalJSON(a, b interface{}) bool { return reflect.DeepEqual(a, b) }
