package oda

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Checks here are the ones the CRD schema cannot express but the canvas
// relies on: names become route and child-resource names, paths become
// gateway routes, the implementations annotation says what to run and the
// placement annotation where.

const dnsFix = "use at most 63 lower-case letters, digits or '-', starting and ending with a letter or digit"

// function is one of the three API-bearing parts of a spec.
type function struct {
	name      string
	exposed   []ExposedAPI
	dependent []DependentAPI
}

func functionsOf(s *ComponentSpec) []function {
	var out []function
	if f := s.CoreFunction; f != nil {
		out = append(out, function{"coreFunction", f.ExposedAPIs, f.DependentAPIs})
	}
	if f := s.ManagementFunction; f != nil {
		out = append(out, function{"managementFunction", f.ExposedAPIs, f.DependentAPIs})
	}
	if f := s.SecurityFunction; f != nil {
		out = append(out, function{"securityFunction", f.ExposedAPIs, f.DependentAPIs})
	}
	return out
}

// semantic runs the checks on a decoded v1 Component; locations are v1.
func semantic(c *Component) []issue {
	var out []issue
	add := func(tokens []string, msg, fix string) {
		out = append(out, issue{tokens: tokens, msg: msg, fix: fix})
	}

	switch name := c.Metadata.Name; {
	case name == "":
		add(tok("metadata", "name"), "required field is missing", "name the Component, e.g. metadata.name: ctk-productcatalogmanagement")
	case CheckDNSLabel(name) != nil:
		add(tok("metadata", "name"), fmt.Sprintf("%q is not a valid name (DNS-1123 label)", name), dnsFix)
	}
	if ns := c.Metadata.Namespace; ns != "" && CheckDNSLabel(ns) != nil {
		add(tok("metadata", "namespace"), fmt.Sprintf("%q is not a valid namespace (DNS-1123 label)", ns), dnsFix)
	}
	if raw, ok := c.Metadata.Annotations[AnnotationImplementations]; ok {
		for _, is := range checkImplementations(raw) {
			add(tok("metadata", "annotations", AnnotationImplementations), is.msg, is.fix)
		}
	}
	if raw, ok := c.Metadata.Annotations[AnnotationPlacement]; ok {
		_, issues := checkPlacement(raw)
		for _, is := range issues {
			add(tok("metadata", "annotations", AnnotationPlacement), is.msg, is.fix)
		}
	}

	exposedNames := map[string][]string{}
	dependentNames := map[string][]string{}
	type route struct {
		api  string
		path []string
	}
	paths := map[string]route{}
	for _, f := range functionsOf(&c.Spec) {
		for i, a := range f.exposed {
			at := tok("spec", f.name, "exposedAPIs", i)
			nameAt := append(at[:4:4], "name")
			if a.Name == "" {
				add(nameAt, "must not be empty", "name the API; the name becomes its route and status entry name")
			} else if !validAPIName(a.Name) {
				add(nameAt, fmt.Sprintf("%q is not a valid API name (DNS-1123 label)", a.Name),
					dnsFix+"; the canvas names the API's route and status entry <component>-<api>")
			} else if first, dup := exposedNames[a.Name]; dup {
				where := "in " + f.name
				if first[1] != f.name {
					where = "across " + first[1] + " and " + f.name
				}
				add(nameAt, fmt.Sprintf("duplicate exposed API name %q %s (first at %s)", a.Name, where, displayTokens(first)),
					"give each exposed API its own name; names become route names")
			} else {
				exposedNames[a.Name] = nameAt
			}
			for _, p := range apiPaths(a, at) {
				if !strings.HasPrefix(p.value, "/") {
					add(p.at, fmt.Sprintf("%q must start with \"/\"", p.value), fmt.Sprintf("write %q", "/"+p.value))
					continue
				}
				if strings.ContainsAny(p.value, " \t?#") {
					add(p.at, fmt.Sprintf("%q is not a URL path (no spaces, '?' or '#')", p.value), "write the path prefix only, e.g. /<component>/tmf-api/<api>/v4")
					continue
				}
				key := strings.TrimSuffix(p.value, "/")
				if prev, dup := paths[key]; dup && prev.api != pointer(at) {
					add(p.at, fmt.Sprintf("path %q is already used by %s", p.value, displayTokens(prev.path)), "give each exposed API its own path")
					continue
				}
				if _, dup := paths[key]; !dup {
					paths[key] = route{api: pointer(at), path: p.at}
				}
			}
			for _, p := range apiPorts(a, at) {
				checkPort(p.value, p.at, add)
			}
		}
		for i, d := range f.dependent {
			nameAt := tok("spec", f.name, "dependentAPIs", i, "name")
			if d.Name == "" {
				add(nameAt, "must not be empty", "name the dependency; the component looks its URL up by this name")
			} else if !validAPIName(d.Name) {
				add(nameAt, fmt.Sprintf("%q is not a valid API name (DNS-1123 label)", d.Name),
					dnsFix+"; the canvas names the dependency's status entry <component>-<api>")
			} else if first, dup := dependentNames[d.Name]; dup {
				add(nameAt, fmt.Sprintf("duplicate dependent API name %q (first at %s)", d.Name, displayTokens(first)),
					"give each dependent API its own name; the component looks its URL up by name")
			} else {
				dependentNames[d.Name] = nameAt
			}
		}
	}

	if sf := c.Spec.SecurityFunction; sf != nil {
		if len(sf.ExposedAPIs) > 0 && sf.CanvasSystemRole == "" {
			add(tok("spec", "securityFunction", "canvasSystemRole"),
				"required when securityFunction has exposed APIs: the canvas is granted this role on the component's role API (partyrole or userrolesandpermissions)",
				"set canvasSystemRole, e.g. canvasSystemRole: Admin")
		}
		roles := map[string]int{}
		for i, r := range sf.ComponentRole {
			at := tok("spec", "securityFunction", "componentRole", i, "name")
			if r.Name == "" {
				add(at, "must not be empty", "name the role")
				continue
			}
			if first, dup := roles[r.Name]; dup {
				add(at, fmt.Sprintf("duplicate role %q (first at componentRole[%d])", r.Name, first), "declare each role once")
				continue
			}
			roles[r.Name] = i
		}
		if sm := sf.SecretsManagement; sm != nil && sm.SideCar != nil && sm.SideCar.Port != nil {
			checkPort(*sm.SideCar.Port, tok("spec", "securityFunction", "secretsManagement", "sideCar", "port"), add)
		}
	}
	if en := c.Spec.EventNotification; en != nil {
		for i, e := range en.PublishedEvents {
			for j, s := range e.Specification {
				if s.Port != nil {
					checkPort(*s.Port, tok("spec", "eventNotification", "publishedEvents", i, "specification", j, "port"), add)
				}
			}
		}
		for i, e := range en.SubscribedEvents {
			for j, s := range e.Specification {
				if s.Port != nil {
					checkPort(*s.Port, tok("spec", "eventNotification", "subscribedEvents", i, "specification", j, "port"), add)
				}
			}
		}
	}
	return out
}

func validAPIName(n string) bool { return CheckDNSLabel(n) == nil }

func checkPort(p int, at []string, add func([]string, string, string)) {
	if p < 1 || p > 65535 {
		add(at, fmt.Sprintf("port %d is out of range 1..65535", p), "use the port the implementation listens on, e.g. 8080")
	}
}

type located[T any] struct {
	value T
	at    []string
}

// apiPaths lists every path an exposed API sets: at the root and in each
// specification (one per API generation).
func apiPaths(a ExposedAPI, at []string) []located[string] {
	var out []located[string]
	if a.Path != "" {
		out = append(out, located[string]{a.Path, append(at[:4:4], "path")})
	}
	for j, s := range a.Specification {
		if s.Path != "" && (j > 0 || s.Path != a.Path) {
			out = append(out, located[string]{s.Path, append(at[:4:4], "specification", fmt.Sprint(j), "path")})
		}
	}
	return out
}

func apiPorts(a ExposedAPI, at []string) []located[int] {
	var out []located[int]
	if a.Port != nil {
		out = append(out, located[int]{*a.Port, append(at[:4:4], "port")})
	}
	for j, s := range a.Specification {
		if s.Port != nil {
			out = append(out, located[int]{*s.Port, append(at[:4:4], "specification", fmt.Sprint(j), "port")})
		}
	}
	return out
}

// displayTokens renders v1 tokens of a typed Component, where numeric tokens
// are always list indexes.
func displayTokens(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		if t != "" && t[0] >= '0' && t[0] <= '9' {
			b.WriteString("[" + t + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(t)
	}
	return b.String()
}

var (
	ociRef = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9.-]*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`)
)

// checkImplementations checks the value of the implementations annotation:
// a JSON object mapping implementation names to Wasm artefacts.
func checkImplementations(raw string) []issue {
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil || m == nil {
		return []issue{{msg: "must be a JSON object of implementation name to Wasm artefact",
			fix: `write e.g. {"ctk-prodcatapi": "oci://ghcr.io/org/prodcat:1.0.0"}`}}
	}
	var out []issue
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v, ok := m[k].(string)
		switch {
		case k == "":
			out = append(out, issue{msg: "has an empty implementation name", fix: "use the implementation name the exposed API gives"})
		case !ok:
			out = append(out, issue{msg: fmt.Sprintf("value of %q must be a string, got %s", k, describe(m[k])), fix: "give an oci:// reference or a file:// path"})
		case v == "":
			out = append(out, issue{msg: fmt.Sprintf("value of %q is empty", k), fix: "give an oci:// reference or a file:// path"})
		case !validArtefact(v):
			out = append(out, issue{msg: fmt.Sprintf("value of %q is %q, not an OCI reference or file:// path", k, v),
				fix: "write oci://registry/repo:tag, registry/repo:tag, or file:///path/to/component.wasm"})
		}
	}
	return out
}

func validArtefact(v string) bool {
	switch {
	case strings.HasPrefix(v, "file://"):
		return len(v) > len("file://")
	case strings.HasPrefix(v, "oci://"):
		return ociRef.MatchString(strings.TrimPrefix(v, "oci://"))
	case strings.Contains(v, "://"):
		return false
	default:
		return ociRef.MatchString(v)
	}
}
