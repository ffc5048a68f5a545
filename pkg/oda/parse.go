package oda

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Parse decodes one Component file (YAML or JSON) of any accepted version
// and returns it as v1 with defaults applied. file names the input in errors.
//
// The steps, in order: size and text checks; YAML decoding (one document,
// no duplicate keys); apiVersion and kind; the JSON Schema of that version
// (unknown fields, types, required fields, the CRD's CEL rules); conversion
// to v1; defaults; semantic checks. Every problem found is returned in one
// ErrorList, each with file, line and field path as written in the file.
func Parse(file string, data []byte) (*Component, error) {
	t, errs := readTree(file, data)
	if t == nil {
		return nil, errs.sorted()
	}
	root, ok := t.root.(map[string]any)
	if !ok {
		t.fail(t.line(nil, false), nil, fmt.Sprintf("document must be a mapping (an ODA Component), got %s", describe(t.root)),
			"start the file with apiVersion: oda.tmforum.org/v1 and kind: Component")
		return nil, t.errs.sorted()
	}
	version := checkHeader(t, root)
	if version == "" {
		return nil, t.errs.sorted()
	}
	pruneNulls(root)
	// Values the schema rejects are dropped from a working copy, so the
	// rest can still be decoded and checked: one run reports everything.
	doc := asMap(deepCopyTree(root))
	flagged := map[string]bool{}
	for _, is := range checkSchema(version, root) {
		t.fail(t.line(is.tokens, is.onKey), is.tokens, is.msg, is.fix)
		flagged[pointer(is.tokens)] = true
		if is.drop {
			dropAt(doc, is.tokens)
		}
	}
	upgrade(version, doc)
	if len(t.errs) == 0 && version != APIVersionV1 {
		// Only fields a version keeps without a schema (v1beta3's
		// securityFunction preserves unknown fields) can fail here.
		for _, is := range checkSchema(APIVersionV1, doc) {
			t.failV1(version, is)
			flagged[pointer(sourceTokens(version, is.tokens))] = true
			if is.drop {
				dropAt(doc, is.tokens)
			}
		}
	}
	c, err := decodeComponent(doc)
	if err != nil {
		if len(t.errs) == 0 {
			// The schema passed, so either a value Go cannot hold or a
			// field the Go types lack (a wasmcanvas bug; the coverage test
			// guards against it).
			fe := FieldError{File: t.file, Msg: err.Error(), Fix: "report this to wasmcanvas: its types lack a field the CRD allows"}
			var ute *json.UnmarshalTypeError
			if errors.As(err, &ute) {
				fe.Path, fe.Fix = ute.Field, "use a value in the range the field takes"
			}
			t.errs = append(t.errs, fe)
		}
		return nil, t.errs.sorted()
	}
	applyDefaults(c)
	for _, is := range semantic(c) {
		if !underFlagged(flagged, sourceTokens(version, is.tokens)) {
			t.failV1(version, is)
		}
	}
	if len(t.errs) > 0 {
		return nil, t.errs.sorted()
	}
	return c, nil
}

// failV1 reports an issue located in the v1 form at the place the user
// wrote it in a file of version from.
func (t *tree) failV1(from string, is issue) {
	src := sourceTokens(from, is.tokens)
	t.fail(t.line(src, is.onKey), src, is.msg, is.fix)
}

// dropAt removes the value at tokens: a map entry is deleted, a list item
// becomes null (keeping the indexes of the others).
func dropAt(doc map[string]any, tokens []string) {
	if len(tokens) == 0 {
		return
	}
	parent, ok := lookup(doc, tokens[:len(tokens)-1])
	if !ok {
		return
	}
	last := tokens[len(tokens)-1]
	switch p := parent.(type) {
	case map[string]any:
		delete(p, last)
	case []any:
		if i, err := strconv.Atoi(last); err == nil && i >= 0 && i < len(p) {
			p[i] = nil
		}
	}
}

// underFlagged reports whether tokens or one of its ancestors already has
// a schema error, so a semantic check does not repeat it.
func underFlagged(flagged map[string]bool, tokens []string) bool {
	for n := len(tokens); n > 0; n-- {
		if flagged[pointer(tokens[:n])] {
			return true
		}
	}
	return false
}

// pruneNulls drops map entries whose value is null, as the Kubernetes API
// server does for fields not marked nullable (none in the ODA CRD) before it
// validates. Templated manifests often leave `key:` empty.
func pruneNulls(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
				continue
			}
			pruneNulls(e)
		}
	case []any:
		for _, e := range x {
			pruneNulls(e)
		}
	}
}

// checkHeader checks kind and apiVersion and returns the apiVersion, or ""
// when the rest of the document cannot be read as a Component.
func checkHeader(t *tree, root map[string]any) string {
	ok := true
	switch k, set := root["kind"]; {
	case !set:
		t.fail(t.line(nil, false), []string{"kind"}, "required field is missing", "add kind: Component")
		ok = false
	case k != Kind:
		t.fail(t.line([]string{"kind"}, false), []string{"kind"}, fmt.Sprintf("must be %q, got %s", Kind, describe(k)),
			"this is not an ODA Component; wasmcanvas reads kind: Component of "+Group)
		ok = false
	}
	accepted := strings.Join(APIVersions, ", ")
	av, set := root["apiVersion"]
	s, _ := av.(string)
	switch {
	case !set:
		t.fail(t.line(nil, false), []string{"apiVersion"}, "required field is missing; accepted: "+accepted, "add apiVersion: "+APIVersionV1)
		return ""
	case !slices.Contains(APIVersions, s):
		fix := "set apiVersion: " + APIVersionV1 + " and the v1 fields"
		if strings.HasPrefix(s, Group+"/v1beta") {
			fix = "convert it to " + APIVersionV1beta3 + " or later first (the reference canvas's conversion webhook does), then read it here"
		}
		t.fail(t.line([]string{"apiVersion"}, false), []string{"apiVersion"},
			fmt.Sprintf("unsupported apiVersion %s; accepted: %s", describe(av), accepted), fix)
		return ""
	}
	if !ok {
		return ""
	}
	return s
}

// decodeComponent turns a v1 tree into a Component. The schema has already
// checked the shape; encoding/json is the typed mapping, strict so a field
// the Go types lack is an error rather than silently dropped. status is
// schemaless in the CRD, so it is read leniently.
func decodeComponent(doc map[string]any) (*Component, error) {
	rest := make(map[string]any, len(doc))
	for k, v := range doc {
		if k != "status" {
			rest[k] = v
		}
	}
	b, err := json.Marshal(rest)
	if err != nil {
		return nil, fmt.Errorf("encode the decoded document: %w", err)
	}
	var c Component
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("read Component: %w", err)
	}
	if st, ok := doc["status"]; ok && st != nil {
		b, err := json.Marshal(st)
		if err != nil {
			return nil, fmt.Errorf("encode status: %w", err)
		}
		c.Status = new(ComponentStatus)
		if err := json.Unmarshal(b, c.Status); err != nil {
			return nil, fmt.Errorf("read status: %w", err)
		}
	}
	return &c, nil
}

// applyDefaults fills what the reference canvas would: the namespace.
func applyDefaults(c *Component) {
	if c.Metadata.Namespace == "" {
		c.Metadata.Namespace = DefaultNamespace
	}
}

// Validate checks a Component that is already decoded (from the store, the
// API, or built in code): kind and apiVersion, the v1 JSON Schema and the
// semantic checks Parse runs. Errors carry field paths but no file or line.
func Validate(c *Component) ErrorList {
	if c == nil {
		return ErrorList{{Msg: "no Component given"}}
	}
	var errs ErrorList
	if c.Kind != Kind {
		errs = append(errs, FieldError{Path: "kind", Msg: fmt.Sprintf("must be %q, got %q", Kind, c.Kind), Fix: "set kind: Component"})
	}
	if !slices.Contains(APIVersions, c.APIVersion) {
		errs = append(errs, FieldError{Path: "apiVersion", Msg: fmt.Sprintf("unsupported apiVersion %q; accepted: %s", c.APIVersion, strings.Join(APIVersions, ", ")),
			Fix: "set apiVersion: " + APIVersionV1})
	}
	doc, err := toTree(c)
	if err != nil {
		return append(errs, FieldError{Msg: err.Error()})
	}
	doc["apiVersion"] = APIVersionV1
	doc["kind"] = Kind
	for _, is := range checkSchema(APIVersionV1, doc) {
		errs = append(errs, FieldError{Path: displayPath(doc, is.tokens), Msg: is.msg, Fix: is.fix})
	}
	for _, is := range semantic(c) {
		errs = append(errs, FieldError{Path: displayPath(doc, is.tokens), Msg: is.msg, Fix: is.fix})
	}
	return errs.sorted()
}

// toTree renders c as a JSON-like tree (numbers as json.Number).
func toTree(c *Component) (map[string]any, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode Component: %w", err)
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode Component: %w", err)
	}
	return doc, nil
}

// normalizeVersion accepts "v1beta3" as well as "oda.tmforum.org/v1beta3".
func normalizeVersion(v string) (string, error) {
	if !strings.Contains(v, "/") {
		v = Group + "/" + v
	}
	if !slices.Contains(APIVersions, v) {
		return "", fmt.Errorf("unsupported apiVersion %q; accepted: %s", v, strings.Join(APIVersions, ", "))
	}
	return v, nil
}

// Convert returns a copy of c to be written as apiVersion to (v1, v1beta4,
// v1beta3, with or without the group). The fields stay v1; Marshal renders
// them in the target's shape. When the target cannot hold a field c sets, it
// returns an ErrorList naming each such field instead of dropping it.
func Convert(c *Component, to string) (*Component, error) {
	if c == nil {
		return nil, fmt.Errorf("convert: no Component given")
	}
	v, err := normalizeVersion(to)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	if v != APIVersionV1 {
		doc, err := toTree(c)
		if err != nil {
			return nil, fmt.Errorf("convert: %w", err)
		}
		doc["apiVersion"] = APIVersionV1
		if _, lost := downgrade(doc, v); len(lost) > 0 {
			errs := make(ErrorList, 0, len(lost))
			for _, is := range lost {
				errs = append(errs, FieldError{Path: displayTokens(is.tokens), Msg: is.msg, Fix: is.fix})
			}
			return nil, errs.sorted()
		}
	}
	out := c.DeepCopy()
	out.APIVersion = v
	out.Kind = Kind
	return out, nil
}
