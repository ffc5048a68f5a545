package wadm

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// MarshalJSON encodes m as compact JSON. Output is deterministic: struct
// fields keep their order, map keys are sorted, empty optional fields are
// left out, and HTML characters are not escaped (as wadm's serde_json does).
func MarshalJSON(m *Manifest) ([]byte, error) {
	b, err := marshalJSON(m)
	if err != nil {
		return nil, fmt.Errorf("wadm: encode manifest %q as JSON: %w", m.Metadata.Name, err)
	}
	return b, nil
}

// MarshalYAML encodes m as YAML (two-space indent), deterministically.
func MarshalYAML(m *Manifest) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("wadm: encode manifest %q as YAML: %w", m.Metadata.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("wadm: encode manifest %q as YAML: %w", m.Metadata.Name, err)
	}
	return buf.Bytes(), nil
}

// marshalJSON is json.Marshal without HTML escaping, so nested custom
// marshalers produce the same bytes serde_json would.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Required containers are written even when empty, because the upstream
// schema requires their keys; each type fills its own on a copy.

// MarshalJSON writes annotations even when there are none.
func (m Metadata) MarshalJSON() ([]byte, error) {
	type plain Metadata
	return marshalJSON(plain(m.withRequired()))
}

// MarshalYAML writes annotations even when there are none.
func (m Metadata) MarshalYAML() (any, error) {
	type plain Metadata
	return plain(m.withRequired()), nil
}

func (m Metadata) withRequired() Metadata {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	return m
}

// MarshalJSON writes components even when there are none.
func (s Spec) MarshalJSON() ([]byte, error) {
	type plain Spec
	return marshalJSON(plain(s.withRequired()))
}

// MarshalYAML writes components even when there are none.
func (s Spec) MarshalYAML() (any, error) {
	type plain Spec
	return plain(s.withRequired()), nil
}

func (s Spec) withRequired() Spec {
	if s.Components == nil {
		s.Components = []Component{}
	}
	return s
}

// MarshalJSON writes properties even when there are none.
func (p Policy) MarshalJSON() ([]byte, error) {
	type plain Policy
	return marshalJSON(plain(p.withRequired()))
}

// MarshalYAML writes properties even when there are none.
func (p Policy) MarshalYAML() (any, error) {
	type plain Policy
	return plain(p.withRequired()), nil
}

func (p Policy) withRequired() Policy {
	if p.Properties == nil {
		p.Properties = map[string]string{}
	}
	return p
}

// MarshalJSON writes requirements even when there are none.
func (s Spread) MarshalJSON() ([]byte, error) {
	type plain Spread
	return marshalJSON(plain(s.withRequired()))
}

// MarshalYAML writes requirements even when there are none.
func (s Spread) MarshalYAML() (any, error) {
	type plain Spread
	return plain(s.withRequired()), nil
}

func (s Spread) withRequired() Spread {
	if s.Requirements == nil {
		s.Requirements = map[string]string{}
	}
	return s
}

// MarshalJSON writes interfaces even when there are none.
func (l LinkProperties) MarshalJSON() ([]byte, error) {
	type plain LinkProperties
	return marshalJSON(plain(l.withRequired()))
}

// MarshalYAML writes interfaces even when there are none.
func (l LinkProperties) MarshalYAML() (any, error) {
	type plain LinkProperties
	return plain(l.withRequired()), nil
}

func (l LinkProperties) withRequired() LinkProperties {
	if l.Interfaces == nil {
		l.Interfaces = []string{}
	}
	return l
}

// configPropertyWire tells "no properties" (nil pointer, externally managed
// config) from "empty properties" (pointer to an empty map).
type configPropertyWire struct {
	Name       string             `json:"name" yaml:"name"`
	Properties *map[string]string `json:"properties,omitempty" yaml:"properties,omitempty"`
}

func (c ConfigProperty) wire() configPropertyWire {
	w := configPropertyWire{Name: c.Name}
	if c.Properties != nil {
		p := c.Properties
		w.Properties = &p
	}
	return w
}

// MarshalJSON keeps an empty, non-nil Properties as {}.
func (c ConfigProperty) MarshalJSON() ([]byte, error) { return marshalJSON(c.wire()) }

// MarshalYAML keeps an empty, non-nil Properties as {}.
func (c ConfigProperty) MarshalYAML() (any, error) { return c.wire(), nil }

// UnmarshalYAML decodes a config entry; the strict checks already ran.
func (c *ConfigProperty) UnmarshalYAML(n *yaml.Node) error {
	var w struct {
		Name       string            `yaml:"name"`
		Properties map[string]string `yaml:"properties"`
	}
	if err := n.Decode(&w); err != nil {
		return err
	}
	c.Name, c.Properties = w.Name, w.Properties
	return nil
}

// UnmarshalJSON decodes a config entry strictly.
func (c *ConfigProperty) UnmarshalJSON(data []byte) error { return decodeJSONInto(data, c) }

// linkTargetWire is the object form of a link target.
type linkTargetWire struct {
	Name    string           `json:"name" yaml:"name"`
	Config  []ConfigProperty `json:"config,omitempty" yaml:"config,omitempty"`
	Secrets []SecretProperty `json:"secrets,omitempty" yaml:"secrets,omitempty"`
}

func (t LinkTarget) wire() any {
	if t.BareName && len(t.Config) == 0 && len(t.Secrets) == 0 {
		return t.Name
	}
	return linkTargetWire{Name: t.Name, Config: t.Config, Secrets: t.Secrets}
}

// MarshalJSON writes the bare-name form when the target was given that way.
func (t LinkTarget) MarshalJSON() ([]byte, error) { return marshalJSON(t.wire()) }

// MarshalYAML writes the bare-name form when the target was given that way.
func (t LinkTarget) MarshalYAML() (any, error) { return t.wire(), nil }

// UnmarshalYAML accepts `target: name` and `target: {name: ...}`.
func (t *LinkTarget) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	if n.Kind == yaml.ScalarNode {
		*t = LinkTarget{Name: n.Value, BareName: true}
		return nil
	}
	var w linkTargetWire
	if err := n.Decode(&w); err != nil {
		return err
	}
	*t = LinkTarget{Name: w.Name, Config: w.Config, Secrets: w.Secrets}
	return nil
}

// UnmarshalJSON decodes a link target strictly.
func (t *LinkTarget) UnmarshalJSON(data []byte) error { return decodeJSONInto(data, t) }

type traitWire struct {
	Type       string `json:"type" yaml:"type"`
	Properties any    `json:"properties" yaml:"properties"`
}

func (t Trait) wire() traitWire {
	w := traitWire{Type: t.Type, Properties: t.Custom}
	switch {
	case t.Scaler != nil:
		w.Properties = t.Scaler
	case t.Link != nil:
		w.Properties = t.Link
	}
	return w
}

// MarshalJSON writes whichever of Scaler, Link and Custom is set.
func (t Trait) MarshalJSON() ([]byte, error) { return marshalJSON(t.wire()) }

// MarshalYAML writes whichever of Scaler, Link and Custom is set.
func (t Trait) MarshalYAML() (any, error) { return t.wire(), nil }

// UnmarshalYAML picks the properties type from the trait type; the strict
// checks already ran.
func (t *Trait) UnmarshalYAML(n *yaml.Node) error {
	n = resolveAlias(n)
	var w struct {
		Type       string    `yaml:"type"`
		Properties yaml.Node `yaml:"properties"`
	}
	if err := n.Decode(&w); err != nil {
		return err
	}
	*t = Trait{Type: w.Type}
	if w.Properties.Kind == 0 {
		if traitKind(w.Type) != traitKindCustom {
			return fmt.Errorf("line %d: trait %q needs properties", n.Line, w.Type)
		}
		return nil
	}
	switch traitKind(w.Type) {
	case traitKindScaler:
		t.Scaler = new(ScalerProperties)
		return w.Properties.Decode(t.Scaler)
	case traitKindLink:
		t.Link = new(LinkProperties)
		return w.Properties.Decode(t.Link)
	default:
		return w.Properties.Decode(&t.Custom)
	}
}

// UnmarshalJSON decodes a trait strictly.
func (t *Trait) UnmarshalJSON(data []byte) error { return decodeJSONInto(data, t) }

// UnmarshalYAML decodes a manifest node strictly, as ParseManifest does.
func (m *Manifest) UnmarshalYAML(n *yaml.Node) error {
	parsed, err := parseNode(n)
	if err != nil {
		return err
	}
	*m = *parsed
	return nil
}

// UnmarshalJSON decodes a manifest strictly, as ParseManifest does.
func (m *Manifest) UnmarshalJSON(data []byte) error {
	parsed, err := ParseManifest(data)
	if err != nil {
		return err
	}
	*m = *parsed
	return nil
}

type traitKindT int

const (
	traitKindCustom traitKindT = iota
	traitKindScaler
	traitKindLink
)

func traitKind(typ string) traitKindT {
	switch typ {
	case TraitSpreadScaler, TraitDaemonScaler:
		return traitKindScaler
	case TraitLink:
		return traitKindLink
	default:
		return traitKindCustom
	}
}
