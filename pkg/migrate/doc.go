// Package migrate moves ODA Components between the Kubernetes reference
// canvas and wasmcanvas without changing their spec.
//
// A migration bundle is a directory: components/<namespace>/<name>.yaml
// (each Component with the cluster-only fields stripped and its spec as
// the source served it), implementations.yaml (the wasmcanvas.io/
// implementations mapping, implementation name to Wasm artefact, to fill
// in) and report.md (what maps onto wasmcanvas and what does not).
// Export reads Components from a Kubernetes API (client-go) or from
// canvasd (pkg/client); Plan checks a bundle before canvas migrate import
// applies it; DiffStatus compares a Component's status on both canvases
// field by field.
//
// Specs are never converted: a Component read as v1beta3 stays v1beta3 in
// the bundle (canvasd accepts v1, v1beta4 and v1beta3), so what comes back
// out of wasmcanvas is the same spec in the version wasmcanvas serves (v1)
// when it came in as v1. NormalizedSpec is the form two specs are compared
// in.
package migrate
