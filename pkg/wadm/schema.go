package wadm

import (
	"bytes"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// Schema validates manifests against wadm's published JSON schema
// (oam.schema.json). The schema is passed in rather than embedded: it is
// upstream data, and the caller decides which copy it trusts.
type Schema struct {
	s *jsonschema.Schema
}

// CompileSchema compiles the wadm OAM JSON schema.
func CompileSchema(schemaJSON []byte) (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, fmt.Errorf("wadm: read OAM schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	const loc = "urn:wadm:oam.schema.json"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("wadm: load OAM schema: %w", err)
	}
	s, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("wadm: compile OAM schema: %w", err)
	}
	return &Schema{s: s}, nil
}

// Validate checks a manifest document (YAML or JSON) against the schema.
func (s *Schema) Validate(doc []byte) error {
	jsonDoc := doc
	if t := bytes.TrimLeft(doc, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		var v any
		if err := yaml.Unmarshal(doc, &v); err != nil {
			return fmt.Errorf("wadm: schema check: read YAML: %w", err)
		}
		b, err := marshalJSON(v)
		if err != nil {
			return fmt.Errorf("wadm: schema check: YAML value has no JSON form: %w", err)
		}
		jsonDoc = b
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(jsonDoc))
	if err != nil {
		return fmt.Errorf("wadm: schema check: read JSON: %w", err)
	}
	if err := s.s.Validate(v); err != nil {
		return fmt.Errorf("wadm: manifest does not match the OAM schema: %w", err)
	}
	return nil
}
