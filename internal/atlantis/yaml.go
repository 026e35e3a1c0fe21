package atlantis

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// pair is one key and its value in a mapping.
type pair struct{ key, val *yaml.Node }

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// pairs lists a mapping's keys and values in order, with YAML merge keys (<<: *base) expanded as decoders
// expand them (Atlantis's files use them to share project settings): the mapping's own keys win, then the
// merged mappings in order. countNodes has bounded the work aliases can cause.
func pairs(n *yaml.Node) []pair {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var own, merged []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == "!!merge" {
			rv := resolve(v)
			if rv.Kind == yaml.SequenceNode {
				for _, m := range rv.Content {
					merged = append(merged, pairs(m)...)
				}
			} else {
				merged = append(merged, pairs(rv)...)
			}
			continue
		}
		own = append(own, pair{k, v})
		seen[k.Value] = true
	}
	for _, p := range merged {
		if !seen[p.key.Value] {
			own = append(own, p)
			seen[p.key.Value] = true
		}
	}
	return own
}

// countNodes counts the nodes under n with aliases expanded, and stops counting past maxNodes. memo makes a
// node aliased many times cost one visit.
func countNodes(n *yaml.Node, memo map[*yaml.Node]int) int {
	if n == nil {
		return 0
	}
	if v, ok := memo[n]; ok {
		if v < 0 { // a node that contains itself through an alias
			return maxNodes + 1
		}
		return v
	}
	memo[n] = -1
	total := 1
	if n.Kind == yaml.AliasNode {
		total += countNodes(n.Alias, memo)
	}
	for _, c := range n.Content {
		total += countNodes(c, memo)
		if total > maxNodes {
			break
		}
	}
	if total > maxNodes {
		total = maxNodes + 1
	}
	memo[n] = total
	return total
}

// isNull reports whether n is absent or an empty value (key: or key: ~).
func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// scalar returns the text of a scalar value; ok is false for lists and mappings.
func scalar(n *yaml.Node) (string, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

// boolean reads a YAML boolean as Atlantis's decoder (YAML 1.1) does.
func boolean(n *yaml.Node) (value, ok bool) {
	s, isScalar := scalar(n)
	if !isScalar {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on", "y":
		return true, true
	case "false", "no", "off", "n":
		return false, true
	}
	return false, false
}

// integer reads a YAML integer.
func integer(n *yaml.Node) (int, bool) {
	s, ok := scalar(n)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	return i, err == nil
}

// item is one scalar of a list, with its node for the line.
type item struct {
	value string
	node  *yaml.Node
}

// stringItems lists the scalars of a list value; ok is false when the value is not a list of scalars (which
// Atlantis refuses too).
func stringItems(n *yaml.Node) (items []item, ok bool) {
	n = resolve(n)
	switch {
	case isNull(n):
		return nil, true
	case n.Kind != yaml.SequenceNode:
		return nil, false
	}
	for _, e := range n.Content {
		s, isScalar := scalar(e)
		if !isScalar || isNull(e) {
			return nil, false
		}
		items = append(items, item{s, resolve(e)})
	}
	return items, true
}

// flowList renders values as a YAML flow list, for notes.
func flowList(values []string) string {
	var b strings.Builder
	b.WriteString("[")
	for i, v := range values {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(flowScalar(v))
	}
	b.WriteString("]")
	return shorten(b.String())
}

// flow renders a value in YAML flow style on one line, shortened, for notes.
func flow(n *yaml.Node) string {
	var b strings.Builder
	writeFlow(&b, n, 0)
	return shorten(b.String())
}

const maxNoteValue = 120

func shorten(s string) string {
	if len(s) <= maxNoteValue {
		return s
	}
	cut := maxNoteValue
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

func writeFlow(b *strings.Builder, n *yaml.Node, depth int) {
	n = resolve(n)
	if b.Len() > maxNoteValue || n == nil {
		return
	}
	if depth > 20 {
		b.WriteString("...")
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			b.WriteString("null")
			return
		}
		b.WriteString(flowScalar(n.Value))
	case yaml.SequenceNode:
		b.WriteString("[")
		for i, c := range n.Content {
			if i > 0 {
				b.WriteString(", ")
			}
			writeFlow(b, c, depth+1)
			if b.Len() > maxNoteValue {
				return
			}
		}
		b.WriteString("]")
	case yaml.MappingNode:
		b.WriteString("{")
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteString(", ")
			}
			writeFlow(b, n.Content[i], depth+1)
			b.WriteString(": ")
			writeFlow(b, n.Content[i+1], depth+1)
			if b.Len() > maxNoteValue {
				return
			}
		}
		b.WriteString("}")
	}
}

// flowScalar quotes a scalar when it would not read back as itself in a flow list, or holds a space (which
// would blur where a note's value ends).
func flowScalar(s string) string {
	if s == "" || strings.ContainsAny(s, ",[]{}#&*!|>'\"%@` \n\r\t") || strings.HasPrefix(s, "- ") || strings.HasPrefix(s, "?") {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return strconv.Quote(s)
		}
	}
	return s
}

// duplicateKey finds a key given twice in one mapping, which Atlantis's decoder refuses and which would
// otherwise leave the conversion to pick one silently.
func duplicateKey(n *yaml.Node, seen map[*yaml.Node]bool) (*yaml.Node, bool) {
	if n == nil || seen[n] {
		return nil, false
	}
	seen[n] = true
	if n.Kind == yaml.MappingNode {
		keys := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				continue
			}
			if keys[k.Value] {
				return k, true
			}
			keys[k.Value] = true
		}
	}
	for _, c := range n.Content {
		if k, ok := duplicateKey(c, seen); ok {
			return k, true
		}
	}
	return nil, false
}

// keyText renders a mapping key for a note's path: as it is when it reads plainly, else quoted (an empty or
// odd key must still show).
func keyText(k *yaml.Node) string {
	k = resolve(k)
	if k == nil {
		return `""`
	}
	if k.Kind != yaml.ScalarNode {
		return flow(k)
	}
	return flowScalar(k.Value)
}
