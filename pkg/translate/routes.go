package translate

import (
	"strings"

	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/policy"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"

	"github.com/wasmcanvas/wasmcanvas/pkg/wadm"
)

// IngressRoute is one exposed API as translate encodes it in a manifest:
// a wasi:http/incoming-handler link from the shared ingress.
type IngressRoute struct {
	// API is the ODA exposed API name.
	API string
	// Path is the route prefix (the ODA path as given).
	Path string
	// Target is the manifest component that serves it.
	Target string
	// APIType is the ODA apiType ("openapi", "prometheus", ...), empty
	// when the Component gave none.
	APIType string
	// Namespace and Component name the ODA Component the route belongs to
	// (the manifest's labels).
	Namespace, Component string
	// Policy is what the gateway enforces on the API (the Component's
	// securityFunction and the API's gatewayConfiguration, defaults filled
	// in) as written in the manifest; PolicySpec decodes it.
	Policy string
}

// PolicySpec is the route's policy; the zero Spec when it has none. A
// policy that does not decode is an error: enforcing less than the
// manifest says would serve open an API that should not be.
func (r IngressRoute) PolicySpec() (policy.Spec, error) {
	if r.Policy == "" {
		return policy.Spec{}, nil
	}
	return policy.Decode(r.Policy)
}

// APITypePrometheus is the apiType of a metrics API: the canvas serves the
// Component's series there, not its implementation.
const APITypePrometheus = oda.APITypePrometheus

// Prometheus reports whether r is a metrics API (apiType prometheus).
func (r IngressRoute) Prometheus() bool { return strings.EqualFold(r.APIType, APITypePrometheus) }

// IngressRoutes reads back the routes Component wrote into m, in manifest
// order, so deployers need not know how translate encodes them.
func IngressRoutes(m *wadm.Manifest) []IngressRoute {
	var out []IngressRoute
	for _, sl := range m.Links() {
		l := sl.Link
		if sl.Source != IngressName || l.Namespace != ifaceIncoming.namespace || l.Package != ifaceIncoming.pkg || l.Source == nil {
			continue
		}
		for _, cfg := range l.Source.Config {
			if p, ok := cfg.Properties[routePath]; ok && strings.HasPrefix(cfg.Name, routeConfigPrefix) {
				out = append(out, IngressRoute{
					API: strings.TrimPrefix(cfg.Name, routeConfigPrefix), Path: p, Target: l.Target.Name,
					APIType:   cfg.Properties[routeAPIType],
					Namespace: m.Metadata.Labels[LabelNamespace], Component: m.Metadata.Labels[LabelComponentName],
					Policy: cfg.Properties[routePolicy],
				})
			}
		}
	}
	return out
}

// An ingress link's route config: its name starts with routeConfigPrefix,
// its properties are the path, the API's apiType and its policy (JSON of
// policy.Spec, absent when it enforces nothing). wasmCloud's http-server
// provider reads only the path and ignores the rest, so on a lattice the
// policy is recorded but not enforced (see the README's API policies).
const (
	routeConfigPrefix = "route-"
	routePath         = "path"
	routeAPIType      = "api-type"
	routePolicy       = "policy"
)

// KeyValueBuckets reads back, per Wasm component of m, the keyvalue bucket
// Component linked it to.
func KeyValueBuckets(m *wadm.Manifest) map[string]string {
	out := map[string]string{}
	for _, sl := range m.Links() {
		l := sl.Link
		if l.Target.Name != KeyValueName || l.Namespace != "wasi" || l.Package != "keyvalue" {
			continue
		}
		for _, cfg := range l.Target.Config {
			if b, ok := cfg.Properties["bucket"]; ok {
				out[sl.Source] = b
			}
		}
	}
	return out
}

// OutgoingHTTPCallers reads back which Wasm components of m Component
// linked to the shared http-client (wasi:http/outgoing-handler), the link
// dependent APIs get.
func OutgoingHTTPCallers(m *wadm.Manifest) map[string]bool {
	return linkedTo(m, HTTPClientName, ifaceOutgoing)
}

// ObservedComponents reads back which Wasm components of m Component linked
// to canvas-bridge's wasmcanvas:observe (it has a managementFunction).
func ObservedComponents(m *wadm.Manifest) map[string]bool {
	return linkedTo(m, BridgeName, ifaceObserve)
}

// SecuredComponents reads back which Wasm components of m Component linked
// to canvas-bridge's wasmcanvas:identity (it has a securityFunction).
func SecuredComponents(m *wadm.Manifest) map[string]bool {
	return linkedTo(m, BridgeName, ifaceIdentity)
}

// linkedTo is the set of components of m with a link to target for
// iface's WIT package.
func linkedTo(m *wadm.Manifest, target string, iface witIface) map[string]bool {
	out := map[string]bool{}
	for _, sl := range m.Links() {
		l := sl.Link
		if l.Target.Name == target && l.Namespace == iface.namespace && l.Package == iface.pkg {
			out[sl.Source] = true
		}
	}
	return out
}
