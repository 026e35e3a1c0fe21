package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	yamlLineRE       = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	yamlUnknownKeyRE = regexp.MustCompile(`^field (\S+) not found in type .+$`)
	// yamlGoTypeRE finds the Go type a yaml.v3 type error names ("into []config.rawApp"): users never see those.
	yamlGoTypeRE = regexp.MustCompile(` into (?:(\[\])\S+|\*?\w+\.raw\w+|struct \{.*\}|map\[string\]\S+)$`)
)

// DecodeStrict decodes data, one YAML document whose top level is a mapping, into out (a pointer to a struct
// whose fields mirror the YAML), rejecting unknown keys. It is what ParseRepo uses, for other strictly parsed
// files. A non-nil err (a RepoErrors) means the document could not be read at all. Otherwise problems lists
// the keys of the wrong type or unknown, with line numbers and without Go type names, and out holds the rest,
// so the caller can go on validating and report every problem at once. maxSize bounds len(data).
func DecodeStrict(data []byte, maxSize int, out any) (doc YAMLDoc, problems RepoErrors, err error) {
	if len(data) > maxSize {
		return YAMLDoc{}, nil, RepoErrors{{Msg: fmt.Sprintf("file is %d bytes, more than the %d allowed", len(data), maxSize)}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return YAMLDoc{}, nil, yamlProblems(err)
	}
	if len(root.Content) > 0 && root.Content[0].Kind != yaml.MappingNode {
		return YAMLDoc{}, nil, RepoErrors{{Line: root.Content[0].Line, Msg: "top level must be a mapping"}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil && !errors.Is(err, io.EOF) {
		// A TypeError leaves the rest decoded: the caller keeps validating so every problem is reported.
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return YAMLDoc{}, nil, yamlProblems(err)
		}
		problems = yamlProblems(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return YAMLDoc{}, nil, RepoErrors{{Line: next.Line, Msg: "more than one YAML document"}}
	}
	return YAMLDoc{&root}, problems, nil
}

// yamlProblems turns yaml.v3 errors into problems with line numbers and no Go type names.
func yamlProblems(err error) RepoErrors {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var out RepoErrors
	for _, m := range msgs {
		p := &RepoProblem{Msg: strings.TrimPrefix(m, "yaml: ")}
		if sm := yamlLineRE.FindStringSubmatch(m); sm != nil {
			p.Line, _ = strconv.Atoi(sm[1])
			p.Msg = sm[2]
		}
		if sm := yamlUnknownKeyRE.FindStringSubmatch(p.Msg); sm != nil {
			p.Msg = fmt.Sprintf("unknown key %q", sm[1])
		}
		if loc := yamlGoTypeRE.FindStringSubmatchIndex(p.Msg); loc != nil {
			if loc[2] >= 0 {
				p.Msg = p.Msg[:loc[0]] + " into a list"
			} else {
				p.Msg = p.Msg[:loc[0]] + " into a mapping"
			}
		}
		out = append(out, p)
	}
	return out
}

// YAMLDoc is a parsed YAML document, for finding the line of a value by key/index path.
type YAMLDoc struct{ doc *yaml.Node }

// Line returns the line of the node at path (strings are mapping keys, ints sequence indexes), or of the
// deepest ancestor found. For a mapping key it gives the key's line.
func (t YAMLDoc) Line(p ...any) int {
	l, _ := t.find(p...)
	return l
}

// Has reports whether the path exists in the document.
func (t YAMLDoc) Has(p ...any) bool {
	_, ok := t.find(p...)
	return ok
}

func (t YAMLDoc) find(p ...any) (int, bool) {
	if t.doc == nil || len(t.doc.Content) == 0 {
		return 0, false
	}
	n := t.doc.Content[0]
	line := n.Line
	for _, step := range p {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		found := false
		switch s := step.(type) {
		case string:
			if n.Kind != yaml.MappingNode {
				return line, false
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == s {
					line, n, found = n.Content[i].Line, n.Content[i+1], true
					break
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && s < len(n.Content) {
				n, found = n.Content[s], true
				line = n.Line
			}
		}
		if !found {
			return line, false
		}
	}
	return line, true
}
