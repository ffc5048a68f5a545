package oda

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Marshal writes c as "yaml" or "json" in the shape of c.APIVersion (see
// Convert; an empty APIVersion means v1). The output is deterministic: v1
// keeps the field order of the Go types, older versions sort keys.
func Marshal(c *Component, format string) ([]byte, error) {
	if c == nil {
		return nil, fmt.Errorf("marshal: no Component given")
	}
	if format != "yaml" && format != "json" {
		return nil, fmt.Errorf("marshal: unknown format %q (want yaml or json)", format)
	}
	version := c.APIVersion
	if version == "" {
		version = APIVersionV1
	}
	version, err := normalizeVersion(version)
	if err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	var raw []byte
	if version == APIVersionV1 {
		cc := *c
		cc.APIVersion = version
		raw, err = json.Marshal(&cc)
	} else {
		doc, terr := toTree(c)
		if terr != nil {
			return nil, fmt.Errorf("marshal: %w", terr)
		}
		doc["apiVersion"] = APIVersionV1
		down, lost := downgrade(doc, version)
		if len(lost) > 0 {
			errs := make(ErrorList, 0, len(lost))
			for _, is := range lost {
				errs = append(errs, FieldError{Path: displayTokens(is.tokens), Msg: is.msg, Fix: is.fix})
			}
			return nil, fmt.Errorf("marshal as %s: %w", version, errs.sorted())
		}
		raw, err = json.Marshal(down)
	}
	if err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	if format == "json" {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return nil, fmt.Errorf("marshal: %w", err)
		}
		buf.WriteByte('\n')
		return buf.Bytes(), nil
	}
	return jsonToYAML(raw)
}

// jsonToYAML re-encodes a JSON document as block YAML, keeping key order.
func jsonToYAML(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	n, err := yamlNode(dec)
	if err != nil {
		return nil, fmt.Errorf("marshal yaml: %w", err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("marshal yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal yaml: %w", err)
	}
	return buf.Bytes(), nil
}

func yamlNode(dec *json.Decoder) (*yaml.Node, error) {
	tk, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tk.(type) {
	case json.Delim:
		switch v {
		case '{':
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key %v is not a string", kt)
				}
				val, err := yamlNode(dec)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, val)
			}
			_, err := dec.Token()
			return n, err
		case '[':
			n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for dec.More() {
				val, err := yamlNode(dec)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, val)
			}
			if len(n.Content) == 0 {
				n.Style = yaml.FlowStyle
			}
			_, err := dec.Token()
			return n, err
		}
		return nil, fmt.Errorf("unexpected %v", v)
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}, nil
	case json.Number:
		tag := "!!int"
		if _, err := v.Int64(); err != nil {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v.String()}, nil
	case bool:
		s := "false"
		if v {
			s = "true"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: s}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tk)
}
