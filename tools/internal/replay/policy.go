package replay

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// policyStatement mirrors the statement the aws provider renders (same key order, single values as
// strings).
type policyStatement struct {
	Sid          string         `json:"Sid,omitempty"`
	Effect       string         `json:"Effect,omitempty"`
	Action       any            `json:"Action,omitempty"`
	NotAction    any            `json:"NotAction,omitempty"`
	Resource     any            `json:"Resource,omitempty"`
	NotResource  any            `json:"NotResource,omitempty"`
	Principal    any            `json:"Principal,omitempty"`
	NotPrincipal any            `json:"NotPrincipal,omitempty"`
	Condition    map[string]any `json:"Condition,omitempty"`
}

type policyDoc struct {
	Version   string `json:"Version,omitempty"`
	ID        string `json:"Id,omitempty"`
	Statement []any  `json:"Statement"`
}

// renderPolicyDocument renders data "aws_iam_policy_document" from its configuration: the indented and
// the minified JSON.
func renderPolicyDocument(config tftypes.Value) (string, string) {
	doc := policyDoc{Version: "2012-10-17", Statement: []any{}}
	if v, ok := asString(getAttr(config, "version")); ok && v != "" {
		doc.Version = v
	}
	if id, ok := asString(getAttr(config, "policy_id")); ok {
		doc.ID = id
	}
	bySid := map[string]int{}
	add := func(st any, sid string) {
		if i, ok := bySid[sid]; ok && sid != "" {
			doc.Statement[i] = st
			return
		}
		if sid != "" {
			bySid[sid] = len(doc.Statement)
		}
		doc.Statement = append(doc.Statement, st)
	}
	addDoc := func(raw string) {
		var other struct {
			Statement json.RawMessage `json:"Statement"`
		}
		if json.Unmarshal([]byte(raw), &other) != nil {
			return
		}
		var list []map[string]any
		if json.Unmarshal(other.Statement, &list) != nil {
			var one map[string]any
			if json.Unmarshal(other.Statement, &one) != nil {
				return
			}
			list = []map[string]any{one}
		}
		for _, st := range list {
			sid, _ := st["Sid"].(string)
			add(st, sid)
		}
	}
	if s, ok := asString(getAttr(config, "source_json")); ok {
		addDoc(s)
	}
	for _, s := range asStrings(getAttr(config, "source_policy_documents")) {
		addDoc(s)
	}
	var statements []tftypes.Value
	if st := getAttr(config, "statement"); st.IsKnown() && !st.IsNull() {
		_ = st.As(&statements)
	}
	for _, st := range statements {
		ps := policyStatement{Effect: "Allow"}
		if s, ok := asString(getAttr(st, "sid")); ok {
			ps.Sid = s
		}
		if s, ok := asString(getAttr(st, "effect")); ok && s != "" {
			ps.Effect = s
		}
		ps.Action = oneOrMany(asStrings(getAttr(st, "actions")))
		ps.NotAction = oneOrMany(asStrings(getAttr(st, "not_actions")))
		ps.Resource = oneOrMany(asStrings(getAttr(st, "resources")))
		ps.NotResource = oneOrMany(asStrings(getAttr(st, "not_resources")))
		ps.Principal = principals(getAttr(st, "principals"))
		ps.NotPrincipal = principals(getAttr(st, "not_principals"))
		ps.Condition = conditions(getAttr(st, "condition"))
		add(ps, ps.Sid)
	}
	if s, ok := asString(getAttr(config, "override_json")); ok {
		addDoc(s)
	}
	for _, s := range asStrings(getAttr(config, "override_policy_documents")) {
		addDoc(s)
	}
	var indented bytes.Buffer
	enc := json.NewEncoder(&indented)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return "{}", "{}"
	}
	var minified bytes.Buffer
	if err := json.Compact(&minified, indented.Bytes()); err != nil {
		return "{}", "{}"
	}
	return string(bytes.TrimSpace(indented.Bytes())), minified.String()
}

// oneOrMany renders a set of strings as the provider does: nothing, one string, or a sorted list.
func oneOrMany(ss []string) any {
	switch len(ss) {
	case 0:
		return nil
	case 1:
		return ss[0]
	}
	sort.Strings(ss)
	return ss
}

func principals(v tftypes.Value) any {
	var elems []tftypes.Value
	if !v.IsKnown() || v.IsNull() || v.As(&elems) != nil || len(elems) == 0 {
		return nil
	}
	byType := map[string][]string{}
	for _, e := range elems {
		typ, _ := asString(getAttr(e, "type"))
		byType[typ] = append(byType[typ], asStrings(getAttr(e, "identifiers"))...)
	}
	if ids := byType["*"]; len(byType) == 1 && len(ids) == 1 && ids[0] == "*" {
		return "*"
	}
	out := map[string]any{}
	for typ, ids := range byType {
		out[typ] = oneOrMany(ids)
	}
	return out
}

func conditions(v tftypes.Value) map[string]any {
	var elems []tftypes.Value
	if !v.IsKnown() || v.IsNull() || v.As(&elems) != nil || len(elems) == 0 {
		return nil
	}
	out := map[string]any{}
	for _, e := range elems {
		test, _ := asString(getAttr(e, "test"))
		variable, _ := asString(getAttr(e, "variable"))
		byVar, _ := out[test].(map[string]any)
		if byVar == nil {
			byVar = map[string]any{}
			out[test] = byVar
		}
		values := asStrings(getAttr(e, "values"))
		if len(values) == 1 {
			byVar[variable] = values[0]
		} else {
			byVar[variable] = values
		}
	}
	return out
}
