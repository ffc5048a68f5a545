package wadm

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
)

// Validate runs the checks wadm 0.21 makes before it stores a manifest
// (wadm-types validation.rs, the error-level ones): a valid name, a version
// other than "latest", unique component names and ids, link targets that
// are components of this manifest, image xor shared application, and no
// duplicate links. Messages are wadm's, so a refusal reads the same here as
// from wadm; each FieldError also names the field path.
func (m *Manifest) Validate() error {
	var errs []FieldError
	add := func(path, msg, fix string) { errs = append(errs, FieldError{Path: path, Msg: msg, Fix: fix}) }

	if subject.ValidateAppName(m.Metadata.Name) != nil {
		add("metadata.name", fmt.Sprintf("manifest name [%s] is not allowed (should match regex [^[-\\w]+$])", m.Metadata.Name),
			"use letters, digits, '-' and '_'")
	}
	if m.Version() == LatestVersion {
		add("metadata.annotations.version", LatestVersion+" is not allowed in wadm", "choose another version, or leave it out to get a generated one")
	}

	names, ids := map[string]bool{}, map[string]bool{}
	targets := map[string]bool{}
	for i, c := range m.Spec.Components {
		path := fmt.Sprintf("spec.components[%d]", i)
		if names[c.Name] {
			add(path+".name", "Duplicate component name in manifest: "+c.Name, "give each component its own name")
		}
		names[c.Name] = true
		if id := c.Properties.ID; id != "" {
			if ids[id] {
				add(path+".properties.id", "Duplicate component identifier in manifest: "+id, "give each component its own id")
			}
			ids[id] = true
		}
		validateSource(c, path, add)
		for _, t := range c.Traits {
			if t.Link != nil {
				targets[t.Link.Normalized().Target.Name] = true
			}
		}
		validateLinks(c, path, add)
	}
	var missing []string
	for t := range targets {
		if !names[t] {
			missing = append(missing, fmt.Sprintf("%q", t))
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		add("spec.components", "The following capability component(s) are missing from the manifest: ["+strings.Join(missing, ", ")+"]",
			"add the link targets as components")
	}
	if len(errs) > 0 {
		return &ManifestError{Errors: errs}
	}
	return nil
}

// validateSource checks where a component's code comes from.
func validateSource(c Component, path string, add func(path, msg, fix string)) {
	p := c.Properties
	switch {
	case p.Image != "" && p.Application != nil:
		add(path+".properties", "Component cannot have both 'image' and 'application' properties", "keep one of them")
	case p.Image == "" && p.Application == nil:
		add(path+".properties", "Component must have either 'image' or 'application' property", "add image")
	case p.Application != nil && len(p.Config) > 0:
		add(path+".properties.config", fmt.Sprintf("Shared component '%s' cannot specify additional 'config'", p.Application.Name), "configure it in the shared application")
	case p.Application != nil && len(p.Secrets) > 0:
		add(path+".properties.secrets", fmt.Sprintf("Shared component '%s' cannot specify additional 'secrets'", p.Application.Name), "configure them in the shared application")
	case p.Application != nil && slices.ContainsFunc(c.Traits, func(t Trait) bool { return t.Scaler != nil }):
		add(path+".traits", fmt.Sprintf("Shared component '%s' cannot include a scaler trait", p.Application.Name), "scale it in the shared application")
	}
}

// validateLinks rejects two links from one component with the same name,
// namespace, package and interface.
func validateLinks(c Component, path string, add func(path, msg, fix string)) {
	type key struct{ name, ns, pkg, iface string }
	seen := map[key]bool{}
	for j, t := range c.Traits {
		if t.Link == nil {
			continue
		}
		l := t.Link
		for _, iface := range l.Interfaces {
			k := key{l.EffectiveName(), l.Namespace, l.Package, iface}
			if seen[k] {
				add(fmt.Sprintf("%s.traits[%d].properties", path, j),
					fmt.Sprintf("Duplicate link found inside component '%s': %s (%s:%s/%s)", c.Name, k.name, k.ns, k.pkg, k.iface),
					"give one of the links another name")
			}
			seen[k] = true
		}
	}
}
