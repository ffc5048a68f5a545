package crdschema

import (
	"encoding/json"
	"strings"
	"testing"
)

const crdTemplate = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  annotations:
    cert-manager.io/inject-ca-from:  {{ printf "%s/%s" .Release.Namespace .Values.x }}
spec:
  group: example.org
  names: {kind: Thing}
  versions:
  - name: v1
    served: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              port: {type: integer, nullable: true}
              size: {x-kubernetes-int-or-string: true}
              free: {type: object, x-kubernetes-preserve-unknown-fields: true}
              api:
                type: object
                properties:
                  path: {type: string}
                  specification: {type: array, items: {type: object, properties: {path: {type: string}}}}
                x-kubernetes-validations:
                - rule: RULE
                  message: path at root or in specification[0]
`

func generate(t *testing.T, rule string) (map[string]any, error) {
	t.Helper()
	b, err := Generate([]byte(strings.Replace(crdTemplate, "RULE", rule, 1)), "v1")
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m, nil
}

func TestGenerateKeywords(t *testing.T) {
	t.Parallel()
	m, err := generate(t, `"has(self.path) || (size(self.specification) > 0 && has(self.specification[0].path))"`)
	if err != nil {
		t.Fatal(err)
	}
	spec := m["properties"].(map[string]any)["spec"].(map[string]any)
	props := spec["properties"].(map[string]any)
	check := func(name string, got any, want string) {
		t.Helper()
		b, _ := json.Marshal(got)
		if string(b) != want {
			t.Errorf("%s = %s, want %s", name, b, want)
		}
	}
	check("nullable", props["port"], `{"type":["integer","null"]}`)
	check("int-or-string", props["size"], `{"anyOf":[{"type":"integer"},{"type":"string"}]}`)
	check("preserve", props["free"], `{"additionalProperties":true,"type":"object"}`)
	check("closed", spec["additionalProperties"], `false`)
	check("root closed", m["additionalProperties"], `false`)
	check("CEL", props["api"].(map[string]any)["anyOf"],
		`[{"required":["path"]},{"properties":{"specification":{"minItems":1,"prefixItems":[{"required":["path"]}]}},"required":["specification"]}]`)
	check("apiVersion", m["properties"].(map[string]any)["apiVersion"], `{"const":"example.org/v1","type":"string"}`)
	check("$id", m["$id"], `"https://wasmcanvas.io/schemas/oda-component-v1.schema.json"`)
}

func TestGenerateRefusesUnknown(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, rule string }{
		{"other CEL rule", `"self.port > 0"`},
		{"different field sets", `"has(self.path) || (size(self.specification) > 0 && has(self.specification[0].port))"`},
	}
	for _, tc := range tests {
		if _, err := generate(t, tc.rule); err == nil || !strings.Contains(err.Error(), "CEL rule") {
			t.Errorf("%s: got %v, want a CEL rule error", tc.name, err)
		}
	}
	crd := strings.Replace(crdTemplate, "port: {type: integer, nullable: true}", "port: {type: integer, x-kubernetes-list-type: set}", 1)
	crd = strings.Replace(crd, "RULE", `"has(self.path) || (size(self.specification) > 0 && has(self.specification[0].path))"`, 1)
	if _, err := Generate([]byte(crd), "v1"); err == nil || !strings.Contains(err.Error(), "x-kubernetes-list-type") {
		t.Errorf("unknown extension: got %v, want an error naming it", err)
	}
	if _, err := Generate([]byte(crdTemplate), "v9"); err == nil {
		t.Error("Generate of a version the CRD lacks must fail")
	}
}
