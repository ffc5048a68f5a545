package wadm_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

func oamSchema(t testing.TB) *wadm.Schema {
	t.Helper()
	b, err := os.ReadFile(testref.Path(t, "wasmcloud", "schema", "oam.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := wadm.CompileSchema(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type example struct {
	name string
	data []byte
}

func upstreamExamples(t testing.TB) []example {
	t.Helper()
	dir := testref.Path(t, "wasmcloud", "examples")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []example
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, example{e.Name(), b})
	}
	if len(out) < 6 {
		t.Fatalf("expected the six upstream examples in %s, found %d", dir, len(out))
	}
	return out
}

// generic decodes YAML or JSON into plain values, normalized through JSON so
// YAML ints and JSON float64s compare equal.
func generic(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("generic decode: %v", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("generic re-encode: %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUpstreamExamplesRoundTrip(t *testing.T) {
	t.Parallel()
	schema := oamSchema(t)
	for _, ex := range upstreamExamples(t) {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			m, err := wadm.ParseManifest(ex.data)
			if err != nil {
				t.Fatalf("ParseManifest: %v", err)
			}
			// The upstream schema forgets the legacy `actor` type
			// that wadm still accepts (serde alias), so such manifests are
			// checked with the type spelled the current way.
			validate := func(doc []byte) error { return schema.Validate(doc) }
			if hasActor(m) {
				validate = func(doc []byte) error {
					if err := schema.Validate(doc); err == nil {
						return errors.New("schema accepted the legacy actor type; drop this special case")
					}
					mm, err := wadm.ParseManifest(doc)
					if err != nil {
						return err
					}
					for i := range mm.Spec.Components {
						if mm.Spec.Components[i].Type == wadm.ComponentTypeActor {
							mm.Spec.Components[i].Type = wadm.ComponentTypeComponent
						}
					}
					b, err := wadm.MarshalJSON(mm)
					if err != nil {
						return err
					}
					return schema.Validate(b)
				}
			}
			if err := validate(ex.data); err != nil {
				t.Fatalf("upstream example fails the upstream schema: %v", err)
			}
			want := generic(t, ex.data)
			y, err := wadm.MarshalYAML(m)
			if err != nil {
				t.Fatal(err)
			}
			j, err := wadm.MarshalJSON(m)
			if err != nil {
				t.Fatal(err)
			}
			for _, out := range []struct {
				form string
				data []byte
			}{{"yaml", y}, {"json", j}} {
				if got := generic(t, out.data); !reflect.DeepEqual(got, want) {
					gb, _ := json.MarshalIndent(got, "", " ")
					wb, _ := json.MarshalIndent(want, "", " ")
					t.Errorf("%s round trip changed the manifest:\ngot  %s\nwant %s", out.form, gb, wb)
				}
				if err := validate(out.data); err != nil {
					t.Errorf("%s output fails the schema: %v\n%s", out.form, err, out.data)
				}
				again, err := wadm.ParseManifest(out.data)
				if err != nil {
					t.Fatalf("re-parse %s output: %v", out.form, err)
				}
				if !reflect.DeepEqual(again, m) {
					t.Errorf("%s output parses to a different manifest", out.form)
				}
			}
			y2, _ := wadm.MarshalYAML(m)
			j2, _ := wadm.MarshalJSON(m)
			if !bytes.Equal(y, y2) || !bytes.Equal(j, j2) {
				t.Error("marshalling is not deterministic")
			}
		})
	}
}

func hasActor(m *wadm.Manifest) bool {
	for _, c := range m.Spec.Components {
		if c.Type == wadm.ComponentTypeActor {
			return true
		}
	}
	return false
}

func TestLegacyForms(t *testing.T) {
	t.Parallel()
	var ci, simple []byte
	for _, ex := range upstreamExamples(t) {
		switch ex.name {
		case "daemonscaler-http-ci.wadm.yaml":
			ci = ex.data
		case "simple1-legacy-actor.wadm.json":
			simple = ex.data
		}
	}
	m, err := wadm.ParseManifest(ci)
	if err != nil {
		t.Fatal(err)
	}
	links := m.Links()
	if len(links) != 1 {
		t.Fatalf("links = %d, want 1", len(links))
	}
	l := links[0]
	if l.Source != "provider" || !l.Link.Target.BareName || l.Link.Target.Name != "http" || len(l.Link.SourceConfig) != 1 {
		t.Fatalf("legacy link not kept as given: %+v", l)
	}
	n := l.Link.Normalized()
	if n.Source == nil || len(n.Source.Config) != 1 || n.Source.Config[0].Properties["address"] != "0.0.0.0:8080" || n.SourceConfig != nil || n.Target.BareName {
		t.Fatalf("Normalized = %+v", n)
	}
	if n.Name != "http" {
		t.Errorf("link name = %q, want http", n.Name)
	}
	if m.Spec.Components[0].Traits[0].Scaler.Instances != 2000 || m.Spec.Components[0].Traits[0].Type != wadm.TraitDaemonScaler {
		t.Errorf("daemonscaler not decoded: %+v", m.Spec.Components[0].Traits[0])
	}

	s, err := wadm.ParseManifest(simple)
	if err != nil {
		t.Fatal(err)
	}
	if s.Spec.Components[0].Type != wadm.ComponentTypeActor || s.Spec.Components[1].IsCapability() != true {
		t.Errorf("component types: %q %q", s.Spec.Components[0].Type, s.Spec.Components[1].Type)
	}
	if w := s.Spec.Components[0].Traits[0].Scaler.Spread[0].Weight; w == nil || *w != 80 {
		t.Errorf("spread weight = %v, want 80", w)
	}
	if w := s.Spec.Components[2].Traits[0].Scaler.Spread[0].Weight; w != nil {
		t.Errorf("absent weight decoded as %d", *w)
	}

	// Normalized is the form wadm stores: no legacy spellings left, and
	// the parsed manifest itself is untouched.
	before, _ := wadm.MarshalJSON(s)
	ns := s.Normalized()
	if ns.Spec.Components[0].Type != wadm.ComponentTypeComponent || s.Spec.Components[0].Type != wadm.ComponentTypeActor {
		t.Errorf("Normalized component type %q (original now %q)", ns.Spec.Components[0].Type, s.Spec.Components[0].Type)
	}
	if l := ns.Spec.Components[1].Traits[0].Link; l.Target.BareName || l.Target.Name != "webcap" {
		t.Errorf("Normalized link target %+v", l.Target)
	}
	if after, _ := wadm.MarshalJSON(s); !bytes.Equal(before, after) {
		t.Error("Normalized changed the original manifest")
	}
	nj, err := wadm.MarshalJSON(ns)
	if err != nil {
		t.Fatal(err)
	}
	if err := oamSchema(t).Validate(nj); err != nil {
		t.Errorf("normalized legacy manifest fails the schema: %v", err)
	}
	if (wadm.LinkProperties{}).EffectiveName() != wadm.DefaultLinkName || m.Links()[0].Link.EffectiveName() != "http" {
		t.Error("EffectiveName")
	}
}

func TestParseManifestErrors(t *testing.T) {
	t.Parallel()
	const head = "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: a\n  annotations: {version: v1}\nspec:\n  components:\n"
	cases := []struct {
		name string
		doc  string
		line int
		path string
		msg  string
	}{
		{"unknown field", head + "    - name: x\n      type: component\n      properties:\n        imag: foo\n",
			11, "spec.components[0].properties.imag", "unknown field"},
		{"unknown top-level field", "apiVersion: v\nkind: k\nmetadata: {name: a, annotations: {}}\nspec: {components: []}\nstatus: {}\n",
			5, "status", "unknown field"},
		{"missing annotations", "apiVersion: v\nkind: k\nmetadata: {name: a}\nspec: {components: []}\n",
			3, "metadata.annotations", "required field is missing"},
		{"missing spec", "apiVersion: v\nkind: k\nmetadata: {name: a, annotations: {}}\n",
			1, "spec", "required field is missing"},
		{"unknown component type", head + "    - name: x\n      type: widget\n      properties: {image: i}\n",
			9, "spec.components[0].type", `unknown component type "widget"`},
		{"number where a string goes", head + "    - name: x\n      type: component\n      properties:\n        image: i\n        config:\n          - name: c\n            properties: {port: 8080}\n",
			14, "spec.components[0].properties.config[0].properties.port", `want a string, got int "8080"`},
		{"negative instances", head + "    - name: x\n      type: component\n      properties: {image: i}\n      traits:\n        - type: spreadscaler\n          properties: {instances: -1}\n",
			13, "spec.components[0].traits[0].properties.instances", "must be zero or more"},
		{"link without target", head + "    - name: x\n      type: component\n      properties: {image: i}\n      traits:\n        - type: link\n          properties: {namespace: wasi, package: http, interfaces: [x]}\n",
			13, "spec.components[0].traits[0].properties.target", "required field is missing"},
		{"scaler with link fields", head + "    - name: x\n      type: component\n      properties: {image: i}\n      traits:\n        - type: spreadscaler\n          properties: {instances: 1, target: y}\n",
			13, "spec.components[0].traits[0].properties.target", "unknown field"},
		{"trait without properties", head + "    - name: x\n      type: component\n      properties: {image: i}\n      traits:\n        - type: link\n",
			12, "spec.components[0].traits[0].properties", "required field is missing"},
		{"null name", "apiVersion: v\nkind: k\nmetadata: {name: null, annotations: {}}\nspec: {components: []}\n",
			3, "metadata.name", "must not be null"},
		{"duplicate key", "apiVersion: v\napiVersion: w\nkind: k\nmetadata: {name: a, annotations: {}}\nspec: {components: []}\n",
			2, "apiVersion", "duplicate key"},
		{"two documents", "apiVersion: v\n---\napiVersion: w\n", 2, "", "more than one YAML document"},
		{"empty", "  \n", 0, "", "empty document"},
		{"JSON unknown field", "{\n \"apiVersion\": \"v\",\n \"kind\": \"k\",\n \"metadata\": {\"name\": \"a\", \"annotations\": {}},\n \"spec\": {\"components\": []},\n \"extra\": 1\n}",
			6, "extra", "unknown field"},
		{"JSON duplicate key", "{\"kind\": \"k\",\n\"kind\": \"k\"}", 2, "", `duplicate key "kind"`},
		{"JSON syntax", "{\"kind\": }", 1, "", "JSON:"},
		{"JSON trailing data", "{\"kind\": \"k\"} {}", 1, "", "data after the top-level JSON value"},
		{"merge key", "base: &b {name: a, annotations: {}}\napiVersion: v\nkind: k\nmetadata:\n  <<: *b\nspec: {components: []}\n",
			1, "base", "unknown field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := wadm.ParseManifest([]byte(tc.doc))
			var me *wadm.ManifestError
			if !errors.As(err, &me) {
				t.Fatalf("error = %v, want a *ManifestError", err)
			}
			for _, fe := range me.Errors {
				if fe.Path == tc.path && strings.Contains(fe.Msg, tc.msg) && fe.Line == tc.line {
					return
				}
			}
			t.Fatalf("no error at line %d path %q with %q in %v", tc.line, tc.path, tc.msg, err)
		})
	}
}

func TestMarshalFillsRequiredContainers(t *testing.T) {
	t.Parallel()
	schema := oamSchema(t)
	zero := 0
	m := &wadm.Manifest{
		APIVersion: wadm.APIVersion,
		Kind:       wadm.Kind,
		Metadata:   wadm.Metadata{Name: "built"},
		Spec: wadm.Spec{
			Components: []wadm.Component{{
				Name: "c", Type: wadm.ComponentTypeComponent,
				Properties: wadm.Properties{Image: "file:///c.wasm", Config: []wadm.ConfigProperty{
					{Name: "external"}, {Name: "empty", Properties: map[string]string{}},
				}},
				Traits: []wadm.Trait{
					{Type: wadm.TraitSpreadScaler, Scaler: &wadm.ScalerProperties{Instances: 0, Spread: []wadm.Spread{{Name: "s", Weight: &zero}}}},
					{Type: wadm.TraitLink, Link: &wadm.LinkProperties{Namespace: "wasi", Package: "http", Target: wadm.LinkTarget{Name: "c"}}},
					{Type: "custom-thing", Custom: map[string]any{"a": []any{1, "b"}}},
				},
			}},
			Policies: []wadm.Policy{{Name: "p", Type: "t"}},
		},
	}
	j, err := wadm.MarshalJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"apiVersion":"core.oam.dev/v1beta1","kind":"Application","metadata":{"name":"built","annotations":{}},"spec":{"components":[{"name":"c","type":"component","properties":{"image":"file:///c.wasm","config":[{"name":"external"},{"name":"empty","properties":{}}]},"traits":[{"type":"spreadscaler","properties":{"instances":0,"spread":[{"name":"s","requirements":{},"weight":0}]}},{"type":"link","properties":{"namespace":"wasi","package":"http","interfaces":[],"target":{"name":"c"}}},{"type":"custom-thing","properties":{"a":[1,"b"]}}]}],"policies":[{"name":"p","type":"t","properties":{}}]}}`
	if string(j) != want {
		t.Errorf("JSON:\ngot  %s\nwant %s", j, want)
	}
	y, err := wadm.MarshalYAML(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range [][]byte{j, y} {
		if err := schema.Validate(doc); err != nil {
			t.Errorf("schema: %v\n%s", err, doc)
		}
		back, err := wadm.ParseManifest(doc)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, doc)
		}
		cfg := back.Spec.Components[0].Properties.Config
		if cfg[0].Properties != nil || cfg[1].Properties == nil {
			t.Errorf("nil vs empty config properties lost: %#v", cfg)
		}
	}
	var viaStd wadm.Manifest
	if err := json.Unmarshal(j, &viaStd); err != nil {
		t.Fatalf("json.Unmarshal into Manifest: %v", err)
	}
	if viaStd.Spec.Components[0].Traits[1].Link == nil {
		t.Error("json.Unmarshal did not go through the manifest decoder")
	}
	var viaYAML wadm.Manifest
	if err := yaml.Unmarshal(y, &viaYAML); err != nil {
		t.Fatalf("yaml.Unmarshal into Manifest: %v", err)
	}
	if !reflect.DeepEqual(viaYAML, viaStd) {
		t.Error("YAML and JSON decode differ")
	}
}

func TestVersionAnnotation(t *testing.T) {
	t.Parallel()
	var m wadm.Manifest
	if m.Version() != "" {
		t.Fatal("zero manifest has a version")
	}
	m.SetVersion("v2")
	if m.Version() != "v2" || m.Metadata.Annotations[wadm.AnnotationVersion] != "v2" {
		t.Fatalf("SetVersion: %v", m.Metadata.Annotations)
	}
}

// TestSpreadInstances checks the split against the cases of wadm's own
// compute_spread tests.
func TestSpreadInstances(t *testing.T) {
	t.Parallel()
	w := func(n int) *int { return &n }
	tests := []struct {
		name      string
		instances int
		weights   []*int
		want      []int
	}{
		{"one spread", 1, []*int{w(100)}, []int{1}},
		{"even", 10, []*int{w(100), w(100)}, []int{5, 5}},
		{"odd, clean weights", 7, []*int{w(30), w(40)}, []int{3, 4}},
		{"odd, equal weights", 7, []*int{w(100), w(100)}, []int{4, 3}},
		{"no weights", 10, []*int{nil, nil}, []int{5, 5}},
		{"replicas as weights", 3, []*int{w(2), w(1)}, []int{2, 1}},
		{"zero weights", 3, []*int{w(0), w(0)}, []int{0, 0}},
		{"no spread", 3, nil, nil},
	}
	for _, tt := range tests {
		p := wadm.ScalerProperties{Instances: tt.instances}
		for i, wt := range tt.weights {
			p.Spread = append(p.Spread, wadm.Spread{Name: fmt.Sprint(i), Weight: wt})
		}
		if got := p.SpreadInstances(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
