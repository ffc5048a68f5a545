package oda

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmcanvas/wasmcanvas/internal/testref"
)

// example is one upstream example Component file.
type example struct {
	name string
	data []byte
}

func upstreamExamples(t testing.TB) []example {
	t.Helper()
	dir := testref.Path(t, "oda", "examples")
	files, err := filepath.Glob(filepath.Join(dir, "*.component.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no upstream examples in %s: %v", dir, err)
	}
	var out []example
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, example{filepath.Base(f), b})
	}
	return out
}

func mustParse(t testing.TB, name string, data []byte) *Component {
	t.Helper()
	c, err := Parse(name, data)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return c
}

func TestParseUpstreamExamples(t *testing.T) {
	t.Parallel()
	for _, ex := range upstreamExamples(t) {
		t.Run(ex.name, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, ex.name, ex.data)
			if c.APIVersion != APIVersionV1 || c.Kind != Kind {
				t.Errorf("got %s %s, want %s %s", c.APIVersion, c.Kind, APIVersionV1, Kind)
			}
			if c.Metadata.Namespace != DefaultNamespace {
				t.Errorf("namespace = %q, want the default %q", c.Metadata.Namespace, DefaultNamespace)
			}
			if want := DefaultNamespace + "." + c.Metadata.Name; c.Key().String() != want {
				t.Errorf("Key() = %q, want %q", c.Key(), want)
			}
			if c.Spec.ComponentMetadata == nil || c.Spec.ComponentMetadata.ID != "TMFC001" {
				t.Errorf("componentMetadata = %+v, want id TMFC001", c.Spec.ComponentMetadata)
			}
			core := c.Spec.CoreFunction.ExposedAPIs[0]
			if core.Name != "productcatalogmanagement" || core.EffectivePort() != 8080 ||
				!strings.HasSuffix(core.EffectivePath(), "/tmf-api/productCatalogManagement/v4") ||
				!strings.Contains(core.Specification[0].URL, "TMF620") {
				t.Errorf("core API = %+v", core)
			}
			if got := c.Spec.SecurityFunction.CanvasSystemRole; got != "Admin" && len(c.Spec.SecurityFunction.ExposedAPIs) > 0 {
				t.Errorf("canvasSystemRole = %q, want Admin", got)
			}
			if errs := Validate(c); len(errs) > 0 {
				t.Errorf("Validate after Parse: %v", errs)
			}
		})
	}
}

// TestParseV1beta3Example checks the field moves of the v1beta3 -> v1
// conversion on the upstream example.
func TestParseV1beta3Example(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(testref.Path(t, "oda", "examples", "productcatalog-v1beta3.component.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, "v1beta3.yaml", b)
	cm := c.Spec.ComponentMetadata
	if cm.Name != "productcatalogmanagement" || cm.PublicationDate != "2024-09-17T00:00:00.000Z" ||
		cm.FunctionalBlock != "CoreCommerce" || len(cm.Maintainers) != 1 || cm.Owners[0].Email != "lester.thomas@vodafone.com" {
		t.Errorf("componentMetadata = %+v", cm)
	}
	sf := c.Spec.SecurityFunction
	if sf.CanvasSystemRole != "Admin" {
		t.Errorf("controllerRole did not become canvasSystemRole: %+v", sf)
	}
	if got := sf.ExposedAPIs[0].Specification; len(got) != 1 || !strings.Contains(got[0].URL, "TMF669") {
		t.Errorf("specification strings did not become {url}: %+v", got)
	}
	if c.Spec.CoreFunction.DependentAPIs == nil || len(c.Spec.CoreFunction.DependentAPIs) != 0 {
		t.Errorf("dependentAPIs: [] must stay an empty list, got %#v", c.Spec.CoreFunction.DependentAPIs)
	}
}

// TestSchemaAcceptsExamples validates each example against the JSON Schema
// of its own version, and checks the schemas tell versions apart.
func TestSchemaAcceptsExamples(t *testing.T) {
	t.Parallel()
	for _, ex := range upstreamExamples(t) {
		tr, errs := readTree(ex.name, ex.data)
		if tr == nil {
			t.Fatalf("%s: %v", ex.name, errs)
		}
		root := tr.root.(map[string]any)
		v := root["apiVersion"].(string)
		if issues := checkSchema(v, root); len(issues) > 0 {
			t.Errorf("%s: schema %s rejects it: %+v", ex.name, v, issues)
		}
		other := APIVersionV1beta3
		if v == APIVersionV1beta3 {
			other = APIVersionV1
		}
		root2 := asMap(deepCopyTree(root))
		root2["apiVersion"] = other
		if issues := checkSchema(other, root2); len(issues) == 0 {
			t.Errorf("%s: schema %s accepts a %s document", ex.name, other, v)
		}
	}
}

// base is a small valid v1 Component; its line numbers are relied on below.
const base = `apiVersion: oda.tmforum.org/v1
kind: Component
metadata:
  name: demo
spec:
  coreFunction:
    exposedAPIs:
    - name: catalog
      specification:
      - url: https://example.org/tmf620.json
      apiType: openapi
      implementation: demo-api
      path: /demo/catalog/v4
      port: 8080
  securityFunction:
    canvasSystemRole: Admin
`

// edit replaces line n (1-based) of base with repl (which may hold several
// lines, or none to delete it).
func edit(n int, repl string) string {
	lines := strings.Split(base, "\n")
	var out []string
	out = append(out, lines[:n-1]...)
	if repl != "" {
		out = append(out, strings.Split(repl, "\n")...)
	}
	out = append(out, lines[n:]...)
	return strings.Join(out, "\n")
}

func TestParseBase(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "base.yaml", []byte(base))
	if c.Key().String() != "components.demo" {
		t.Errorf("Key() = %q", c.Key())
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	huge := append([]byte(base), bytes.Repeat([]byte("#"), 5<<20)...)
	tests := []struct {
		name string
		in   string
		want []string // each a full FieldError.Error(), in order
	}{
		{"malformed YAML (scanner)", edit(13, "      path: /demo: x"),
			[]string{"f.yaml:13: invalid YAML: mapping values are not allowed in this context; fix: fix the YAML syntax (indentation, quoting, ':' after each key)"}},
		{"malformed YAML", edit(13, "      path: [/demo"),
			[]string{"f.yaml:13: invalid YAML: did not find expected ',' or ']' (in the collection that starts here); fix: fix the YAML syntax (indentation, quoting, ':' after each key)"}},
		{"wrong kind", edit(2, "kind: Deployment"),
			[]string{`f.yaml:2: kind: must be "Component", got "Deployment"; fix: this is not an ODA Component; wasmcanvas reads kind: Component of oda.tmforum.org`}},
		{"wrong apiVersion", edit(1, "apiVersion: apps/v1"),
			[]string{`f.yaml:1: apiVersion: unsupported apiVersion "apps/v1"; accepted: oda.tmforum.org/v1, oda.tmforum.org/v1beta4, oda.tmforum.org/v1beta3; fix: set apiVersion: oda.tmforum.org/v1 and the v1 fields`}},
		{"old apiVersion", edit(1, "apiVersion: oda.tmforum.org/v1beta2"),
			[]string{`f.yaml:1: apiVersion: unsupported apiVersion "oda.tmforum.org/v1beta2"; accepted: oda.tmforum.org/v1, oda.tmforum.org/v1beta4, oda.tmforum.org/v1beta3; fix: convert it to oda.tmforum.org/v1beta3 or later first (the reference canvas's conversion webhook does), then read it here`}},
		{"missing apiVersion", edit(1, ""),
			[]string{`f.yaml:1: apiVersion: required field is missing; accepted: oda.tmforum.org/v1, oda.tmforum.org/v1beta4, oda.tmforum.org/v1beta3; fix: add apiVersion: oda.tmforum.org/v1`}},
		{"unknown field", edit(14, "      port: 8080\n      hostname: x"),
			[]string{`f.yaml:15: spec.coreFunction.exposedAPIs[0].hostname: unknown field; fix: remove it; fields accepted here: apiSDO, apiType, developerUI, gatewayConfiguration, id, implementation, name, path, port, required, resources, specification`}},
		{"misspelt field", edit(11, "      apitype: openapi"),
			[]string{
				`f.yaml:8: spec.coreFunction.exposedAPIs[0]: apiType, implementation, path, and port must be defined either at the API root OR in specification[0].; fix: set them at the API root or in specification[0]`,
				`f.yaml:11: spec.coreFunction.exposedAPIs[0].apitype: unknown field; fix: use apiType`,
			}},
		{"old field name in v1", edit(16, "    controllerRole: Admin"),
			[]string{`f.yaml:16: spec.securityFunction.controllerRole: unknown field; fix: use canvasSystemRole (controllerRole was renamed in v1beta4)`}},
		{"wrong type", edit(14, "      port: eighty"),
			[]string{`f.yaml:14: spec.coreFunction.exposedAPIs[0].port: must be an integer, got "eighty"`}},
		{"wrong enum", edit(11, "      apiType: soap"),
			[]string{`f.yaml:11: spec.coreFunction.exposedAPIs[0].apiType: must be one of "openapi", "mcp", got "soap"`}},
		{"duplicate key", edit(14, "      port: 8080\n      port: 8081"),
			[]string{`f.yaml:15: spec.coreFunction.exposedAPIs[0].port: duplicate key "port" (first set at line 14); fix: remove one of the two`}},
		{"managementFunction list", base + "  managementFunction: []\n",
			[]string{`f.yaml:17: spec.managementFunction: must be an object, got array`}},
		{"CEL rule", edit(14, ""),
			[]string{`f.yaml:8: spec.coreFunction.exposedAPIs[0]: apiType, implementation, path, and port must be defined either at the API root OR in specification[0].; fix: set them at the API root or in specification[0]`}},
		{"required specification", strings.Replace(base, "      specification:\n      - url: https://example.org/tmf620.json\n", "", 1),
			[]string{`f.yaml:8: spec.coreFunction.exposedAPIs[0].specification: required field is missing; fix: add specification`}},
		{"duplicate API name", edit(14, "      port: 8080\n    - name: catalog\n      specification: [{url: u}]\n      apiType: openapi\n      implementation: demo-api\n      path: /demo/other\n      port: 8080"),
			[]string{`f.yaml:15: spec.coreFunction.exposedAPIs[1].name: duplicate exposed API name "catalog" in coreFunction (first at spec.coreFunction.exposedAPIs[0].name); fix: give each exposed API its own name; names become route names`}},
		{"duplicate API name across functions", edit(16, "    canvasSystemRole: Admin\n    exposedAPIs:\n    - name: catalog\n      specification: [{url: u}]\n      apiType: openapi\n      implementation: demo-api\n      path: /demo/roles\n      port: 8080"),
			[]string{`f.yaml:18: spec.securityFunction.exposedAPIs[0].name: duplicate exposed API name "catalog" across coreFunction and securityFunction (first at spec.coreFunction.exposedAPIs[0].name); fix: give each exposed API its own name; names become route names`}},
		{"duplicate path", edit(14, "      port: 8080\n    - name: other\n      specification: [{url: u}]\n      apiType: openapi\n      implementation: demo-api\n      path: /demo/catalog/v4/\n      port: 8080"),
			[]string{`f.yaml:19: spec.coreFunction.exposedAPIs[1].path: path "/demo/catalog/v4/" is already used by spec.coreFunction.exposedAPIs[0].path; fix: give each exposed API its own path`}},
		{"path without slash", edit(13, "      path: demo/catalog/v4"),
			[]string{`f.yaml:13: spec.coreFunction.exposedAPIs[0].path: "demo/catalog/v4" must start with "/"; fix: write "/demo/catalog/v4"`}},
		{"port out of range", edit(14, "      port: 70000"),
			[]string{`f.yaml:14: spec.coreFunction.exposedAPIs[0].port: port 70000 is out of range 1..65535; fix: use the port the implementation listens on, e.g. 8080`}},
		{"duplicate dependent API", edit(14, "      port: 8080\n    dependentAPIs:\n    - {name: up, apiType: openapi, specification: [{url: u}]}\n    - {name: up, apiType: openapi, specification: [{url: v}]}"),
			[]string{`f.yaml:17: spec.coreFunction.dependentAPIs[1].name: duplicate dependent API name "up" (first at spec.coreFunction.dependentAPIs[0].name); fix: give each dependent API its own name; the component looks its URL up by name`}},
		{"missing canvasSystemRole", edit(16, "    exposedAPIs:\n    - {name: roles, specification: [{url: u}], apiType: openapi, implementation: r, path: /demo/roles, port: 8080}"),
			[]string{`f.yaml:15: spec.securityFunction.canvasSystemRole: required when securityFunction has exposed APIs: the canvas is granted this role on the component's role API (partyrole or userrolesandpermissions); fix: set canvasSystemRole, e.g. canvasSystemRole: Admin`}},
		{"duplicate role", edit(16, "    canvasSystemRole: Admin\n    componentRole:\n    - name: admin\n    - name: admin"),
			[]string{`f.yaml:19: spec.securityFunction.componentRole[1].name: duplicate role "admin" (first at componentRole[0]); fix: declare each role once`}},
		{"bad name", edit(4, "  name: Demo_Component"),
			[]string{`f.yaml:4: metadata.name: "Demo_Component" is not a valid name (DNS-1123 label); fix: use at most 63 lower-case letters, digits or '-', starting and ending with a letter or digit`}},
		{"bad implementations annotation", edit(4, "  name: demo\n  annotations:\n    wasmcanvas.io/implementations: '{\"demo-api\": \"\"}'"),
			[]string{`f.yaml:6: metadata.annotations["wasmcanvas.io/implementations"]: value of "demo-api" is empty; fix: give an oci:// reference or a file:// path`}},
		{"several errors at once", edit(14, "      port: eighty\n      hostname: x") + "  managementFunction: []\n",
			[]string{
				`f.yaml:14: spec.coreFunction.exposedAPIs[0].port: must be an integer, got "eighty"`,
				`f.yaml:15: spec.coreFunction.exposedAPIs[0].hostname: unknown field; fix: remove it; fields accepted here: apiSDO, apiType, developerUI, gatewayConfiguration, id, implementation, name, path, port, required, resources, specification`,
				`f.yaml:18: spec.managementFunction: must be an object, got array`,
			}},
		{"5 MiB file", string(huge),
			[]string{"f.yaml: file is 5243223 bytes, more than the 4194304 (4 MiB) a Component file may have; fix: pass the Component manifest itself, not an archive or a log"}},
		{"binary garbage", "apiVersion: oda.tmforum.org/v1\n\x7fELF\x02\x01\x01\x00\x00",
			[]string{"f.yaml:2: not a text file: byte 0x00 at offset 38 is not UTF-8 text; fix: pass a YAML or JSON Component manifest"}},
		{"invalid UTF-8", "kind: Component\nname: \xff\xfe\n",
			[]string{"f.yaml:2: not a text file: byte 0xff at offset 22 is not UTF-8 text; fix: pass a YAML or JSON Component manifest"}},
		{"multi-document", base + "---\n" + base,
			[]string{"f.yaml:18: file holds 2 YAML documents; a Component file holds exactly one; fix: split the file at each '---', one Component per file"}},
		{"empty file", "",
			[]string{"f.yaml:1: file holds no document; fix: write one ODA Component (apiVersion: oda.tmforum.org/v1, kind: Component, metadata, spec)"}},
		{"comments only", "# nothing here\n---\n",
			[]string{"f.yaml:1: file holds no document; fix: write one ODA Component (apiVersion: oda.tmforum.org/v1, kind: Component, metadata, spec)"}},
		{"not a mapping", "- a\n- b\n",
			[]string{"f.yaml:1: document must be a mapping (an ODA Component), got array; fix: start the file with apiVersion: oda.tmforum.org/v1 and kind: Component"}},
		{"infinite number", edit(14, "      port: .inf"),
			[]string{`f.yaml:14: spec.coreFunction.exposedAPIs[0].port: number ".inf" is not a finite JSON number; fix: write a finite decimal number`}},
		{"JSON with error", `{"apiVersion": "oda.tmforum.org/v1", "kind": "Component", "metadata": {"name": "demo"},
"spec": {"coreFunction": {"exposedAPIs": [{"name": "a", "specification": [{"url": "u"}],
  "apiType": "openapi", "implementation": "i", "path": "/a", "port": "8080"}]}}}`,
			[]string{`f.yaml:3: spec.coreFunction.exposedAPIs[0].port: must be an integer, got "8080"; fix: write it without quotes: 8080`}},
		{"date without time", edit(5, "spec:\n  componentMetadata:\n    publicationDate: 2024-09-17"),
			[]string{`f.yaml:7: spec.componentMetadata.publicationDate: must be a date-time, got "2024-09-17"; fix: write an RFC 3339 date and time, e.g. 2024-09-17T00:00:00Z`}},
		{"unquoted label", edit(4, "  name: demo\n  labels:\n    tier: 3"),
			[]string{`f.yaml:6: metadata.labels.tier: must be a string, got 3; fix: quote it: "3"`}},
		{"v1beta3 error names v1beta3 field", `apiVersion: oda.tmforum.org/v1beta3
kind: Component
metadata:
  name: demo
spec:
  securityFunction:
    exposedAPIs:
    - {name: partyrole, specification: [u], apiType: openapi, implementation: r, path: /demo/roles, port: 8080}
`,
			[]string{`f.yaml:6: spec.securityFunction.controllerRole: required when securityFunction has exposed APIs: the canvas is granted this role on the component's role API (partyrole or userrolesandpermissions); fix: set canvasSystemRole, e.g. canvasSystemRole: Admin`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse("f.yaml", []byte(tc.in))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", c)
			}
			if c != nil {
				t.Errorf("Parse returned a Component with an error")
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error %T is not an ErrorList: %v", err, err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors:\n got: %q\nwant: %q", got, tc.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.File != "f.yaml" {
				t.Errorf("errors.As(*FieldError) = %v", fe)
			}
		})
	}
}

func TestAliasesAndMerge(t *testing.T) {
	t.Parallel()
	in := strings.Replace(base, "    exposedAPIs:\n    - name: catalog\n", "    exposedAPIs:\n    - &api\n      name: catalog\n", 1) +
		"  managementFunction:\n    exposedAPIs:\n    - <<: *api\n      name: metrics\n      path: /demo/metrics\n      specification: [{url: m}]\n"
	c := mustParse(t, "f.yaml", []byte(in))
	m := c.Spec.ManagementFunction.ExposedAPIs[0]
	if m.Name != "metrics" || m.EffectivePath() != "/demo/metrics" || m.EffectiveImplementation() != "demo-api" || m.EffectivePort() != 8080 {
		t.Errorf("merged API = %+v", m)
	}

	bomb := "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
		"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n" +
		"g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
	_, err := Parse("bomb.yaml", []byte(bomb))
	if err == nil || !strings.Contains(err.Error(), "expands to more than") {
		t.Errorf("alias bomb: got %v, want an expansion error", err)
	}
}

func TestErrorFormatsAndJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		e    FieldError
		want string
	}{
		{FieldError{File: "a.yaml", Line: 3, Path: "spec.x", Msg: "bad", Fix: "do y"}, "a.yaml:3: spec.x: bad; fix: do y"},
		{FieldError{File: "a.yaml", Path: "spec.x", Msg: "bad"}, "a.yaml: spec.x: bad"},
		{FieldError{Path: "spec.x", Msg: "bad"}, "spec.x: bad"},
		{FieldError{Msg: "bad"}, "bad"},
	}
	for _, tc := range tests {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	list := ErrorList{tests[0].e, tests[2].e}
	b, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"file":"a.yaml","line":3,"path":"spec.x","msg":"bad","fix":"do y"},{"path":"spec.x","msg":"bad"}]`
	if string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
	if list.Error() != "a.yaml:3: spec.x: bad; fix: do y\nspec.x: bad" {
		t.Errorf("ErrorList.Error() = %q", list.Error())
	}
	if ErrorList(nil).Err() != nil {
		t.Error("empty ErrorList.Err() must be nil")
	}
}

func TestValidateDecoded(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "base.yaml", []byte(base))
	if errs := Validate(c); len(errs) != 0 {
		t.Fatalf("Validate(base) = %v", errs)
	}
	bad := c.DeepCopy()
	bad.Spec.CoreFunction.ExposedAPIs = append(bad.Spec.CoreFunction.ExposedAPIs, bad.Spec.CoreFunction.ExposedAPIs[0])
	bad.Spec.CoreFunction.ExposedAPIs[0].APIType = "soap"
	bad.Kind = "Thing"
	var got []string
	for _, e := range Validate(bad) {
		got = append(got, e.Error())
	}
	want := []string{
		`kind: must be "Component", got "Thing"; fix: set kind: Component`,
		`spec.coreFunction.exposedAPIs[0].apiType: must be one of "openapi", "mcp", got "soap"`,
		`spec.coreFunction.exposedAPIs[1].name: duplicate exposed API name "catalog" in coreFunction (first at spec.coreFunction.exposedAPIs[0].name); fix: give each exposed API its own name; names become route names`,
		`spec.coreFunction.exposedAPIs[1].path: path "/demo/catalog/v4" is already used by spec.coreFunction.exposedAPIs[0].path; fix: give each exposed API its own path`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Validate:\n got %q\nwant %q", got, want)
	}
	noPort := c.DeepCopy()
	noPort.Spec.CoreFunction.ExposedAPIs[0].Port = nil
	noPort.Spec.CoreFunction.DependentAPIs = []DependentAPI{{Name: "up", Specification: []DependentAPISpecification{{URL: "u"}}}}
	got = nil
	for _, e := range Validate(noPort) {
		got = append(got, e.Error())
	}
	want = []string{
		`spec.coreFunction.dependentAPIs[0]: apiType must be defined either at the API root OR in specification[0].; fix: set them at the API root or in specification[0]`,
		`spec.coreFunction.exposedAPIs[0]: apiType, implementation, path, and port must be defined either at the API root OR in specification[0].; fix: set them at the API root or in specification[0]`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Validate (CEL rules):\n got %q\nwant %q", got, want)
	}
	if errs := Validate(nil); len(errs) != 1 {
		t.Errorf("Validate(nil) = %v", errs)
	}
}

func TestImplementationsAnnotation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string
		ok    bool
	}{
		{`{"demo-api": "oci://ghcr.io/wasmcanvas/demo:0.1.0"}`, true},
		{`{"demo-api": "ghcr.io/wasmcanvas/demo@sha256:` + strings.Repeat("a", 64) + `"}`, true},
		{`{"demo-api": "localhost:5000/demo:dev"}`, true},
		{`{"demo-api": "file:///tmp/demo.wasm"}`, true},
		{`{"demo-api": "https://example.org/demo.wasm"}`, false},
		{`{"demo-api": 3}`, false},
		{`{"": "oci://ghcr.io/a/b:1"}`, false},
		{`["oci://ghcr.io/a/b:1"]`, false},
		{`not json`, false},
	}
	for _, tc := range tests {
		issues := checkImplementations(tc.value)
		if (len(issues) == 0) != tc.ok {
			t.Errorf("%s: issues %+v, want ok=%v", tc.value, issues, tc.ok)
		}
	}
}

func TestStatusShape(t *testing.T) {
	t.Parallel()
	in := base + `status:
  coreAPIs:
  - name: demo-catalog
    uid: 6a0c2d4e-0000-4000-8000-000000000001
    implementation: demo-api
    path: /demo/catalog/v4
    port: 8080
    url: https://components.example.org/demo/catalog/v4
    ready: true
  coreDependentAPIs: []
  securitySecretsManagement: {}
  identityConfig:
    identityProvider: Keycloak
    listenerRegistered: true
  summary/status:
    coreAPIsummary: 'https://components.example.org/demo/catalog/v4 '
    deployment_status: Complete
  kopf:
    progress: {}
`
	c := mustParse(t, "status.yaml", []byte(in))
	st := c.Status
	if st == nil || len(st.CoreAPIs) != 1 || !st.CoreAPIs[0].Ready || st.CoreAPIs[0].Port != 8080 ||
		st.Summary == nil || st.Summary.DeploymentStatus != DeploymentComplete ||
		st.IdentityConfig == nil || st.IdentityConfig.IdentityProvider != "Keycloak" ||
		st.CoreDependentAPIs == nil || st.SecuritySecretsManagement == nil {
		t.Fatalf("status = %+v", st)
	}
	st.Summary.DeploymentStatus = DeploymentFailed
	st.Summary.FailureReason = "wadm: no hosts match"
	st.WasmCloud = &WasmCloudStatus{App: "components-demo", Status: "failed", Hosts: []string{"NHOST"}}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"summary/status":{`, `"deployment_status":"Failed"`, `"failureReason":"wadm: no hosts match"`,
		`"coreDependentAPIs":[]`, `"securitySecretsManagement":{}`, `"wasmCloud":{"app":"components-demo","status":"failed","hosts":["NHOST"]}`,
		`"managementAPIsummary":""`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("status JSON lacks %s:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), `"managementAPIs":`) {
		t.Errorf("unset lists must be left out: %s", b)
	}
}

func TestSecretsManagementExtra(t *testing.T) {
	t.Parallel()
	in := strings.Replace(base, "    canvasSystemRole: Admin\n",
		"    canvasSystemRole: Admin\n    secretsManagement:\n      type: sideCar\n      sideCar: {port: 5000}\n      podSelector: {namespace: components, name: demo-*}\n      vaultRole: demo\n", 1)
	c := mustParse(t, "sman.yaml", []byte(in))
	sm := c.Spec.SecurityFunction.SecretsManagement
	if sm.Type != "sideCar" || *sm.SideCar.Port != 5000 || sm.Extra["vaultRole"] != "demo" {
		t.Fatalf("secretsManagement = %+v", sm)
	}
	out, err := Marshal(c, "yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "vaultRole: demo") {
		t.Errorf("preserved field lost on output:\n%s", out)
	}
	bad := strings.Replace(in, "sideCar: {port: 5000}", "sideCar: {port: 5000, image: x}", 1)
	if _, err := Parse("sman.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "secretsManagement.sideCar.image: unknown field") {
		t.Errorf("closed sideCar accepted an unknown field: %v", err)
	}
}

func TestRecursiveAlias(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"a: &a [1, *a]\n", "a: &a {b: *a}\n", "a: &a {<<: *a}\n"} {
		_, err := Parse("rec.yaml", []byte(in))
		if err == nil || !strings.Contains(err.Error(), "(an infinite document)") {
			t.Errorf("%q: got %v, want a recursive-alias error", in, err)
		}
	}
}

// TestNullsArePruned: like the API server, fields set to null are dropped
// before validation (the CRD marks nothing nullable).
func TestNullsArePruned(t *testing.T) {
	t.Parallel()
	in := strings.Replace(base, "  securityFunction:\n", "  managementFunction:\n  eventNotification:\n    publishedEvents:\n  securityFunction:\n", 1)
	c := mustParse(t, "null.yaml", []byte(in))
	if c.Spec.ManagementFunction != nil || c.Spec.EventNotification == nil || c.Spec.EventNotification.PublishedEvents != nil {
		t.Errorf("nulls not pruned: %+v %+v", c.Spec.ManagementFunction, c.Spec.EventNotification)
	}
	_, err := Parse("null.yaml", []byte(edit(14, "      port:")))
	if err == nil || !strings.Contains(err.Error(), "null.yaml:8: spec.coreFunction.exposedAPIs[0]: apiType, implementation, path, and port must be defined") {
		t.Errorf("port: (null) got %v, want the CEL rule error", err)
	}
	_, err = Parse("null.yaml", []byte(edit(14, "      port: [null]")))
	if err == nil || !strings.Contains(err.Error(), "must be an integer, got array") {
		t.Errorf("got %v", err)
	}
}

func TestIntegerOutOfRange(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"      port: 18446744073709551615", "big.yaml:14: spec.coreFunction.exposedAPIs[0].port: integer 18446744073709551615 is out of range; fix: use a value that fits in 64 bits"},
		{"      port: 100000000000000000000", "big.yaml:14: spec.coreFunction.exposedAPIs[0].port: number 100000000000000000000 is out of range; fix: use a value that fits in 64 bits"},
		{"      port: 1e20", "big.yaml:14: spec.coreFunction.exposedAPIs[0].port: number 1e20 is out of range; fix: use a value that fits in 64 bits"},
	}
	for _, tc := range tests {
		_, err := Parse("big.yaml", []byte(edit(14, tc.in)))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: got %v\nwant %s", tc.in, err, tc.want)
		}
	}
}

// TestTextVariants: a UTF-8 byte order mark, CRLF line ends and tabs in
// values are ordinary text; tab indentation is a YAML error with its line.
func TestTextVariants(t *testing.T) {
	t.Parallel()
	mustParse(t, "bom.yaml", append([]byte("\xef\xbb\xbf"), base...))
	c := mustParse(t, "crlf.yaml", []byte(strings.ReplaceAll(base, "\n", "\r\n")))
	if c.Spec.CoreFunction.ExposedAPIs[0].Path != "/demo/catalog/v4" {
		t.Errorf("CRLF: path = %q", c.Spec.CoreFunction.ExposedAPIs[0].Path)
	}
	// The line is the parser's: yaml.v3 names where the token being
	// scanned began, here the line before the tab.
	_, err := Parse("tab.yaml", []byte(edit(14, "\t  port: 8080")))
	if err == nil || !strings.HasPrefix(err.Error(), "tab.yaml:13: invalid YAML: found a tab character that violates indentation") {
		t.Errorf("tab indentation: got %v", err)
	}
}
