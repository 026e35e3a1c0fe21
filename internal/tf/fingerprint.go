package tf

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// ResourceFingerprint is one resource change of a plan, reduced to what review compares: its address,
// its actions, and a hash of its planned values with the values known only after apply left out.
//
// The hash covers sensitive values too, so that a changed secret is a difference. It is a plain SHA-256,
// so a fingerprint is as confidential as the plan it comes from: store it, compare it, never publish it.
type ResourceFingerprint struct {
	// Address is the resource instance address; a deposed object's is followed by " (deposed <key>)".
	Address string `json:"address"`
	// Actions are Terraform's actions joined by ",": "create", "update", "delete", "forget",
	// "delete,create", "create,delete".
	Actions string `json:"actions"`
	// Hash is the hex SHA-256 of the canonical form of the planned value (`after`) with every path that
	// is unknown until apply (`after_unknown`) removed; "" when there is no planned value (deletes,
	// forgets).
	//
	// The rule is "remove what is unknown": a value unknown in both plans never makes them differ,
	// whatever placeholder each holds, but a value known in one plan and unknown in the other does (what
	// was seen is no longer promised), as does one that is known in both and differs. Canonical form: JSON
	// with object keys sorted, numbers written the same however they were decoded (float64 or
	// json.Number; 1 and 1.0 alike; integers beyond float64 precision exact when decoded as json.Number),
	// unknown object attributes left out, and an unknown list element written as a bare ? (which no JSON
	// value is), so that it differs from a known null.
	Hash string `json:"hash"`
}

// Fingerprint lists a plan's resource changes (no-ops and reads excluded), sorted by address, then actions.
// Imports and moves without other changes are no-ops, and so are not listed.
func Fingerprint(p *tfjson.Plan) []ResourceFingerprint {
	fps := []ResourceFingerprint{}
	if p == nil {
		return fps
	}
	for _, rc := range p.ResourceChanges {
		if rc == nil || rc.Change == nil {
			continue
		}
		a := rc.Change.Actions
		if len(a) == 0 || a.NoOp() || a.Read() {
			continue
		}
		f := ResourceFingerprint{Address: rc.Address, Actions: joinActions(a)}
		if rc.DeposedKey != "" {
			f.Address += " (deposed " + rc.DeposedKey + ")"
		}
		if rc.Change.After != nil || rc.Change.AfterUnknown == true {
			f.Hash = hashKnown(rc.Change.After, rc.Change.AfterUnknown)
		}
		fps = append(fps, f)
	}
	slices.SortFunc(fps, func(a, b ResourceFingerprint) int {
		return cmp.Or(strings.Compare(a.Address, b.Address), strings.Compare(a.Actions, b.Actions), strings.Compare(a.Hash, b.Hash))
	})
	return fps
}

func joinActions(a tfjson.Actions) string {
	s := make([]string, len(a))
	for i, x := range a {
		s[i] = string(x)
	}
	return strings.Join(s, ",")
}

// hashKnown hashes the canonical form of v with the paths unknown marks left out.
func hashKnown(v, unknown interface{}) string {
	var b bytes.Buffer
	writeKnown(&b, v, unknown)
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:])
}

// writeKnown writes v in canonical form. unknown has v's shape: true marks a value unknown until apply,
// objects and lists of marks mark their members; anything else marks nothing.
func writeKnown(b *bytes.Buffer, v, unknown interface{}) {
	if unknown == true {
		b.WriteByte('?')
		return
	}
	switch v := v.(type) {
	case map[string]interface{}:
		marks, _ := unknown.(map[string]interface{})
		keys := make([]string, 0, len(v))
		for k := range v {
			if marks[k] != true {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			writeKnown(b, v[k], marks[k])
		}
		b.WriteByte('}')
	case []interface{}:
		marks, _ := unknown.([]interface{})
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			var mark interface{}
			if i < len(marks) {
				mark = marks[i]
			}
			writeKnown(b, e, mark)
		}
		b.WriteByte(']')
	case string:
		writeString(b, v)
	case json.Number:
		b.WriteString(canonicalNumber(string(v)))
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64)) // not from JSON, but kept distinct
			return
		}
		b.WriteString(canonicalNumber(strconv.FormatFloat(v, 'f', -1, 64)))
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case nil:
		b.WriteString("null")
	default:
		// Not a value JSON decoding makes; written as encoding/json would.
		enc, err := json.Marshal(v)
		if err != nil {
			b.WriteString("!unencodable")
			return
		}
		b.Write(enc)
	}
}

func writeString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always encodes
	b.Write(enc)
}

// canonicalNumber writes a JSON number in one form for one value: no exponent, no trailing fractional
// zeros, no negative zero. Numbers written with an exponent go through float64 (Terraform writes none).
func canonicalNumber(s string) string {
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return s
		}
		s = strconv.FormatFloat(f, 'f', -1, 64)
	}
	s, neg := strings.CutPrefix(s, "-")
	if strings.Contains(s, ".") {
		s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	}
	s = strings.TrimLeft(s, "0")
	if s == "" || s[0] == '.' {
		s = "0" + s
	}
	if neg && s != "0" {
		s = "-" + s
	}
	return s
}
