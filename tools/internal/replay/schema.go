// Package replay is a Terraform provider that serves a real provider's schema (the JSON printed by
// `terraform providers schema -json`) and plans and applies resources offline with deterministic values.
package replay

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// schemasDoc is the top level of `terraform providers schema -json`.
type schemasDoc struct {
	FormatVersion   string                     `json:"format_version"`
	ProviderSchemas map[string]*providerSchema `json:"provider_schemas"`
}

type providerSchema struct {
	Provider           *jsonSchema            `json:"provider"`
	ResourceSchemas    map[string]*jsonSchema `json:"resource_schemas"`
	DataSourceSchemas  map[string]*jsonSchema `json:"data_source_schemas"`
	EphemeralResources map[string]*jsonSchema `json:"ephemeral_resource_schemas"`
}

type jsonSchema struct {
	Version int64      `json:"version"`
	Block   *jsonBlock `json:"block"`
}

type jsonBlock struct {
	Attributes      map[string]*jsonAttribute `json:"attributes"`
	BlockTypes      map[string]*jsonBlockType `json:"block_types"`
	Description     string                    `json:"description"`
	DescriptionKind string                    `json:"description_kind"`
	Deprecated      bool                      `json:"deprecated"`
}

type jsonAttribute struct {
	Type            json.RawMessage `json:"type"`
	NestedType      *jsonNestedType `json:"nested_type"`
	Description     string          `json:"description"`
	DescriptionKind string          `json:"description_kind"`
	Deprecated      bool            `json:"deprecated"`
	Required        bool            `json:"required"`
	Optional        bool            `json:"optional"`
	Computed        bool            `json:"computed"`
	Sensitive       bool            `json:"sensitive"`
	WriteOnly       bool            `json:"write_only"`
}

// jsonNestedType is protocol 6's nested attribute type; protocol 5 has no such thing, so it is
// served as the equivalent object-typed attribute.
type jsonNestedType struct {
	Attributes  map[string]*jsonAttribute `json:"attributes"`
	NestingMode string                    `json:"nesting_mode"`
}

type jsonBlockType struct {
	NestingMode string     `json:"nesting_mode"`
	Block       *jsonBlock `json:"block"`
	MinItems    int64      `json:"min_items"`
	MaxItems    int64      `json:"max_items"`
}

// Nesting modes as spelled in the schema JSON.
const (
	nestSingle = "single"
	nestGroup  = "group"
	nestList   = "list"
	nestSet    = "set"
	nestMap    = "map"
)

// Block is a converted schema block: the protocol form Terraform receives plus what planning needs.
type Block struct {
	Attributes map[string]*Attribute
	BlockTypes map[string]*NestedBlock
	proto      *tfprotov5.SchemaBlock
	typ        tftypes.Object
}

// Attribute is one converted attribute.
type Attribute struct {
	Type       tftypes.Type
	Required   bool
	Optional   bool
	Computed   bool
	Deprecated bool
}

// NestedBlock is one converted nested block type.
type NestedBlock struct {
	Nesting string
	Block   *Block
}

// Type returns the object type of a value conforming to the block.
func (b *Block) Type() tftypes.Object { return b.typ }

// Schema is one resource, data source or provider schema.
type Schema struct {
	Version int64
	Block   *Block
}

// Proto returns the schema in plugin protocol form.
func (s *Schema) Proto() *tfprotov5.Schema {
	return &tfprotov5.Schema{Version: s.Version, Block: s.Block.proto}
}

// Schemas is a whole provider's converted schema.
type Schemas struct {
	Provider           *Schema
	Resources          map[string]*Schema
	DataSources        map[string]*Schema
	EphemeralResources map[string]*Schema
}

// LoadSchemaFile reads a (possibly gzipped) `terraform providers schema -json` document and converts the
// schema of the provider whose source address ends in "/<name>" (e.g. "aws").
func LoadSchemaFile(path, name string) (*Schemas, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read schema %s: %w", path, err)
	}
	if bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("gunzip schema %s: %w", path, err)
		}
		raw, err = io.ReadAll(zr)
		if err != nil {
			return nil, fmt.Errorf("gunzip schema %s: %w", path, err)
		}
	}
	s, err := ParseSchemas(raw, name)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", path, err)
	}
	return s, nil
}

// ParseSchemas converts the JSON schema document of the provider named name.
func ParseSchemas(raw []byte, name string) (*Schemas, error) {
	var doc schemasDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	var ps *providerSchema
	for addr, p := range doc.ProviderSchemas {
		if addr == name || strings.HasSuffix(addr, "/"+name) {
			ps = p
		}
	}
	if ps == nil {
		return nil, fmt.Errorf("no provider %q in schema document", name)
	}
	out := &Schemas{
		Resources:          map[string]*Schema{},
		DataSources:        map[string]*Schema{},
		EphemeralResources: map[string]*Schema{},
	}
	c := converter{types: map[string]tftypes.Type{}}
	var err error
	if out.Provider, err = c.schema(ps.Provider); err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	for _, set := range []struct {
		kind string
		in   map[string]*jsonSchema
		out  map[string]*Schema
	}{
		{"resource", ps.ResourceSchemas, out.Resources},
		{"data source", ps.DataSourceSchemas, out.DataSources},
		{"ephemeral resource", ps.EphemeralResources, out.EphemeralResources},
	} {
		for typeName, js := range set.in {
			s, err := c.schema(js)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", set.kind, typeName, err)
			}
			set.out[typeName] = s
		}
	}
	return out, nil
}

// converter turns JSON schemas into protocol schemas. It remembers parsed types: a few hundred distinct
// type expressions make up the tens of thousands of attributes of the aws provider.
type converter struct {
	types map[string]tftypes.Type
}

func (c converter) schema(js *jsonSchema) (*Schema, error) {
	if js == nil {
		js = &jsonSchema{}
	}
	b, err := c.block(js.Block, 0)
	if err != nil {
		return nil, err
	}
	return &Schema{Version: js.Version, Block: b}, nil
}

// maxDepth bounds recursion on hostile input (the fuzz test feeds arbitrary JSON).
const maxDepth = 32

var errTooDeep = errors.New("schema nested too deeply")

func (c converter) block(jb *jsonBlock, depth int) (*Block, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	if jb == nil {
		jb = &jsonBlock{}
	}
	b := &Block{
		Attributes: map[string]*Attribute{},
		BlockTypes: map[string]*NestedBlock{},
		proto: &tfprotov5.SchemaBlock{
			Description:     jb.Description,
			DescriptionKind: stringKind(jb.DescriptionKind),
			Deprecated:      jb.Deprecated,
		},
	}
	attrTypes := map[string]tftypes.Type{}
	for _, name := range sortedKeys(jb.Attributes) {
		ja := jb.Attributes[name]
		if ja == nil {
			return nil, fmt.Errorf("attribute %s: empty", name)
		}
		typ, err := c.attributeType(ja, depth)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", name, err)
		}
		if !ja.Required && !ja.Optional && !ja.Computed {
			return nil, fmt.Errorf("attribute %s: neither required, optional nor computed", name)
		}
		b.Attributes[name] = &Attribute{Type: typ, Required: ja.Required, Optional: ja.Optional, Computed: ja.Computed, Deprecated: ja.Deprecated}
		attrTypes[name] = typ
		// Write-only is deliberately not passed on: Terraform 1.5 does not know it, and newer Terraform
		// would then demand null state for values this provider keeps.
		b.proto.Attributes = append(b.proto.Attributes, &tfprotov5.SchemaAttribute{
			Name:            name,
			Type:            typ,
			Description:     ja.Description,
			DescriptionKind: stringKind(ja.DescriptionKind),
			Deprecated:      ja.Deprecated,
			Required:        ja.Required,
			Optional:        ja.Optional,
			Computed:        ja.Computed,
			Sensitive:       ja.Sensitive,
		})
	}
	for _, name := range sortedKeys(jb.BlockTypes) {
		jt := jb.BlockTypes[name]
		if jt == nil {
			return nil, fmt.Errorf("block %s: empty", name)
		}
		if _, dup := attrTypes[name]; dup {
			return nil, fmt.Errorf("block %s: also an attribute", name)
		}
		inner, err := c.block(jt.Block, depth+1)
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", name, err)
		}
		nesting, mode, err := nestingMode(jt.NestingMode)
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", name, err)
		}
		b.BlockTypes[name] = &NestedBlock{Nesting: mode, Block: inner}
		attrTypes[name] = collectionOf(mode, inner.typ)
		b.proto.BlockTypes = append(b.proto.BlockTypes, &tfprotov5.SchemaNestedBlock{
			TypeName: name,
			Block:    inner.proto,
			Nesting:  nesting,
			MinItems: jt.MinItems,
			MaxItems: jt.MaxItems,
		})
	}
	b.typ = tftypes.Object{AttributeTypes: attrTypes}
	return b, nil
}

func (c converter) attributeType(ja *jsonAttribute, depth int) (tftypes.Type, error) {
	if ja.NestedType != nil {
		return c.nestedAttributeType(ja.NestedType, depth+1)
	}
	if len(ja.Type) == 0 {
		return nil, errors.New("no type")
	}
	if t, ok := c.types[string(ja.Type)]; ok {
		return t, nil
	}
	t, err := ParseType(ja.Type)
	if err == nil {
		c.types[string(ja.Type)] = t
	}
	return t, err
}

func (c converter) nestedAttributeType(nt *jsonNestedType, depth int) (tftypes.Type, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	obj := tftypes.Object{AttributeTypes: map[string]tftypes.Type{}}
	for name, ja := range nt.Attributes {
		if ja == nil {
			return nil, fmt.Errorf("nested attribute %s: empty", name)
		}
		t, err := c.attributeType(ja, depth)
		if err != nil {
			return nil, fmt.Errorf("nested attribute %s: %w", name, err)
		}
		obj.AttributeTypes[name] = t
	}
	switch nt.NestingMode {
	case nestSingle, nestList, nestSet, nestMap:
		return collectionOf(nt.NestingMode, obj), nil
	}
	return nil, fmt.Errorf("unknown nested attribute nesting mode %q", nt.NestingMode)
}

// ParseType converts a cty type in its JSON form ("string", ["list","string"], ["object",{...}], ...).
func ParseType(raw json.RawMessage) (tftypes.Type, error) {
	if err := checkTypeDepth(raw); err != nil {
		return nil, err
	}
	//nolint:staticcheck // ParseJSONType is exactly the cty JSON type decoder this needs.
	t, err := tftypes.ParseJSONType(raw)
	if err != nil {
		return nil, fmt.Errorf("type %s: %w", truncate(string(raw), 80), err)
	}
	if t == nil {
		return nil, fmt.Errorf("type %s: empty", truncate(string(raw), 80))
	}
	return t, nil
}

// checkTypeDepth rejects absurdly nested type JSON before the recursive decoder sees it.
func checkTypeDepth(raw []byte) error {
	depth := 0
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			if depth > 2*maxDepth {
				return errTooDeep
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

func collectionOf(mode string, obj tftypes.Object) tftypes.Type {
	switch mode {
	case nestList:
		return tftypes.List{ElementType: obj}
	case nestSet:
		return tftypes.Set{ElementType: obj}
	case nestMap:
		return tftypes.Map{ElementType: obj}
	}
	return obj
}

func nestingMode(s string) (tfprotov5.SchemaNestedBlockNestingMode, string, error) {
	switch s {
	case nestSingle:
		return tfprotov5.SchemaNestedBlockNestingModeSingle, s, nil
	case nestGroup:
		return tfprotov5.SchemaNestedBlockNestingModeGroup, s, nil
	case nestList:
		return tfprotov5.SchemaNestedBlockNestingModeList, s, nil
	case nestSet:
		return tfprotov5.SchemaNestedBlockNestingModeSet, s, nil
	case nestMap:
		return tfprotov5.SchemaNestedBlockNestingModeMap, s, nil
	}
	return tfprotov5.SchemaNestedBlockNestingModeInvalid, "", fmt.Errorf("unknown nesting mode %q", s)
}

func stringKind(s string) tfprotov5.StringKind {
	if s == "markdown" {
		return tfprotov5.StringKindMarkdown
	}
	return tfprotov5.StringKindPlain
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
