package replay

import (
	"fmt"
	"maps"
	"math/big"
	"slices"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// planner decides planned values for one resource type. Only computed attributes that the configuration
// leaves null are touched; everything else is the proposed new state Terraform sent.
type planner struct {
	gen     *valueGen
	known   map[string]tftypes.Value // computed top-level attributes whose value is known at plan time
	creates bool
}

// planResource plans one resource from Terraform's proposed new state and the configuration.
func (p *planner) planResource(b *Block, proposed, config tftypes.Value) (tftypes.Value, error) {
	return p.planObject(b, proposed, func(name string) bool {
		v := getAttr(config, name)
		return v.IsKnown() && v.IsNull()
	})
}

// planObject plans one resource or nested block element: computed attributes the configuration leaves
// null take a value known at plan time where there is one (top level only), else stay as proposed (the
// prior value) on update and become unknown on create. unset is nil for nested blocks, where the proposed
// value's nullness stands for the configuration's.
func (p *planner) planObject(b *Block, proposed tftypes.Value, unset func(string) bool) (tftypes.Value, error) {
	if proposed.IsNull() || !proposed.IsKnown() {
		return proposed, nil
	}
	var attrs map[string]tftypes.Value
	if err := copyAs(proposed, &attrs); err != nil {
		return proposed, fmt.Errorf("decode object: %w", err)
	}
	out := make(map[string]tftypes.Value, len(attrs))
	for name, v := range attrs {
		out[name] = v
	}
	for name, a := range b.Attributes {
		v, ok := attrs[name]
		if !ok || !a.Computed {
			continue
		}
		if unset != nil {
			if !unset(name) {
				continue
			}
			if kv, ok := p.known[name]; ok {
				out[name] = kv
				continue
			}
		}
		if v.IsNull() && p.creates {
			out[name] = tftypes.NewValue(a.Type, tftypes.UnknownValue)
		}
	}
	for name, nb := range b.BlockTypes {
		v, ok := attrs[name]
		if !ok {
			continue
		}
		nv, err := p.planNested(nb, v)
		if err != nil {
			return proposed, fmt.Errorf("block %s: %w", name, err)
		}
		out[name] = nv
	}
	return tftypes.NewValue(b.Type(), out), nil
}

func (p *planner) planNested(nb *NestedBlock, v tftypes.Value) (tftypes.Value, error) {
	if v.IsNull() || !v.IsKnown() {
		return v, nil
	}
	switch nb.Nesting {
	case nestSingle, nestGroup:
		return p.planObject(nb.Block, v, nil)
	case nestList, nestSet:
		var elems []tftypes.Value
		if err := copyAs(v, &elems); err != nil {
			return v, err
		}
		for i, e := range elems {
			pe, err := p.planObject(nb.Block, e, nil)
			if err != nil {
				return v, err
			}
			elems[i] = pe
		}
		return tftypes.NewValue(v.Type(), elems), nil
	case nestMap:
		var elems map[string]tftypes.Value
		if err := copyAs(v, &elems); err != nil {
			return v, err
		}
		for k, e := range elems {
			pe, err := p.planObject(nb.Block, e, nil)
			if err != nil {
				return v, err
			}
			elems[k] = pe
		}
		return tftypes.NewValue(v.Type(), elems), nil
	}
	return v, nil
}

// fillUnknown replaces every unknown inside v with a deterministic known value. attr is the name of the
// nearest enclosing attribute; path identifies the position so that sibling values differ.
func fillUnknown(g *valueGen, v tftypes.Value, attr, path string) (tftypes.Value, error) {
	if !v.IsKnown() {
		return g.value(v.Type(), attr, path), nil
	}
	if v.IsNull() {
		return v, nil
	}
	t := v.Type()
	switch {
	case t.Is(tftypes.Object{}):
		var attrs map[string]tftypes.Value
		if err := copyAs(v, &attrs); err != nil {
			return v, err
		}
		for name, av := range attrs {
			nv, err := fillUnknown(g, av, name, path+"."+name)
			if err != nil {
				return v, err
			}
			attrs[name] = nv
		}
		return tftypes.NewValue(t, attrs), nil
	case t.Is(tftypes.List{}), t.Is(tftypes.Set{}), t.Is(tftypes.Tuple{}):
		var elems []tftypes.Value
		if err := copyAs(v, &elems); err != nil {
			return v, err
		}
		for i, e := range elems {
			nv, err := fillUnknown(g, e, attr, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return v, err
			}
			elems[i] = nv
		}
		return tftypes.NewValue(t, elems), nil
	case t.Is(tftypes.Map{}):
		var elems map[string]tftypes.Value
		if err := copyAs(v, &elems); err != nil {
			return v, err
		}
		for k, e := range elems {
			nv, err := fillUnknown(g, e, attr, fmt.Sprintf("%s[%q]", path, k))
			if err != nil {
				return v, err
			}
			elems[k] = nv
		}
		return tftypes.NewValue(t, elems), nil
	}
	return v, nil
}

// fillComputed gives every computed attribute of a data source that its configuration leaves null (or
// unknown) a value: from known (overrides and derived values) first, else a generated one.
func fillComputed(g *valueGen, b *Block, v tftypes.Value, known map[string]tftypes.Value, path string) (tftypes.Value, error) {
	if v.IsNull() || !v.IsKnown() {
		return v, nil
	}
	var attrs map[string]tftypes.Value
	if err := copyAs(v, &attrs); err != nil {
		return v, err
	}
	for name, a := range b.Attributes {
		av, ok := attrs[name]
		if !ok || !a.Computed {
			continue
		}
		switch {
		case av.IsNull() || !av.IsKnown():
			if kv, ok := known[name]; ok {
				attrs[name] = kv
			} else {
				attrs[name] = g.value(a.Type, name, path+"."+name)
			}
		default:
			nv, err := fillUnknown(g, av, name, path+"."+name)
			if err != nil {
				return v, err
			}
			attrs[name] = nv
		}
	}
	for name, nb := range b.BlockTypes {
		bv, ok := attrs[name]
		if !ok || bv.IsNull() || !bv.IsKnown() {
			continue
		}
		nv, err := mapElements(bv, func(key string, e tftypes.Value) (tftypes.Value, error) {
			return fillComputed(g, nb.Block, e, nil, path+"."+name+key)
		})
		if err != nil {
			return v, fmt.Errorf("block %s: %w", name, err)
		}
		attrs[name] = nv
	}
	return tftypes.NewValue(v.Type(), attrs), nil
}

// mapElements applies f to an object value itself or to each element of a collection of objects.
func mapElements(v tftypes.Value, f func(key string, e tftypes.Value) (tftypes.Value, error)) (tftypes.Value, error) {
	t := v.Type()
	switch {
	case t.Is(tftypes.List{}), t.Is(tftypes.Set{}):
		var elems []tftypes.Value
		if err := copyAs(v, &elems); err != nil {
			return v, err
		}
		for i, e := range elems {
			ne, err := f(fmt.Sprintf("[%d]", i), e)
			if err != nil {
				return v, err
			}
			elems[i] = ne
		}
		return tftypes.NewValue(t, elems), nil
	case t.Is(tftypes.Map{}):
		var elems map[string]tftypes.Value
		if err := copyAs(v, &elems); err != nil {
			return v, err
		}
		for k, e := range elems {
			ne, err := f(fmt.Sprintf("[%q]", k), e)
			if err != nil {
				return v, err
			}
			elems[k] = ne
		}
		return tftypes.NewValue(t, elems), nil
	}
	return f("", v)
}

// getAttr returns the top-level attribute name of an object value, or a null value when absent.
func getAttr(v tftypes.Value, name string) tftypes.Value {
	if v.IsNull() || !v.IsKnown() {
		return tftypes.NewValue(tftypes.DynamicPseudoType, nil)
	}
	var attrs map[string]tftypes.Value
	if err := copyAs(v, &attrs); err != nil {
		return tftypes.NewValue(tftypes.DynamicPseudoType, nil)
	}
	if av, ok := attrs[name]; ok {
		return av
	}
	return tftypes.NewValue(tftypes.DynamicPseudoType, nil)
}

// setAttrs returns v with the given top-level attributes replaced.
func setAttrs(v tftypes.Value, repl map[string]tftypes.Value) (tftypes.Value, error) {
	var attrs map[string]tftypes.Value
	if err := copyAs(v, &attrs); err != nil {
		return v, err
	}
	for k, nv := range repl {
		if _, ok := attrs[k]; ok {
			attrs[k] = nv
		}
	}
	return tftypes.NewValue(v.Type(), attrs), nil
}

// asString returns a known, non-null string value.
func asString(v tftypes.Value) (string, bool) {
	if !v.IsKnown() || v.IsNull() || !v.Type().Is(tftypes.String) {
		return "", false
	}
	var s string
	if err := v.As(&s); err != nil {
		return "", false
	}
	return s, true
}

// asStrings returns the known strings of a list or set of strings (unknown or null elements skipped).
func asStrings(v tftypes.Value) []string {
	if !v.IsKnown() || v.IsNull() {
		return nil
	}
	var elems []tftypes.Value
	if err := copyAs(v, &elems); err != nil {
		return nil
	}
	var out []string
	for _, e := range elems {
		if s, ok := asString(e); ok {
			out = append(out, s)
		}
	}
	return out
}

// asStringMap returns a known map of strings; ok is false when the map or any element is unknown.
func asStringMap(v tftypes.Value) (map[string]string, bool) {
	if !v.IsKnown() {
		return nil, false
	}
	out := map[string]string{}
	if v.IsNull() {
		return out, true
	}
	var elems map[string]tftypes.Value
	if err := copyAs(v, &elems); err != nil {
		return nil, false
	}
	for k, e := range elems {
		if !e.IsKnown() {
			return nil, false
		}
		if s, ok := asString(e); ok {
			out[k] = s
		}
	}
	return out, true
}

func stringList(t tftypes.Type, ss []string) tftypes.Value {
	elemType := tftypes.Type(tftypes.String)
	switch tt := t.(type) {
	case tftypes.List:
		elemType = tt.ElementType
	case tftypes.Set:
		elemType = tt.ElementType
	}
	elems := make([]tftypes.Value, 0, len(ss))
	for _, s := range ss {
		elems = append(elems, tftypes.NewValue(elemType, s))
	}
	return tftypes.NewValue(t, elems)
}

func stringMap(m map[string]string) tftypes.Value {
	elems := make(map[string]tftypes.Value, len(m))
	for k, s := range m {
		elems[k] = tftypes.NewValue(tftypes.String, s)
	}
	return tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, elems)
}

func number(n int64) *big.Float { return new(big.Float).SetInt64(n) }

// copyAs is Value.As for objects and collections, returning a copy: As hands out the value's own map or
// slice, and the walkers here modify what they get.
func copyAs(v tftypes.Value, dst any) error {
	switch d := dst.(type) {
	case *map[string]tftypes.Value:
		var m map[string]tftypes.Value
		if err := v.As(&m); err != nil {
			return err
		}
		*d = maps.Clone(m)
		if *d == nil {
			*d = map[string]tftypes.Value{}
		}
		return nil
	case *[]tftypes.Value:
		var s []tftypes.Value
		if err := v.As(&s); err != nil {
			return err
		}
		*d = slices.Clone(s)
		return nil
	}
	return v.As(dst)
}
