package oda

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// genericJSON decodes JSON into a tree with float64 numbers, the form two
// documents are compared in.
func genericJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

// sourceJSON reads a file the way Parse does and renders it as generic JSON.
func sourceJSON(t *testing.T, name string, data []byte) map[string]any {
	t.Helper()
	tr, errs := readTree(name, data)
	if tr == nil {
		t.Fatalf("%s: %v", name, errs)
	}
	b, err := json.Marshal(tr.root)
	if err != nil {
		t.Fatal(err)
	}
	return genericJSON(t, b)
}

// TestRoundTripOlderVersions: an example of an older version read as v1 and
// written back in its own version is the original document (apart from the
// namespace default Parse fills in).
func TestRoundTripOlderVersions(t *testing.T) {
	t.Parallel()
	n := 0
	for _, ex := range upstreamExamples(t) {
		orig := sourceJSON(t, ex.name, ex.data)
		v := orig["apiVersion"].(string)
		if v == APIVersionV1 {
			continue
		}
		n++
		c := mustParse(t, ex.name, ex.data)
		back, err := Convert(c, v)
		if err != nil {
			t.Fatalf("%s: Convert to %s: %v", ex.name, v, err)
		}
		out, err := Marshal(back, "json")
		if err != nil {
			t.Fatal(err)
		}
		got := genericJSON(t, out)
		delete(asMap(got["metadata"]), "namespace")
		if !reflect.DeepEqual(got, orig) {
			t.Errorf("%s: %s -> v1 -> %s changed it:\n got %s\nwant %s", ex.name, v, v, out, mustJSON(t, orig))
		}
	}
	if n == 0 {
		t.Fatal("no example of an older version found")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRoundTripV1 writes each v1 example as v1beta4 and v1beta3 (YAML and
// JSON), reads it back and expects the same Component.
func TestRoundTripV1(t *testing.T) {
	t.Parallel()
	for _, ex := range upstreamExamples(t) {
		c := mustParse(t, ex.name, ex.data)
		if !bytes.Contains(ex.data, []byte("apiVersion: "+APIVersionV1+"\n")) {
			continue
		}
		for _, to := range []string{"v1beta4", APIVersionV1beta3, APIVersionV1} {
			for _, format := range []string{"yaml", "json"} {
				conv, err := Convert(c, to)
				if err != nil {
					t.Errorf("%s: Convert to %s: %v", ex.name, to, err)
					continue
				}
				out, err := Marshal(conv, format)
				if err != nil {
					t.Errorf("%s: Marshal %s %s: %v", ex.name, to, format, err)
					continue
				}
				back, err := Parse(ex.name+"."+format, out)
				if err != nil {
					t.Errorf("%s: reading back the %s %s output: %v\n%s", ex.name, to, format, err, out)
					continue
				}
				if !reflect.DeepEqual(back, c) {
					t.Errorf("%s: v1 -> %s (%s) -> v1 changed it:\n got %s\nwant %s", ex.name, to, format, mustJSON(t, back), mustJSON(t, c))
				}
			}
		}
	}
}

// TestConvertRefusesLoss: fields an older version has no place for are
// named, not dropped.
func TestConvertRefusesLoss(t *testing.T) {
	t.Parallel()
	multiSpec := strings.Replace(base, "      - url: https://example.org/tmf620.json\n",
		"      - url: https://example.org/tmf620.json\n      - url: https://example.org/tmf620-v5.json\n        version: v5.0.0\n        path: /demo/catalog/v5\n", 1)
	mcp := strings.Replace(base, "apiType: openapi", "apiType: mcp", 1)
	meta := strings.Replace(base, "spec:\n", "spec:\n  componentMetadata:\n    eTom: [\"1.2.3\"]\n", 1)
	tests := []struct {
		name, in, to string
		want         []string
	}{
		{"second spec path to v1beta4", multiSpec, "v1beta4", []string{
			"spec.coreFunction.exposedAPIs[0].specification[1].path: cannot be expressed in v1beta4 (spec.coreFunction.exposedAPIs[0].specification[1].path): unknown field",
		}},
		{"spec version to v1beta3", multiSpec, "v1beta3", []string{
			"spec.coreFunction.exposedAPIs[0].specification[1].path: cannot be expressed in v1beta3: specification items there are bare URLs",
			"spec.coreFunction.exposedAPIs[0].specification[1].version: cannot be expressed in v1beta3: specification items there are bare URLs",
		}},
		{"mcp to v1beta4", mcp, "v1beta4", []string{
			`spec.coreFunction.exposedAPIs[0].apiType: cannot be expressed in v1beta4 (spec.coreFunction.exposedAPIs[0].apiType): must be one of "openapi", got "mcp"`,
		}},
		{"eTom to v1beta3", meta, "v1beta3", []string{
			"spec.componentMetadata.eTom: cannot be expressed in v1beta3: it has no eTom field",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, "f.yaml", []byte(tc.in))
			_, err := Convert(c, tc.to)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Convert = %v, want an ErrorList", err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Path+": "+e.Msg)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tc.want)
			}
			if _, err := Marshal(&Component{APIVersion: tc.to, Kind: Kind, Metadata: c.Metadata, Spec: c.Spec}, "yaml"); err == nil {
				t.Error("Marshal wrote a version that cannot hold the Component")
			}
		})
	}
	if _, err := Convert(mustParse(t, "f.yaml", []byte(base)), "v1beta2"); err == nil {
		t.Error("Convert accepted v1beta2")
	}
}

// TestConvertHoistsSpecificationFields: v1 may give apiType, implementation,
// path and port in specification[0]; v1beta4 needs them at the API root.
func TestConvertHoistsSpecificationFields(t *testing.T) {
	t.Parallel()
	in := `apiVersion: oda.tmforum.org/v1
kind: Component
metadata: {name: demo}
spec:
  coreFunction:
    exposedAPIs:
    - name: catalog
      specification:
      - {url: u, apiType: openapi, implementation: demo-api, path: /demo/catalog, port: 8080}
    dependentAPIs:
    - name: up
      specification: [{url: v, apiType: openapi}]
  eventNotification:
    publishedEvents:
    - name: created
      specification: [{url: w, hub: /hub, port: 8080, implementation: demo-api}]
`
	c := mustParse(t, "f.yaml", []byte(in))
	conv, err := Convert(c, "v1beta4")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(conv, "yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"      - apiType: openapi\n        implementation: demo-api\n", "hub: /hub", "path: /demo/catalog"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("v1beta4 output lacks %q:\n%s", want, out)
		}
	}
	back := mustParse(t, "b4.yaml", out)
	api := back.Spec.CoreFunction.ExposedAPIs[0]
	if api.Path != "/demo/catalog" || api.EffectivePort() != 8080 || api.EffectiveImplementation() != "demo-api" {
		t.Errorf("read back: %+v", api)
	}
	ev := back.Spec.EventNotification.PublishedEvents[0].Specification[0]
	if ev.Hub != "/hub" || ev.URL != "w" || *ev.Port != 8080 {
		t.Errorf("event read back: %+v", ev)
	}
}

func TestMarshalDeterministic(t *testing.T) {
	t.Parallel()
	for _, ex := range upstreamExamples(t) {
		c := mustParse(t, ex.name, ex.data)
		for _, format := range []string{"yaml", "json"} {
			a, err := Marshal(c, format)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				b, err := Marshal(c.DeepCopy(), format)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(a, b) {
					t.Fatalf("%s: Marshal(%s) differs between runs:\n%s\n---\n%s", ex.name, format, a, b)
				}
			}
		}
	}
	if _, err := Marshal(&Component{}, "toml"); err == nil {
		t.Error("Marshal accepted format toml")
	}
}

func TestSourceTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		from string
		v1   string
		want string
	}{
		{APIVersionV1beta3, "spec/componentMetadata/name", "spec/name"},
		{APIVersionV1beta3, "spec/securityFunction/canvasSystemRole", "spec/securityFunction/controllerRole"},
		{APIVersionV1beta3, "spec/coreFunction/exposedAPIs/0/gatewayConfiguration/rateLimit/limit", "spec/coreFunction/exposedAPIs/0/rateLimit/limit"},
		{APIVersionV1beta3, "spec/coreFunction/exposedAPIs/1/specification/2/url", "spec/coreFunction/exposedAPIs/1/specification/2"},
		{APIVersionV1beta3, "spec/managementFunction/dependentAPIs/0/specification/0/url", "spec/managementFunction/dependentAPIs/0/specification"},
		{APIVersionV1beta3, "spec/eventNotification/publishedEvents/0/specification/0/hub", "spec/eventNotification/publishedEvents/0/hub"},
		{APIVersionV1beta4, "spec/eventNotification/subscribedEvents/0/specification/0/port", "spec/eventNotification/subscribedEvents/0/port"},
		{APIVersionV1beta4, "spec/componentMetadata/name", "spec/componentMetadata/name"},
		{APIVersionV1, "spec/securityFunction/canvasSystemRole", "spec/securityFunction/canvasSystemRole"},
	}
	for _, tc := range tests {
		got := strings.Join(sourceTokens(tc.from, strings.Split(tc.v1, "/")), "/")
		if got != tc.want {
			t.Errorf("sourceTokens(%s, %s) = %s, want %s", tc.from, tc.v1, got, tc.want)
		}
	}
}

const v1beta4Doc = `apiVersion: oda.tmforum.org/v1beta4
kind: Component
metadata:
  name: demo
spec:
  componentMetadata:
    id: TMFC001
    name: demo
    eTom: ["1.1"]
  coreFunction:
    exposedAPIs:
    - name: catalog
      id: TMF620
      specification: [{url: u, version: v4.0.0}]
      apiType: openapi
      implementation: demo-api
      path: /demo/catalog
      port: 8080
      gatewayConfiguration:
        rateLimit: {enabled: false, limit: "6"}
  eventNotification:
    publishedEvents:
    - name: created
      apiType: openapi
      specification: [{url: e}]
      implementation: demo-hub
      hub: /hub
      port: 9000
    subscribedEvents:
    - name: changed
      callback: /cb
      query: a=b
  securityFunction:
    canvasSystemRole: Admin
    componentRole: [{name: viewer}]
`

func TestV1beta4RoundTrip(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "b4.yaml", []byte(v1beta4Doc))
	pe := c.Spec.EventNotification.PublishedEvents[0].Specification[0]
	if pe.URL != "e" || pe.Hub != "/hub" || *pe.Port != 9000 || pe.Implementation != "demo-hub" || pe.APIType != "openapi" {
		t.Errorf("published event spec = %+v", pe)
	}
	se := c.Spec.EventNotification.SubscribedEvents[0].Specification
	if len(se) != 1 || se[0].Callback != "/cb" || se[0].Query != "a=b" || se[0].URL != "" {
		t.Errorf("subscribed event spec = %+v", se)
	}
	back, err := Convert(c, APIVersionV1beta4)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(back, "json")
	if err != nil {
		t.Fatal(err)
	}
	got := genericJSON(t, out)
	delete(asMap(got["metadata"]), "namespace")
	if want := sourceJSON(t, "b4.yaml", []byte(v1beta4Doc)); !reflect.DeepEqual(got, want) {
		t.Errorf("v1beta4 -> v1 -> v1beta4 changed it:\n got %s\nwant %s", out, mustJSON(t, want))
	}
}

// TestV1beta3PreservedFields: v1beta3 keeps unknown fields under
// securityFunction; v1 does not, and the error names the field as written.
func TestV1beta3PreservedFields(t *testing.T) {
	t.Parallel()
	in := `apiVersion: oda.tmforum.org/v1beta3
kind: Component
metadata:
  name: demo
spec:
  securityFunction:
    controllerRole: Admin
    componentRole: [{name: viewer}, {name: viewer}]
    vault: true
`
	_, err := Parse("b3.yaml", []byte(in))
	want := "b3.yaml:8: spec.securityFunction.componentRole[1].name: duplicate role \"viewer\" (first at componentRole[0]); fix: declare each role once\n" +
		"b3.yaml:9: spec.securityFunction.vault: unknown field; fix: remove it; fields accepted here: canvasSystemRole, componentRole, dependentAPIs, exposedAPIs, secretsManagement"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	c := mustParse(t, "b3.yaml", []byte(strings.Replace(strings.Replace(in, "    vault: true\n", "", 1), ", {name: viewer}]", "]", 1)))
	if sf := c.Spec.SecurityFunction; sf.CanvasSystemRole != "Admin" || sf.ComponentRole[0].Name != "viewer" {
		t.Errorf("securityFunction = %+v", sf)
	}
}
