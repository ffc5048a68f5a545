package wadm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FieldError is one problem in a manifest, located by line (1-based, 0 when
// unknown) and field path (e.g. spec.components[0].properties.image).
type FieldError struct {
	Line int
	Path string
	Msg  string
	Fix  string
}

func (e FieldError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Fix != "" {
		b.WriteString(" (")
		b.WriteString(e.Fix)
		b.WriteString(")")
	}
	return b.String()
}

// ManifestError lists every problem ParseManifest found.
type ManifestError struct {
	Errors []FieldError
}

func (e *ManifestError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		msgs[i] = fe.Error()
	}
	return "invalid wadm manifest: " + strings.Join(msgs, "; ")
}

// maxNodes bounds the work a hostile document (deep nesting, alias fan-out)
// can cause before it is rejected.
const maxNodes = 200_000

// maxErrors keeps reports readable.
const maxErrors = 20

// ParseManifest decodes a manifest given as YAML or JSON. It is strict:
// unknown fields, missing required fields, non-string values where wadm
// wants strings and unknown component types are errors (a *ManifestError
// naming line and field path). Legacy forms wadm accepts are kept as given.
func ParseManifest(data []byte) (*Manifest, error) {
	root, err := parseDocument(data)
	if err != nil {
		return nil, err
	}
	return parseNode(root)
}

func parseDocument(data []byte) (*yaml.Node, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, &ManifestError{Errors: []FieldError{{Msg: "empty document", Fix: "give a manifest with apiVersion, kind, metadata and spec"}}}
	}
	if trimmed[0] == '{' {
		return jsonToNode(data)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("invalid wadm manifest: YAML: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &ManifestError{Errors: []FieldError{{Line: extra.Line, Msg: "more than one YAML document", Fix: "give one manifest per document"}}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, &ManifestError{Errors: []FieldError{{Msg: "empty document", Fix: "give a manifest with apiVersion, kind, metadata and spec"}}}
	}
	return doc.Content[0], nil
}

// manifestFields decodes with the default struct decoder, so
// Manifest.UnmarshalYAML does not call itself.
type manifestFields Manifest

func parseNode(root *yaml.Node) (*Manifest, error) {
	c := checker{budget: maxNodes}
	c.check(root, reflect.TypeFor[Manifest](), "", false)
	if len(c.errs) > 0 {
		return nil, &ManifestError{Errors: c.errs}
	}
	var m Manifest
	if err := root.Decode((*manifestFields)(&m)); err != nil {
		return nil, fmt.Errorf("invalid wadm manifest: %w", err)
	}
	return &m, nil
}

// decodeJSONInto decodes one JSON value into v (a pointer to a manifest
// part) with the same strict checks as ParseManifest.
func decodeJSONInto(data []byte, v any) error {
	n, err := jsonToNode(data)
	if err != nil {
		return err
	}
	c := checker{budget: maxNodes}
	c.check(n, reflect.TypeOf(v).Elem(), "", false)
	if len(c.errs) > 0 {
		return &ManifestError{Errors: c.errs}
	}
	return n.Decode(v)
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

var (
	typeTrait          = reflect.TypeFor[Trait]()
	typeLinkTarget     = reflect.TypeFor[LinkTarget]()
	typeConfigProperty = reflect.TypeFor[ConfigProperty]()
	typeComponent      = reflect.TypeFor[Component]()
)

// checker walks a YAML node tree beside the Go type it will decode into and
// records what the plain decoder would silently accept or report without a
// path: unknown and missing fields, non-string scalars, negative counts.
type checker struct {
	errs   []FieldError
	budget int
}

func (c *checker) fail(n *yaml.Node, path, msg, fix string) {
	if len(c.errs) < maxErrors {
		c.errs = append(c.errs, FieldError{Line: n.Line, Path: path, Msg: msg, Fix: fix})
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (c *checker) check(n *yaml.Node, t reflect.Type, path string, optional bool) {
	n = resolveAlias(n)
	c.budget--
	if c.budget < 0 {
		if c.budget == -1 {
			c.fail(n, path, "document too large or too deeply aliased", "split the manifest or remove YAML aliases")
		}
		return
	}
	if t.Kind() == reflect.Pointer {
		t, optional = t.Elem(), true
	}
	if isNull(n) {
		if !optional {
			c.fail(n, path, "must not be null", "give a value or leave the field out if it is optional")
		}
		return
	}
	switch t {
	case typeTrait:
		c.checkTrait(n, path)
		return
	case typeLinkTarget:
		if n.Kind == yaml.ScalarNode {
			c.check(n, reflect.TypeFor[string](), path, false)
			return
		}
		c.check(n, reflect.TypeFor[linkTargetWire](), path, false)
		return
	case typeConfigProperty:
		c.check(n, reflect.TypeFor[configPropertyWire](), path, false)
		return
	}
	switch t.Kind() {
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			c.fail(n, path, fmt.Sprintf("want a string, got %s", describe(n)), "quote the value")
		}
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			c.fail(n, path, fmt.Sprintf("want a whole number, got %s", describe(n)), "give a number such as 1")
		} else if strings.HasPrefix(n.Value, "-") {
			c.fail(n, path, "must be zero or more", "give a number such as 1")
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.fail(n, path, fmt.Sprintf("want a list, got %s", describe(n)), "give a YAML list")
			return
		}
		for i, e := range n.Content {
			c.check(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), false)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.fail(n, path, fmt.Sprintf("want a mapping, got %s", describe(n)), "give key: value pairs")
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := resolveAlias(n.Content[i]), n.Content[i+1]
			if !c.checkKey(k, path, seen) {
				continue
			}
			c.check(v, t.Elem(), join(path, k.Value), false)
		}
	case reflect.Struct:
		c.checkStruct(n, t, path)
	case reflect.Interface:
		c.checkAny(n, path, 0)
	default:
		c.fail(n, path, fmt.Sprintf("unsupported field type %s", t), "")
	}
}

func (c *checker) checkKey(k *yaml.Node, path string, seen map[string]bool) bool {
	if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
		if k.Tag == "!!merge" {
			c.fail(k, path, "YAML merge keys (<<) are not supported", "write the fields out")
		} else {
			c.fail(k, path, fmt.Sprintf("keys must be strings, got %s", describe(k)), "quote the key")
		}
		return false
	}
	if seen[k.Value] {
		c.fail(k, join(path, k.Value), "duplicate key", "give each key once")
		return false
	}
	seen[k.Value] = true
	return true
}

type fieldInfo struct {
	typ      reflect.Type
	required bool
}

func structFields(t reflect.Type) (map[string]fieldInfo, []string) {
	fields := map[string]fieldInfo{}
	var names []string
	for f := range t.Fields() {
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = fieldInfo{typ: f.Type, required: !strings.Contains(opts, "omitempty")}
		names = append(names, name)
	}
	return fields, names
}

func (c *checker) checkStruct(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		c.fail(n, path, fmt.Sprintf("want a mapping, got %s", describe(n)), "give key: value pairs")
		return
	}
	fields, names := structFields(t)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolveAlias(n.Content[i]), n.Content[i+1]
		if !c.checkKey(k, path, seen) {
			continue
		}
		f, ok := fields[k.Value]
		if !ok {
			c.fail(k, join(path, k.Value), "unknown field", "known fields here: "+strings.Join(names, ", "))
			continue
		}
		c.check(v, f.typ, join(path, k.Value), !f.required)
	}
	for _, name := range names {
		if fields[name].required && !seen[name] {
			c.fail(n, join(path, name), "required field is missing", "add "+name)
		}
	}
	if t == typeComponent {
		c.checkComponentType(n, path)
	}
}

func (c *checker) checkComponentType(n *yaml.Node, path string) {
	v := mappingValue(n, "type")
	if v == nil || v.Tag != "!!str" {
		return
	}
	switch v.Value {
	case ComponentTypeComponent, ComponentTypeCapability, ComponentTypeActor:
	default:
		c.fail(v, join(path, "type"), fmt.Sprintf("unknown component type %q", v.Value),
			"use "+ComponentTypeComponent+" or "+ComponentTypeCapability)
	}
}

func (c *checker) checkTrait(n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		c.fail(n, path, fmt.Sprintf("want a mapping, got %s", describe(n)), "give type and properties")
		return
	}
	var typ, props *yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolveAlias(n.Content[i]), n.Content[i+1]
		if !c.checkKey(k, path, seen) {
			continue
		}
		switch k.Value {
		case "type":
			typ = v
		case "properties":
			props = v
		default:
			c.fail(k, join(path, k.Value), "unknown field", "known fields here: type, properties")
		}
	}
	if typ == nil {
		c.fail(n, join(path, "type"), "required field is missing", "add type (spreadscaler, daemonscaler or link)")
		return
	}
	c.check(typ, reflect.TypeFor[string](), join(path, "type"), false)
	if props == nil {
		c.fail(n, join(path, "properties"), "required field is missing", "add properties")
		return
	}
	switch traitKind(resolveAlias(typ).Value) {
	case traitKindScaler:
		c.check(props, reflect.TypeFor[ScalerProperties](), join(path, "properties"), false)
	case traitKindLink:
		c.check(props, reflect.TypeFor[LinkProperties](), join(path, "properties"), false)
	default:
		c.checkAny(resolveAlias(props), join(path, "properties"), 0)
	}
}

// checkAny accepts any JSON-shaped value: mappings need string keys so the
// value can be written back as JSON.
func (c *checker) checkAny(n *yaml.Node, path string, depth int) {
	n = resolveAlias(n)
	c.budget--
	if c.budget < 0 || depth > 100 {
		if c.budget == -1 || depth == 101 {
			c.fail(n, path, "document too large or too deeply nested", "simplify the trait properties")
		}
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolveAlias(n.Content[i])
			if c.checkKey(k, path, seen) {
				c.checkAny(n.Content[i+1], join(path, k.Value), depth+1)
			}
		}
	case yaml.SequenceNode:
		for i, e := range n.Content {
			c.checkAny(e, fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
	case yaml.ScalarNode:
		if !slices.Contains([]string{"!!str", "!!int", "!!float", "!!bool", "!!null"}, n.Tag) {
			c.fail(n, path, fmt.Sprintf("unsupported value %s", describe(n)), "use strings, numbers, booleans, lists or mappings")
		}
	}
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolveAlias(n.Content[i]); k.Value == key {
			return resolveAlias(n.Content[i+1])
		}
	}
	return nil
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return fmt.Sprintf("%s %q", strings.TrimPrefix(n.Tag, "!!"), v)
	default:
		return "an unsupported node"
	}
}

// jsonToNode converts JSON into a YAML node tree with line numbers, so JSON
// and YAML manifests go through the same checks. YAML would parse most JSON
// itself, but not all (tabs, some escapes), and JSON deserves JSON's rules.
func jsonToNode(data []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	jc := jsonConverter{dec: dec, data: data}
	n, err := jc.value(0)
	if err != nil {
		return nil, jc.wrap(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, jc.wrap(errors.New("data after the top-level JSON value"))
	}
	return n, nil
}

type jsonConverter struct {
	dec  *json.Decoder
	data []byte
}

func (jc *jsonConverter) wrap(err error) error {
	return &ManifestError{Errors: []FieldError{{Line: jc.line(jc.dec.InputOffset()), Msg: "JSON: " + err.Error()}}}
}

// line returns the 1-based line of the next token at or after off.
func (jc *jsonConverter) line(off int64) int {
	end := min(int(off), len(jc.data))
	for end < len(jc.data) && strings.IndexByte(" \t\r\n,:", jc.data[end]) >= 0 {
		end++
	}
	return 1 + bytes.Count(jc.data[:min(end, len(jc.data))], []byte("\n"))
}

func (jc *jsonConverter) value(depth int) (*yaml.Node, error) {
	if depth > 1000 {
		return nil, errors.New("nested too deeply")
	}
	line := jc.line(jc.dec.InputOffset())
	tok, err := jc.dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: line}
			seen := map[string]bool{}
			for jc.dec.More() {
				kline := jc.line(jc.dec.InputOffset())
				kt, err := jc.dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key %v is not a string", kt)
				}
				if seen[key] {
					return nil, fmt.Errorf("duplicate key %q on line %d", key, kline)
				}
				seen[key] = true
				val, err := jc.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key, Line: kline}, val)
			}
			if _, err := jc.dec.Token(); err != nil {
				return nil, err
			}
			return n, nil
		case '[':
			n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: line}
			for jc.dec.More() {
				val, err := jc.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, val)
			}
			if _, err := jc.dec.Token(); err != nil {
				return nil, err
			}
			return n, nil
		}
		return nil, fmt.Errorf("unexpected %q", v)
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Style: yaml.DoubleQuotedStyle, Line: line}, nil
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(string(v), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: string(v), Line: line}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(v), Line: line}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null", Line: line}, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}
