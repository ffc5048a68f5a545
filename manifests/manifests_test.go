package manifests

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/manifests/internal/crdschema"
)

func upstreamCRD(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(testref.Path(t, "oda", "crds", "oda-component-crd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func embedded(t *testing.T, version string) map[string]any {
	t.Helper()
	b, err := ComponentSchema(version)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", ComponentSchemaFile(version), err)
	}
	return m
}

// TestSchemasUpToDate regenerates each schema from the upstream CRD and
// compares it with the embedded file (run `go generate ./manifests` when it
// fails after a CRD update).
func TestSchemasUpToDate(t *testing.T) {
	t.Parallel()
	crd := upstreamCRD(t)
	for _, v := range ComponentVersions {
		want, err := crdschema.Generate(crd, v)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		got, err := ComponentSchema(v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s is stale: run go generate ./manifests", ComponentSchemaFile(v))
		}
	}
	served, err := crdschema.Versions(crd)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range ComponentVersions {
		if !slices.Contains(served, v) {
			t.Errorf("upstream CRD no longer serves %s (serves %v)", v, served)
		}
	}
	if _, err := ComponentSchema("v1beta2"); err == nil {
		t.Error("ComponentSchema(v1beta2) should fail: wasmcanvas does not read v1beta2")
	}
}

// walk visits each pair of matching sub-schemas of the CRD's OpenAPI schema
// and the generated JSON Schema, following properties and items.
func walk(t *testing.T, at string, api, js map[string]any, visit func(at string, api, js map[string]any)) {
	t.Helper()
	visit(at, api, js)
	if props, ok := api["properties"].(map[string]any); ok {
		jprops, _ := js["properties"].(map[string]any)
		for name, p := range props {
			jp, ok := jprops[name].(map[string]any)
			if !ok {
				t.Errorf("%s.%s: in the CRD, missing from the JSON Schema", at, name)
				continue
			}
			walk(t, at+"."+name, p.(map[string]any), jp, visit)
		}
	}
	if items, ok := api["items"].(map[string]any); ok {
		jitems, ok := js["items"].(map[string]any)
		if !ok {
			t.Errorf("%s[]: items missing from the JSON Schema", at)
			return
		}
		walk(t, at+"[]", items, jitems, visit)
	}
}

func stringSet(v any) []string {
	var out []string
	for _, x := range asList(v) {
		out = append(out, x.(string))
	}
	slices.Sort(out)
	return out
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// TestSchemaMatchesCRD walks the upstream CRD and each generated schema
// together: same properties, same required fields at every level, same
// types and enums, objects closed exactly where Kubernetes closes them, and
// a CEL rule wherever upstream has one.
func TestSchemaMatchesCRD(t *testing.T) {
	t.Parallel()
	crd := upstreamCRD(t)
	for _, v := range ComponentVersions {
		api, err := crdschema.OpenAPI(crd, v)
		if err != nil {
			t.Fatal(err)
		}
		js := embedded(t, v)
		var levels, cel int
		walk(t, v, api, js, func(at string, api, js map[string]any) {
			levels++
			if got, want := stringSet(js["required"]), stringSet(api["required"]); !slices.Equal(got, want) {
				t.Errorf("%s: required %v, CRD has %v", at, got, want)
			}
			if at != v && api["type"] != js["type"] {
				t.Errorf("%s: type %v, CRD has %v", at, js["type"], api["type"])
			}
			if e, ok := api["enum"]; ok && !slices.Equal(stringSet(js["enum"]), stringSet(e)) {
				t.Errorf("%s: enum %v, CRD has %v", at, js["enum"], e)
			}
			if api["type"] == "object" {
				want := api["x-kubernetes-preserve-unknown-fields"] == true
				if js["additionalProperties"] != want {
					t.Errorf("%s: additionalProperties %v, want %v", at, js["additionalProperties"], want)
				}
			}
			if _, ok := api["x-kubernetes-validations"]; ok {
				cel++
				if len(asList(js["anyOf"])) != 2 {
					t.Errorf("%s: CEL rule not expressed as a two-way anyOf: %v", at, js["anyOf"])
				}
			}
		})
		if levels < 50 {
			t.Errorf("%s: walked only %d levels; the walk is broken", v, levels)
		}
		if v == "v1" && cel != 6 {
			t.Errorf("v1: %d CEL rules translated, the CRD has 6 (exposed and dependent APIs of three functions)", cel)
		}
	}
}
