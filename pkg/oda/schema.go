package oda

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/wasmcanvas/wasmcanvas/manifests"
)

// compiledSchema is one version's JSON Schema, compiled, with its raw
// document kept to read property lists and CEL messages when reporting.
type compiledSchema struct {
	schema *jsonschema.Schema
	doc    any
}

var schemas = sync.OnceValues(func() (map[string]*compiledSchema, error) {
	out := map[string]*compiledSchema{}
	for _, v := range APIVersions {
		raw, err := manifests.ComponentSchema(v)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("embedded schema of %s: %w", v, err)
		}
		c := jsonschema.NewCompiler()
		// The API server checks the formats it knows (date-time among
		// them) and ignores others (the CRD's "url"); so does this.
		c.AssertFormat()
		id := manifests.ComponentSchemaID(v)
		if err := c.AddResource(id, doc); err != nil {
			return nil, fmt.Errorf("embedded schema of %s: %w", v, err)
		}
		s, err := c.Compile(id)
		if err != nil {
			return nil, fmt.Errorf("embedded schema of %s: %w", v, err)
		}
		out[v] = &compiledSchema{schema: s, doc: doc}
	}
	return out, nil
})

func schemaFor(apiVersion string) *compiledSchema {
	all, err := schemas()
	if err != nil {
		// The schemas are embedded at build time and tested; failing to
		// compile them is a broken build, not an input error.
		panic(fmt.Sprintf("oda: %v", err))
	}
	return all[apiVersion]
}

// issue is a problem located by JSON tokens (schema, conversion or semantic check).
type issue struct {
	tokens []string
	onKey  bool // the error is about the key (unknown field), not its value
	drop   bool // the value cannot be decoded; leave it out to check the rest
	msg    string
	fix    string
}

// checkSchema validates doc (a JSON-like tree) against the schema of
// apiVersion and returns one issue per violation.
func checkSchema(apiVersion string, doc any) []issue {
	cs := schemaFor(apiVersion)
	err := cs.schema.Validate(doc)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return []issue{{msg: "schema validation failed: " + err.Error()}}
	}
	var out []issue
	cs.collect(verr, doc, &out)
	return out
}

var printer = message.NewPrinter(language.English)

func (cs *compiledSchema) collect(e *jsonschema.ValidationError, doc any, out *[]issue) {
	loc := e.InstanceLocation
	switch k := e.ErrorKind.(type) {
	case *kind.AnyOf:
		// Only the CEL rules become anyOf; report the rule's own message
		// rather than the failures inside each alternative.
		*out = append(*out, issue{tokens: loc, msg: cs.celMessage(e.SchemaURL), fix: "set them at the API root or in specification[0]"})
		return
	case *kind.AdditionalProperties:
		known := cs.propertiesAt(strings.TrimSuffix(fragment(e.SchemaURL), "/additionalProperties"))
		for _, p := range k.Properties {
			*out = append(*out, issue{tokens: append(slices.Clone(loc), p), onKey: true, drop: true, msg: "unknown field", fix: unknownFieldFix(p, known)})
		}
		return
	case *kind.Required:
		for _, m := range k.Missing {
			*out = append(*out, issue{tokens: append(slices.Clone(loc), m), msg: "required field is missing", fix: "add " + m})
		}
		return
	case *kind.Type:
		got, _ := lookup(doc, loc)
		*out = append(*out, issue{tokens: loc, drop: true, msg: fmt.Sprintf("must be %s, got %s", typeNames(k.Want), describe(got)), fix: typeFix(k.Want, got)})
		return
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = describe(w)
		}
		*out = append(*out, issue{tokens: loc, drop: true, msg: fmt.Sprintf("must be one of %s, got %s", strings.Join(want, ", "), describe(k.Got))})
		return
	case *kind.Const:
		*out = append(*out, issue{tokens: loc, drop: true, msg: fmt.Sprintf("must be %s, got %s", describe(k.Want), describe(k.Got))})
		return
	case *kind.Format:
		fix := ""
		if k.Want == "date-time" {
			fix = "write an RFC 3339 date and time, e.g. 2024-09-17T00:00:00Z"
		}
		*out = append(*out, issue{tokens: loc, drop: true, msg: fmt.Sprintf("must be a %s, got %s", k.Want, describe(k.Got)), fix: fix})
		return
	case *kind.MinItems:
		*out = append(*out, issue{tokens: loc, msg: fmt.Sprintf("must have at least %d item(s), got %d", k.Want, k.Got)})
		return
	}
	if len(e.Causes) == 0 {
		*out = append(*out, issue{tokens: loc, drop: true, msg: e.ErrorKind.LocalizedString(printer)})
		return
	}
	for _, c := range e.Causes {
		cs.collect(c, doc, out)
	}
}

// fragment returns the JSON pointer part of a schema URL.
func fragment(schemaURL string) string {
	_, frag, _ := strings.Cut(schemaURL, "#")
	if u, err := url.PathUnescape(frag); err == nil {
		return u
	}
	return frag
}

// at walks the raw schema document along a JSON pointer.
func (cs *compiledSchema) at(ptr string) (map[string]any, bool) {
	cur := cs.doc
	for tok := range strings.SplitSeq(strings.TrimPrefix(ptr, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v := cur.(type) {
		case map[string]any:
			cur = v[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	m, ok := cur.(map[string]any)
	return m, ok
}

func (cs *compiledSchema) propertiesAt(ptr string) []string {
	s, ok := cs.at(ptr)
	if !ok {
		return nil
	}
	props, _ := s["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// celMessage finds the upstream message of the CEL rule an anyOf stands for.
func (cs *compiledSchema) celMessage(schemaURL string) string {
	s, ok := cs.at(strings.TrimSuffix(fragment(schemaURL), "/anyOf"))
	if ok {
		if rules, ok := s["x-kubernetes-validations"].([]any); ok && len(rules) > 0 {
			if r, ok := rules[0].(map[string]any); ok {
				if m, ok := r["message"].(string); ok {
					return strings.Join(strings.Fields(m), " ")
				}
			}
		}
	}
	return "matches none of the allowed shapes"
}

// renamed are fields that moved between versions, to point users at the
// new name when they write the old one (or the reverse).
var renamed = map[string]string{
	"controllerRole":   `canvasSystemRole (controllerRole was renamed in v1beta4)`,
	"canvasSystemRole": `controllerRole (canvasSystemRole exists from v1beta4 on)`,
	"apitype":          `apiType`,
}

func unknownFieldFix(name string, known []string) string {
	if r, ok := renamed[name]; ok && slices.Contains(known, strings.Fields(r)[0]) {
		return "use " + r
	}
	best, bestD := "", 3
	for _, k := range known {
		if strings.EqualFold(k, name) {
			best, bestD = k, 0
			break
		}
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	if len(known) == 0 {
		return "remove it; nothing may be set here"
	}
	return "remove it; fields accepted here: " + strings.Join(known, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// typeFix suggests the edit for the two common slips: an unquoted value
// where YAML read a number or boolean, and a quoted number.
func typeFix(want []string, got any) string {
	switch g := got.(type) {
	case bool, int64, float64:
		if slices.Equal(want, []string{"string"}) {
			return fmt.Sprintf("quote it: \"%v\"", g)
		}
	case string:
		if slices.Equal(want, []string{"integer"}) {
			if _, err := strconv.ParseInt(g, 10, 64); err == nil {
				return "write it without quotes: " + g
			}
		}
	}
	return ""
}

func typeNames(want []string) string {
	names := make([]string, len(want))
	for i, w := range want {
		switch w {
		case "integer", "object", "array":
			names[i] = "an " + w
		case "null":
			names[i] = "null"
		default:
			names[i] = "a " + w
		}
	}
	return strings.Join(names, " or ")
}

// describe shows a value in an error: scalars as written, containers by kind.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case map[string]any:
		return "object"
	case []any:
		return "array"
	default:
		return fmt.Sprint(x)
	}
}
