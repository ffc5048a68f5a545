package translate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
	"github.com/wasmcanvas/wasmcanvas/pkg/translate"
	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// cases lists every input: each upstream example plus our own cases.
func cases(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range []string{testref.Path(t, "oda", "examples"), "testdata/cases"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no cases in %s: %v", dir, err)
		}
		for _, f := range files {
			out[strings.TrimSuffix(filepath.Base(f), ".component.yaml")] = f
		}
	}
	return out
}

func testImplementations(t testing.TB) map[string]string {
	t.Helper()
	data, err := os.ReadFile("testdata/implementations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := translate.ParseImplementations("testdata/implementations.yaml", data, "")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func parseFile(t testing.TB, path string) *oda.Component {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := oda.Parse(filepath.Base(path), data)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return c
}

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// oamSchema compiles the upstream wadm manifest schema once.
func oamSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	p := testref.Path(t, "wasmcloud", "schema", "oam.schema.json")
	schemaOnce.Do(func() {
		c := jsonschema.NewCompiler()
		schema, schemaErr = c.Compile(p)
	})
	if schemaErr != nil {
		t.Fatalf("compile %s: %v", p, schemaErr)
	}
	return schema
}

func validateOAM(t testing.TB, data []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := oamSchema(t).Validate(v); err != nil {
		t.Fatalf("manifest rejected by upstream oam.schema.json: %v\n%s", err, data)
	}
}

// validateManifestOAM checks m's JSON against the upstream oam.schema.json.
func validateManifestOAM(t testing.TB, m *wadm.Manifest) {
	t.Helper()
	js, err := wadm.MarshalJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	validateOAM(t, js)
}

// TestGolden renders every upstream example (and our own cases) and
// compares with testdata/golden; the output must satisfy the upstream
// oam.schema.json. `go test ./pkg/translate -update` rewrites the files.
func TestGolden(t *testing.T) {
	impls := testImplementations(t)
	for name, path := range cases(t) {
		t.Run(name, func(t *testing.T) {
			c := parseFile(t, path)
			m, err := translate.Component(c, translate.Options{Implementations: impls})
			if err != nil {
				t.Fatalf("translate: %v", err)
			}
			js, err := wadm.MarshalJSON(m)
			if err != nil {
				t.Fatal(err)
			}
			validateOAM(t, js)
			got, err := wadm.MarshalYAML(m)
			if err != nil {
				t.Fatal(err)
			}
			if !checkGolden(t, name+".wadm.yaml", got) {
				return
			}
			back, err := wadm.ParseManifest(got)
			if err != nil {
				t.Fatalf("rendered manifest does not parse back: %v", err)
			}
			if back.Version() != m.Version() || len(back.Spec.Components) != len(m.Spec.Components) {
				t.Errorf("round trip changed the manifest: version %q -> %q", m.Version(), back.Version())
			}
		})
	}
}

// checkGolden compares got with testdata/golden/file, or rewrites the file
// under -update; it reports whether the comparison ran.
func checkGolden(t *testing.T, file string, got []byte) bool {
	t.Helper()
	golden := filepath.Join("testdata", "golden", file)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return false
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/translate -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the manifest (run with -update if the change is intended)\ngot:\n%s", golden, got)
	}
	return true
}

// TestMappingShape checks the mapping rules on the upstream v1 example
// rather than trusting the golden file alone.
func TestMappingShape(t *testing.T) {
	c := parseFile(t, testref.Path(t, "oda", "examples", "productcatalog-v1.component.yaml"))
	m, err := translate.Component(c, translate.Options{Implementations: testImplementations(t)})
	if err != nil {
		t.Fatal(err)
	}
	if m.Metadata.Name != "components-ctk-productcatalogmanagement" {
		t.Errorf("app name %q, want {namespace}-{name}", m.Metadata.Name)
	}
	routes := map[string]string{}
	var identityLinks, observeLinks int
	for _, l := range m.Links() {
		switch {
		case l.Source == translate.IngressName:
			routes[l.Link.Source.Config[0].Properties["path"]] = l.Link.Target.Name
		case l.Link.Package == "identity":
			identityLinks++
		case l.Link.Package == "observe":
			observeLinks++
		}
	}
	want := map[string]string{
		"/ctk-productcatalogmanagement/tmf-api/productCatalogManagement/v4": "ctk-prodcatapi",
		"/ctk-productcatalogmanagement/metrics":                             "ctk-productcatalogmanagement-sm",
		"/ctk-productcatalogmanagement/rolesAndPermissionsManagement/v5":    "ctk-permissionspecapi",
	}
	for path, impl := range want {
		if routes[path] != impl {
			t.Errorf("route %s -> %q, want %q (routes: %v)", path, routes[path], impl, routes)
		}
	}
	if identityLinks != 3 || observeLinks != 3 {
		t.Errorf("identity links %d, observe links %d; want one of each per implementation (3)", identityLinks, observeLinks)
	}
	var prov map[string]string
	if err := json.Unmarshal([]byte(m.Metadata.Annotations[translate.AnnotationProvenance]), &prov); err != nil {
		t.Fatal(err)
	}
	if prov["components/ctk-prodcatapi"] != "spec.coreFunction.exposedAPIs[0].implementation" {
		t.Errorf("provenance of ctk-prodcatapi = %q", prov["components/ctk-prodcatapi"])
	}
	for i, comp := range m.Spec.Components {
		if _, ok := prov["components/"+comp.Name]; !ok {
			t.Errorf("component %d (%s) has no provenance", i, comp.Name)
		}
	}
}

func TestDeterministicAndVersioned(t *testing.T) {
	impls := testImplementations(t)
	path := testref.Path(t, "oda", "examples", "productcatalog-enhanced-v1.component.yaml")
	var first []byte
	for i := 0; i < 20; i++ {
		m, err := translate.Component(parseFile(t, path), translate.Options{Implementations: impls})
		if err != nil {
			t.Fatal(err)
		}
		out, err := wadm.MarshalYAML(m)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = out
		} else if !bytes.Equal(first, out) {
			t.Fatalf("run %d gave different bytes", i)
		}
	}
	c := parseFile(t, path)
	m1, _ := translate.Component(c, translate.Options{Implementations: impls})
	c.Spec.CoreFunction.ExposedAPIs[0].Path += "-changed"
	m2, err := translate.Component(c, translate.Options{Implementations: impls})
	if err != nil {
		t.Fatal(err)
	}
	if m1.Version() == m2.Version() {
		t.Errorf("a spec change kept version %s", m1.Version())
	}
	c.Metadata.Generation = 7 // metadata only: same manifest, same version
	m3, _ := translate.Component(c, translate.Options{Implementations: impls})
	if m3.Version() != m2.Version() {
		t.Errorf("a generation bump changed the version %s -> %s", m2.Version(), m3.Version())
	}
}

func TestErrors(t *testing.T) {
	base := testref.Path(t, "oda", "examples", "productcatalog-v1.component.yaml")
	impls := testImplementations(t)
	tests := []struct {
		name   string
		mutate func(c *oda.Component, impls map[string]string)
		want   []string // substrings of the error, in order of appearance
	}{
		{
			name:   "missing implementation named with path and fix",
			mutate: func(_ *oda.Component, impls map[string]string) { delete(impls, "ctk-prodcatapi") },
			want: []string{`spec.coreFunction.exposedAPIs[0].implementation: no Wasm artefact for implementation "ctk-prodcatapi"`,
				`fix: add "ctk-prodcatapi": "<oci reference or file:///path/to.wasm>" to the wasmcanvas.io/implementations annotation or to the --implementations file`},
		},
		{
			name: "every missing implementation at once",
			mutate: func(_ *oda.Component, impls map[string]string) {
				for k := range impls {
					delete(impls, k)
				}
			},
			want: []string{`"ctk-prodcatapi"`, `"ctk-productcatalogmanagement-sm"`, `"ctk-permissionspecapi"`},
		},
		{
			name: "bad annotation JSON",
			mutate: func(c *oda.Component, _ map[string]string) {
				c.Metadata.Annotations = map[string]string{oda.AnnotationImplementations: "{not json"}
			},
			want: []string{`metadata.annotations["wasmcanvas.io/implementations"]: must be a JSON object`},
		},
		{
			name: "relative file path in options",
			mutate: func(_ *oda.Component, impls map[string]string) {
				impls["ctk-prodcatapi"] = "file://build/x.wasm"
			},
			want: []string{`implementations.ctk-prodcatapi: "file://build/x.wasm": relative file:// path`},
		},
		{
			name: "bad instances and spread together with sites",
			mutate: func(c *oda.Component, _ map[string]string) {
				c.Metadata.Annotations = map[string]string{translate.AnnotationInstances: "many", translate.AnnotationSites: "a", translate.AnnotationSpread: "[]"}
			},
			want: []string{`metadata.annotations["wasmcanvas.io/instances"]: must be an integer`, `set together with wasmcanvas.io/spread`},
		},
		{
			name: "spread entry without requirements",
			mutate: func(c *oda.Component, _ map[string]string) {
				c.Metadata.Annotations = map[string]string{translate.AnnotationSpread: `[{"name":"x"}]`}
			},
			want: []string{`metadata.annotations["wasmcanvas.io/spread"][0]: needs a name and at least one requirement`},
		},
		{
			name: "placement together with an older placement annotation",
			mutate: func(c *oda.Component, _ map[string]string) {
				c.Metadata.Annotations = map[string]string{oda.AnnotationPlacement: `{"sites": {"a": 1}}`, translate.AnnotationSites: "a"}
			},
			want: []string{`metadata.annotations["wasmcanvas.io/sites"]: set together with wasmcanvas.io/placement; fix: keep wasmcanvas.io/placement and drop wasmcanvas.io/sites`},
		},
		{
			name: "malformed placement",
			mutate: func(c *oda.Component, _ map[string]string) {
				c.Metadata.Annotations = map[string]string{oda.AnnotationPlacement: `{"sites": {"a": -2}}`}
			},
			want: []string{`metadata.annotations["wasmcanvas.io/placement"]: sites["a"]: replicas must be from 1 to 100000, got -2`},
		},
		{
			name: "unsupported scheme",
			mutate: func(_ *oda.Component, impls map[string]string) {
				impls["ctk-prodcatapi"] = "https://example.org/x.wasm"
			},
			want: []string{`unsupported scheme`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := parseFile(t, base)
			m := map[string]string{}
			for k, v := range impls {
				m[k] = v
			}
			tc.mutate(c, m)
			_, err := translate.Component(c, translate.Options{Implementations: m})
			if err == nil {
				t.Fatal("no error")
			}
			var list oda.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, want oda.ErrorList", err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestArtefact(t *testing.T) {
	tests := []struct{ in, base, want, err string }{
		{in: "ghcr.io/wasmcloud/http-server:0.23.0", want: "ghcr.io/wasmcloud/http-server:0.23.0"},
		{in: "oci://ghcr.io/a/b:1", want: "ghcr.io/a/b:1"},
		{in: "localhost:5000/a/b@sha256:" + strings.Repeat("a", 64), want: "localhost:5000/a/b@sha256:" + strings.Repeat("a", 64)},
		{in: "file:///opt/x.wasm", want: "file:///opt/x.wasm"},
		{in: "file://build/x.wasm", base: "/src/app", want: "file:///src/app/build/x.wasm"},
		{in: "file://../x.wasm", base: "/src/app", want: "file:///src/x.wasm"},
		{in: "file://", err: "needs a path"},
		{in: "", err: "empty"},
		{in: "Not A Ref", err: "not an OCI reference"},
		{in: "s3://bucket/x", err: "unsupported scheme"},
	}
	for _, tc := range tests {
		got, err := translate.Artefact(tc.in, tc.base)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Artefact(%q) error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Artefact(%q, %q) = %q, %v; want %q", tc.in, tc.base, got, err, tc.want)
		}
	}
}

func TestParseImplementations(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"not a map", "- a\n- b\n", "impls.yaml:1: must be a map"},
		{"non-string value", "a:\n  b: c\n", "impls.yaml:2: a: artefact must be a string"},
		{"duplicate", "a: x.io/a/b:1\na: x.io/a/b:2\n", "impls.yaml:2: a: duplicate implementation"},
		{"two documents", "a: x.io/a/b:1\n---\nb: x.io/a/b:2\n", "impls.yaml:2: more than one YAML document"},
		{"bad ref", "a: 'http://x'\n", `impls.yaml:1: a: "http://x": unsupported scheme`},
		{"malformed", "a: [\n", "impls.yaml: not valid YAML"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := translate.ParseImplementations("impls.yaml", []byte(tc.in), "/base")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	m, err := translate.ParseImplementations("impls.yaml", []byte("a: file://w/a.wasm\nb: ghcr.io/x/y:1\n"), "/base")
	if err != nil || m["a"] != "file:///base/w/a.wasm" || m["b"] != "ghcr.io/x/y:1" {
		t.Fatalf("got %v, %v", m, err)
	}
}

// FuzzTranslate feeds arbitrary Component files through Parse and
// Component: nothing may panic, and every manifest produced must satisfy
// the upstream schema and be deterministic.
func FuzzTranslate(f *testing.F) {
	for _, path := range cases(f) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	impls := testImplementations(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := oda.Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		m, err := translate.Component(c, translate.Options{Implementations: impls})
		if err != nil {
			var list oda.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		js, err := wadm.MarshalJSON(m)
		if err != nil {
			t.Fatal(err)
		}
		validateOAM(t, js)
		m2, err := translate.Component(c, translate.Options{Implementations: impls})
		if err != nil || m2.Version() != m.Version() {
			t.Fatalf("second translation differs: %v", err)
		}
	})
}

// BenchmarkTranslate reports translate throughput on the richest upstream
// example (goal > 20,000 components/s on 2 cores) and allocations.
func BenchmarkTranslate(b *testing.B) {
	c := parseFile(b, testref.Path(b, "oda", "examples", "productcatalog-enhanced-v1.component.yaml"))
	opts := translate.Options{Implementations: testImplementations(b)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := translate.Component(c, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "components/s")
}

func TestIngressRoutes(t *testing.T) {
	c := parseFile(t, testref.Path(t, "oda", "examples", "productcatalog-enhanced-v1.component.yaml"))
	m, err := translate.Component(c, translate.Options{Implementations: testImplementations(t)})
	if err != nil {
		t.Fatal(err)
	}
	routes := translate.IngressRoutes(m)
	var exposed []string
	for _, fn := range [][]oda.ExposedAPI{c.Spec.CoreFunction.ExposedAPIs, c.Spec.ManagementFunction.ExposedAPIs, c.Spec.SecurityFunction.ExposedAPIs} {
		for _, a := range fn {
			exposed = append(exposed, a.Name+" "+a.EffectivePath()+" "+a.EffectiveImplementation()+" "+a.EffectiveAPIType()+" "+c.Key().Display())
		}
	}
	var got []string
	metrics := 0
	for _, r := range routes {
		got = append(got, r.API+" "+r.Path+" "+r.Target+" "+r.APIType+" "+r.Namespace+"/"+r.Component)
		if r.Prometheus() {
			metrics++
			if r.API != "metrics" {
				t.Errorf("route %s reads back as a prometheus API", r.API)
			}
		}
	}
	if metrics != 1 {
		t.Errorf("%d prometheus routes, want the one metrics API", metrics)
	}
	if strings.Join(got, "\n") != strings.Join(exposed, "\n") {
		t.Errorf("routes read back:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(exposed, "\n"))
	}
}

// TestAnnotationResolvedByCaller: a relative file:// path in the annotation
// is fine once the caller resolved it into Options (as the CLI does), and
// an error naming the annotation otherwise.
func TestAnnotationResolvedByCaller(t *testing.T) {
	c := parseFile(t, filepath.Join("testdata", "cases", "events-placement.component.yaml"))
	c.Metadata.Annotations[oda.AnnotationImplementations] = `{"orders-api": "file://build/orders.wasm"}`
	_, err := translate.Component(c, translate.Options{})
	if err == nil || !strings.Contains(err.Error(), `metadata.annotations["wasmcanvas.io/implementations"].orders-api: "file://build/orders.wasm": relative file:// path`) {
		t.Fatalf("unresolved relative path: %v", err)
	}
	resolved, err := translate.AnnotationImplementations(c, "/srv/app")
	if err != nil {
		t.Fatal(err)
	}
	m, err := translate.Component(c, translate.Options{Implementations: resolved})
	if err != nil {
		t.Fatal(err)
	}
	if img := m.Spec.Components[0].Properties.Image; img != "file:///srv/app/build/orders.wasm" {
		t.Errorf("image %q", img)
	}
}

func TestKeyValueBuckets(t *testing.T) {
	c := parseFile(t, testref.Path(t, "oda", "examples", "productcatalog-v1.component.yaml"))
	m, err := translate.Component(c, translate.Options{Implementations: testImplementations(t)})
	if err != nil {
		t.Fatal(err)
	}
	got := translate.KeyValueBuckets(m)
	want := map[string]string{
		"ctk-prodcatapi":                  "kv_components_ctk_productcatalogmanagement_ctk_prodcatapi",
		"ctk-productcatalogmanagement-sm": "kv_components_ctk_productcatalogmanagement_ctk_productcatalogmanagement_sm",
		"ctk-permissionspecapi":           "kv_components_ctk_productcatalogmanagement_ctk_permissionspecapi",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("buckets %v, want %v", got, want)
	}
}

func TestOutgoingHTTPCallers(t *testing.T) {
	for file, want := range map[string]string{
		// Dependent APIs: every implementation may call out.
		"productcatalog-dependent-api-v1.component.yaml": "map[ctk-permissionspecapi:true ctk-prodcatapi:true ctk-productcatalogmanagement-sm:true]",
		// None: nobody gets the outgoing-handler link.
		"productcatalog-static-roles-v1.component.yaml": "map[]",
	} {
		c := parseFile(t, testref.Path(t, "oda", "examples", file))
		m, err := translate.Component(c, translate.Options{Implementations: testImplementations(t)})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(translate.OutgoingHTTPCallers(m)); got != want {
			t.Errorf("%s: callers %s, want %s", file, got, want)
		}
	}
}

func TestObservedComponents(t *testing.T) {
	c := parseFile(t, testref.Path(t, "oda", "examples", "productcatalog-v1.component.yaml"))
	for _, tc := range []struct {
		name string
		mf   *oda.ManagementFunction
		want string
	}{
		// A managementFunction: every implementation is observed.
		{"managementFunction", c.Spec.ManagementFunction, "map[ctk-permissionspecapi:true ctk-prodcatapi:true ctk-productcatalogmanagement-sm:true]"},
		{"none", nil, "map[]"},
	} {
		c.Spec.ManagementFunction = tc.mf
		m, err := translate.Component(c, translate.Options{Implementations: testImplementations(t)})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(translate.ObservedComponents(m)); got != tc.want {
			t.Errorf("%s: observed %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestSecuredComponents: a securityFunction links every implementation
// to the system application's canvas-bridge for wasmcanvas:identity/tokens,
// naming the ODA Component as the bridge reads it; none, no link.
func TestSecuredComponents(t *testing.T) {
	c := parseFile(t, testref.Path(t, "oda", "examples", "productcatalog-v1.component.yaml"))
	for _, tc := range []struct {
		name string
		sf   *oda.SecurityFunction
		want string
	}{
		{"securityFunction", c.Spec.SecurityFunction, "map[ctk-permissionspecapi:true ctk-prodcatapi:true ctk-productcatalogmanagement-sm:true]"},
		{"none", nil, "map[]"},
	} {
		c.Spec.SecurityFunction = tc.sf
		m, err := translate.Component(c, translate.Options{Implementations: testImplementations(t)})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(translate.SecuredComponents(m)); got != tc.want {
			t.Errorf("%s: secured %s, want %s", tc.name, got, tc.want)
		}
		for _, l := range m.Links() {
			if l.Link.Package != "identity" {
				continue
			}
			cfg := l.Link.Target.Config[0].Properties
			if l.Link.Target.Name != translate.BridgeName || l.Link.Interfaces[0] != "tokens" ||
				cfg[translate.IdentityConfigNamespace] != c.Metadata.Namespace || cfg[translate.IdentityConfigComponent] != c.Metadata.Name {
				t.Errorf("identity link of %s: %+v, want tokens on %s naming %s/%s", l.Source, l.Link, translate.BridgeName, c.Metadata.Namespace, c.Metadata.Name)
			}
		}
	}
}

// BenchmarkTranslateParallel is the throughput on every core (translate
// is pure, and canvasd's reconcile workers call it concurrently): the
// issue's goal is > 20,000 components/s on 2 cores.
func BenchmarkTranslateParallel(b *testing.B) {
	c := parseFile(b, testref.Path(b, "oda", "examples", "productcatalog-enhanced-v1.component.yaml"))
	opts := translate.Options{Implementations: testImplementations(b)}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := translate.Component(c, opts); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "components/s")
}

// TestObserveLink: every implementation's link to canvas-bridge names the
// interfaces of wasmcanvas:observe@0.2.0 that its world `observed`
// imports, read from wit/observe.wit.
func TestObserveLink(t *testing.T) {
	wit, err := os.ReadFile(filepath.Join("..", "..", "wit", "observe.wit"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(wit)
	if !strings.HasPrefix(src, "package wasmcanvas:observe@0.2.0;") {
		t.Fatalf("wit/observe.wit is not wasmcanvas:observe@0.2.0: %.60q", src)
	}
	_, world, ok := strings.Cut(src, "world observed {")
	world, _, _ = strings.Cut(world, "}")
	var want []string
	for _, f := range strings.Fields(world) {
		if i := strings.TrimSuffix(f, ";"); ok && f != "import" && i != f {
			want = append(want, i)
		}
	}
	if len(want) == 0 {
		t.Fatal("wit/observe.wit has no world observed with imports")
	}
	c := parseFile(t, testref.Path(t, "oda", "examples", "productcatalog-v1.component.yaml"))
	m, err := translate.Component(c, translate.Options{Implementations: testImplementations(t)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range m.Links() {
		if l.Link.Namespace != "wasmcanvas" || l.Link.Package != "observe" {
			continue
		}
		n++
		if got := strings.Join(l.Link.Interfaces, " "); got != strings.Join(want, " ") || l.Link.Target.Name != translate.BridgeName {
			t.Errorf("observe link of %s: interfaces %q to %s, want %q to %s", l.Source, got, l.Link.Target.Name, strings.Join(want, " "), translate.BridgeName)
		}
	}
	if n == 0 {
		t.Error("no observe link")
	}
}

// TestPlacementTwoSites: a Component placed on two sites gets, for its
// implementation, a spreadscaler whose spreads select the sites' hosts by
// their site label and that wadm splits into exactly the replicas asked
// for; the manifest satisfies the upstream oam.schema.json.
func TestPlacementTwoSites(t *testing.T) {
	c := parseFile(t, filepath.Join("testdata", "cases", "two-sites.component.yaml"))
	m, err := translate.Component(c, translate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	validateManifestOAM(t, m)
	comp, ok := m.ComponentByName("catalog-api")
	if !ok {
		t.Fatal("no catalog-api component")
	}
	sc := comp.Traits[0]
	if sc.Type != wadm.TraitSpreadScaler || sc.Scaler == nil {
		t.Fatalf("first trait %+v, want the spreadscaler", sc)
	}
	type site struct {
		name, label string
		replicas    int
	}
	var got []site
	for i, n := range sc.Scaler.SpreadInstances() {
		s := sc.Scaler.Spread[i]
		got = append(got, site{s.Name, s.Requirements[translate.SiteLabel], n})
	}
	want := []site{{"north-1", "north-1", 3}, {"south-1", "south-1", 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) || sc.Scaler.Instances != 4 {
		t.Errorf("spread %+v of %d instances, want %+v of 4", got, sc.Scaler.Instances, want)
	}
	var prov map[string]string
	if err := json.Unmarshal([]byte(m.Metadata.Annotations[translate.AnnotationProvenance]), &prov); err != nil {
		t.Fatal(err)
	}
	if p := prov["components/catalog-api/traits/0"]; p != `metadata.annotations["wasmcanvas.io/placement"]` {
		t.Errorf("provenance of the spreadscaler %q", p)
	}
}

// replicatedComponent is a Component of n implementations (one exposed API
// each) with deps dependent APIs and roles component roles: every
// implementation gets a copy of the dependent APIs' and the roles' config.
func replicatedComponent(t *testing.T, n, deps, roles int) (*oda.Component, map[string]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: oda.tmforum.org/v1\nkind: Component\nmetadata:\n  name: wide\nspec:\n  componentMetadata:\n    id: T\n    name: wide\n    version: 0.0.1\n  coreFunction:\n    exposedAPIs:\n")
	impls := map[string]string{}
	for i := range n {
		fmt.Fprintf(&b, "    - name: api%d\n      specification:\n      - url: https://example.test/%d.json\n      implementation: impl%d\n      apiType: openapi\n      path: /wide/api%d\n      port: 8080\n", i, i, i, i)
		impls[fmt.Sprintf("impl%d", i)] = "file:///wide.wasm"
	}
	b.WriteString("    dependentAPIs:\n")
	for i := range deps {
		fmt.Fprintf(&b, "    - name: dependency-%d\n      apiType: openapi\n      specification:\n      - url: https://example.test/dependency-%d.json\n", i, i)
	}
	if roles > 0 {
		b.WriteString("  securityFunction:\n    canvasSystemRole: Admin\n    componentRole:\n")
		for i := range roles {
			fmt.Fprintf(&b, "    - name: role-number-%d\n", i)
		}
	}
	c, err := oda.Parse("wide.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return c, impls
}

// Config every implementation carries a copy of is bounded in all: 300
// implementations × 300 dependent APIs (or 300 × 3,000 roles) is refused
// at the list that makes it, before the manifest is built (that grew as
// their product: 1.4 GB and 18 s from a Component of 1.3 MB); 30 × 30
// translates.
func TestReplicatedConfigBounded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n, deps, roles int
		path           string
	}{
		{300, 300, 0, "spec.coreFunction.dependentAPIs"},
		{300, 0, 3000, "spec.securityFunction.componentRole"},
		{30, 30, 30, ""},
	} {
		c, impls := replicatedComponent(t, tc.n, tc.deps, tc.roles)
		m, err := translate.Component(c, translate.Options{Implementations: impls})
		if tc.path == "" {
			if err != nil {
				t.Fatalf("%d × %d: %v", tc.n, tc.deps, err)
			}
			if js, _ := wadm.MarshalJSON(m); len(js) > translate.MaxReplicatedConfigBytes {
				t.Fatalf("%d × %d: a manifest of %d bytes", tc.n, tc.deps, len(js))
			}
			continue
		}
		var list oda.ErrorList
		if !errors.As(err, &list) || len(list) == 0 || list[0].Path != tc.path || !strings.Contains(list[0].Msg, "would carry") || list[0].Fix == "" {
			t.Fatalf("%d implementations × %d dependent APIs, %d roles: %v, want an error at %s", tc.n, tc.deps, tc.roles, err, tc.path)
		}
	}
}
