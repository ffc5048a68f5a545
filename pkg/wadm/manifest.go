package wadm

import (
	"maps"
	"slices"
	"strings"
	"unicode"
)

// Values wadm fixes for every manifest.
const (
	// APIVersion is the only OAM apiVersion wadm accepts.
	APIVersion = "core.oam.dev/v1beta1"
	// Kind is the only manifest kind wadm accepts.
	Kind = "Application"
	// LatestVersion is reserved: as a requested version it means "the current
	// one", and a manifest may not use it as its own version.
	LatestVersion = "latest"
	// DefaultLinkName is the link name wadm uses when a link trait has none.
	DefaultLinkName = "default"
	// DefaultSpreadWeight is the weight wadm gives a spread without one.
	DefaultSpreadWeight = 100
)

// Annotation keys wadm reads from metadata.annotations.
const (
	// AnnotationVersion carries the manifest version; wadm fills it with a
	// ULID when it is missing.
	AnnotationVersion = "version"
	// AnnotationDescription is shown in model lists.
	AnnotationDescription = "description"
	// AnnotationShared marks an application whose components other
	// applications may refer to ("true").
	AnnotationShared = "experimental.wasmcloud.dev/shared"
)

// Component types.
const (
	// ComponentTypeComponent is a WebAssembly component.
	ComponentTypeComponent = "component"
	// ComponentTypeCapability is a capability provider.
	ComponentTypeCapability = "capability"
	// ComponentTypeActor is the pre-1.0 name of ComponentTypeComponent; wadm
	// still accepts it on input.
	ComponentTypeActor = "actor"
)

// Trait types wadm implements.
const (
	TraitSpreadScaler = "spreadscaler"
	TraitDaemonScaler = "daemonscaler"
	TraitLink         = "link"
)

// Manifest is a wadm application manifest.
type Manifest struct {
	APIVersion string   `json:"apiVersion" yaml:"apiVersion"`
	Kind       string   `json:"kind" yaml:"kind"`
	Metadata   Metadata `json:"metadata" yaml:"metadata"`
	Spec       Spec     `json:"spec" yaml:"spec"`
}

// Metadata names and labels a manifest. Annotations are always written
// (possibly empty) because the upstream schema requires the key.
type Metadata struct {
	Name        string            `json:"name" yaml:"name"`
	Annotations map[string]string `json:"annotations" yaml:"annotations"`
	Labels      map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
}

// Spec lists the components and policies of an application.
type Spec struct {
	Components []Component `json:"components" yaml:"components"`
	Policies   []Policy    `json:"policies,omitempty" yaml:"policies,omitempty"`
}

// Policy is an application-wide setting, such as a secrets backend.
type Policy struct {
	Name       string            `json:"name" yaml:"name"`
	Type       string            `json:"type" yaml:"type"`
	Properties map[string]string `json:"properties" yaml:"properties"`
}

// Component is one Wasm component or capability provider of an application.
type Component struct {
	Name string `json:"name" yaml:"name"`
	// Type is ComponentTypeComponent, ComponentTypeCapability or the legacy
	// ComponentTypeActor.
	Type       string     `json:"type" yaml:"type"`
	Properties Properties `json:"properties" yaml:"properties"`
	Traits     []Trait    `json:"traits,omitempty" yaml:"traits,omitempty"`
}

// IsCapability reports whether c is a capability provider.
func (c Component) IsCapability() bool { return c.Type == ComponentTypeCapability }

// Properties holds component and capability properties; upstream has one
// struct for each, with the same fields.
type Properties struct {
	// Image is the OCI reference (or file:// path) to run. Either Image or
	// Application is set.
	Image string `json:"image,omitempty" yaml:"image,omitempty"`
	// Application points at a component of a shared application.
	Application *SharedApplication `json:"application,omitempty" yaml:"application,omitempty"`
	// ID overrides the generated id `{manifest}-{component}`.
	ID      string           `json:"id,omitempty" yaml:"id,omitempty"`
	Config  []ConfigProperty `json:"config,omitempty" yaml:"config,omitempty"`
	Secrets []SecretProperty `json:"secrets,omitempty" yaml:"secrets,omitempty"`
}

// SharedApplication locates a component in another (shared) application.
type SharedApplication struct {
	Name      string `json:"name" yaml:"name"`
	Component string `json:"component" yaml:"component"`
}

// ConfigProperty names a configuration. With Properties nil the config is
// managed outside wadm; a non-nil map (even empty) is created by wadm, so the
// two are kept apart when marshalling.
type ConfigProperty struct {
	Name       string
	Properties map[string]string
}

// SecretProperty references a secret held by a secrets backend.
type SecretProperty struct {
	Name       string           `json:"name" yaml:"name"`
	Properties SecretProperties `json:"properties" yaml:"properties"`
}

// SecretProperties say which backend (Policy) and key hold a secret.
type SecretProperties struct {
	Policy  string `json:"policy" yaml:"policy"`
	Key     string `json:"key" yaml:"key"`
	Field   string `json:"field,omitempty" yaml:"field,omitempty"`
	Version string `json:"version,omitempty" yaml:"version,omitempty"`
}

// Trait attaches behaviour to a component. Exactly one of Scaler, Link and
// Custom is set, chosen by Type: spreadscaler and daemonscaler use Scaler,
// link uses Link, any other type keeps its properties as decoded JSON values
// in Custom.
type Trait struct {
	Type   string
	Scaler *ScalerProperties
	Link   *LinkProperties
	Custom any
}

// ScalerProperties configure a spreadscaler or daemonscaler.
type ScalerProperties struct {
	Instances int      `json:"instances" yaml:"instances"`
	Spread    []Spread `json:"spread,omitempty" yaml:"spread,omitempty"`
}

// Spread places a share of the instances on hosts whose labels match
// Requirements.
type Spread struct {
	Name         string            `json:"name" yaml:"name"`
	Requirements map[string]string `json:"requirements" yaml:"requirements"`
	// Weight is nil when not given (wadm then uses DefaultSpreadWeight); zero
	// is a real weight.
	Weight *int `json:"weight,omitempty" yaml:"weight,omitempty"`
}

// SpreadInstances is how many of p.Instances wadm's spreadscaler puts on
// each spread, in the order of p.Spread: instances*weight/total rounded
// down, then the instances left over one each to the spreads in order of
// weight, heaviest first (wadm's compute_spread). Nil without spreads.
func (p ScalerProperties) SpreadInstances() []int {
	if len(p.Spread) == 0 {
		return nil
	}
	weight := func(i int) int {
		if w := p.Spread[i].Weight; w != nil {
			return *w
		}
		return DefaultSpreadWeight
	}
	total := 0
	for i := range p.Spread {
		total += weight(i)
	}
	out := make([]int, len(p.Spread))
	if total == 0 {
		return out
	}
	given := 0
	for i := range p.Spread {
		out[i] = p.Instances * weight(i) / total
		given += out[i]
	}
	order := make([]int, len(p.Spread))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return weight(b) - weight(a) })
	for _, i := range order {
		if given >= p.Instances {
			break
		}
		out[i]++
		given++
	}
	return out
}

// LinkProperties configure a link from this component (the source) to
// Target over a WIT interface.
type LinkProperties struct {
	Namespace  string            `json:"namespace" yaml:"namespace"`
	Package    string            `json:"package" yaml:"package"`
	Interfaces []string          `json:"interfaces" yaml:"interfaces"`
	Source     *ConfigDefinition `json:"source,omitempty" yaml:"source,omitempty"`
	Target     LinkTarget        `json:"target" yaml:"target"`
	Name       string            `json:"name,omitempty" yaml:"name,omitempty"`
	// SourceConfig is the pre-0.13 form of Source.Config.
	//
	// Deprecated: use Source; kept so such manifests round-trip unchanged.
	SourceConfig []ConfigProperty `json:"source_config,omitempty" yaml:"source_config,omitempty"`
	// TargetConfig is the pre-0.13 form of Target.Config, read by wadm only
	// when the target is a bare name.
	//
	// Deprecated: use Target.Config; kept so such manifests round-trip
	// unchanged.
	TargetConfig []ConfigProperty `json:"target_config,omitempty" yaml:"target_config,omitempty"`
}

// Normalized returns the link as wadm reads it: the legacy source_config
// moves into Source unless Source is given, and target_config into
// Target.Config when the target was a bare name. Name stays as given (see
// EffectiveName).
func (l LinkProperties) Normalized() LinkProperties {
	n := l
	n.SourceConfig, n.TargetConfig = nil, nil
	if l.Source == nil && l.SourceConfig != nil {
		n.Source = &ConfigDefinition{Config: l.SourceConfig}
	}
	if l.Target.BareName {
		n.Target = LinkTarget{Name: l.Target.Name, Config: l.TargetConfig}
	}
	return n
}

// EffectiveName is the link name wadm uses: Name, or DefaultLinkName.
func (l LinkProperties) EffectiveName() string {
	if l.Name == "" {
		return DefaultLinkName
	}
	return l.Name
}

// ConfigDefinition is the config and secrets given to one end of a link.
type ConfigDefinition struct {
	Config  []ConfigProperty `json:"config,omitempty" yaml:"config,omitempty"`
	Secrets []SecretProperty `json:"secrets,omitempty" yaml:"secrets,omitempty"`
}

// LinkTarget is the component a link points at, with the config and secrets
// given to that end.
type LinkTarget struct {
	Name    string
	Config  []ConfigProperty
	Secrets []SecretProperty
	// BareName records the legacy form `target: name`; it marshals back to
	// that form while Config and Secrets are empty.
	BareName bool
}

// Version returns the manifest's version annotation ("" when unset).
func (m *Manifest) Version() string { return m.Metadata.Annotations[AnnotationVersion] }

// Description returns the manifest's description annotation.
func (m *Manifest) Description() string { return m.Metadata.Annotations[AnnotationDescription] }

// SetVersion sets the version annotation.
func (m *Manifest) SetVersion(v string) {
	if m.Metadata.Annotations == nil {
		m.Metadata.Annotations = map[string]string{}
	}
	m.Metadata.Annotations[AnnotationVersion] = v
}

// Links returns every link trait of the manifest with the name of the
// component it belongs to (the link source), in manifest order.
func (m *Manifest) Links() []SourcedLink {
	var out []SourcedLink
	for _, c := range m.Spec.Components {
		for _, t := range c.Traits {
			if t.Link != nil {
				out = append(out, SourcedLink{Source: c.Name, Link: *t.Link})
			}
		}
	}
	return out
}

// SourcedLink is a link trait and the component that declares it.
type SourcedLink struct {
	Source string
	Link   LinkProperties
}

// ComponentID returns the id wadm gives component c of this manifest: its
// properties.id when set, else `{manifest}-{component}` with each part
// lowercased and every non-alphanumeric character replaced by '_'
// (app hello-world, component http-component: hello_world-http_component).
func (m *Manifest) ComponentID(c Component) string {
	if c.Properties.ID != "" {
		return c.Properties.ID
	}
	return idPart(m.Metadata.Name) + "-" + idPart(c.Name)
}

// ComponentByName returns the named component.
func (m *Manifest) ComponentByName(name string) (Component, bool) {
	for _, c := range m.Spec.Components {
		if c.Name == name {
			return c, true
		}
	}
	return Component{}, false
}

func idPart(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return '_'
	}, strings.ToLower(s))
}

// Normalized returns a copy of m in the form wadm stores and returns it:
// legacy component type actor becomes component, and every link is
// Normalized (bare-name targets and source_config/target_config move into
// target and source). The copy shares no
// slices with m that it changes.
func (m *Manifest) Normalized() *Manifest {
	n := *m
	n.Metadata.Annotations = maps.Clone(m.Metadata.Annotations)
	n.Spec.Components = slices.Clone(m.Spec.Components)
	for i := range n.Spec.Components {
		c := &n.Spec.Components[i]
		if c.Type == ComponentTypeActor {
			c.Type = ComponentTypeComponent
		}
		c.Traits = slices.Clone(c.Traits)
		for j := range c.Traits {
			if l := c.Traits[j].Link; l != nil {
				nl := l.Normalized()
				c.Traits[j].Link = &nl
			}
		}
	}
	return &n
}
