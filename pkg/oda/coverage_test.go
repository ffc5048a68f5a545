package oda

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/manifests"
)

// sampler builds a document that sets every property a schema declares, with
// values unique enough to pass the semantic checks (names, paths).
type sampler struct{ n int }

func (s *sampler) next() int { s.n++; return s.n }

func (s *sampler) value(t *testing.T, sch map[string]any, name string) any {
	t.Helper()
	if c, ok := sch["const"]; ok {
		return c
	}
	if e, ok := sch["enum"].([]any); ok {
		return e[0]
	}
	typ := sch["type"]
	if l, ok := typ.([]any); ok {
		typ = l[0]
	}
	switch typ {
	case "object":
		out := map[string]any{}
		props, _ := sch["properties"].(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(props)) {
			if k == "status" {
				continue // schemaless: nothing to cover
			}
			out[k] = s.value(t, props[k].(map[string]any), k)
		}
		if ap, ok := sch["additionalProperties"].(map[string]any); ok {
			out[fmt.Sprintf("key%d", s.next())] = s.value(t, ap, "")
		}
		return out
	case "array":
		return []any{s.value(t, sch["items"].(map[string]any), name)}
	case "string":
		switch {
		case sch["format"] == "date-time":
			return "2024-09-17T00:00:00Z"
		case name == "path" || name == "hub" || name == "callback":
			return fmt.Sprintf("/p%d", s.next())
		}
		return fmt.Sprintf("v%d", s.next())
	case "integer":
		return int64(1000 + s.next())
	case "boolean":
		return true
	}
	t.Fatalf("property %q: no sample for schema %v", name, sch)
	return nil
}

func schemaDoc(t *testing.T, version string) map[string]any {
	t.Helper()
	b, err := manifests.ComponentSchema(version)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEveryCRDFieldIsRepresentable fills every property of each version's
// schema, parses the result and writes it back in the same version: the Go
// types and the conversions must keep every field, or this fails.
func TestEveryCRDFieldIsRepresentable(t *testing.T) {
	t.Parallel()
	for _, v := range APIVersions {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			var s sampler
			doc := s.value(t, schemaDoc(t, v), "").(map[string]any)
			asMap(doc["metadata"])["name"] = "demo"
			delete(asMap(doc["metadata"]), "generateName")
			in, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse("all-fields.json", in)
			if err != nil {
				t.Fatalf("Parse of a document setting every field of %s: %v\n%s", v, err, in)
			}
			back, err := Convert(c, v)
			if err != nil {
				t.Fatalf("Convert back to %s: %v", v, err)
			}
			out, err := Marshal(back, "json")
			if err != nil {
				t.Fatal(err)
			}
			var got, want map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(in, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s -> v1 -> %s lost or changed fields:\n got %s\nwant %s", v, v, out, in)
			}
		})
	}
}
