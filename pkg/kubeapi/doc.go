// Package kubeapi serves Components the way a Kubernetes API server serves
// the reference canvas's custom resources, so kubectl and client-go work
// against wasmcanvas: discovery, OpenAPI v3 (kubectl explain), get/list
// (with tables of the reference printer columns), watch, create, replace,
// patch (merge, JSON, strategic as merge, server-side apply with
// managedFields and conflicts),
// delete and the read-only status subresource, at oda.tmforum.org/v1,
// v1beta4 and v1beta3 with conversion both ways. It also serves the
// ExposedAPI and DependentAPI children, read-only, derived from each
// Component and its status, and in core v1 the namespaces in use and the
// reconciler's events (Options.Events), both read-only.
//
// It is a second front end over pkg/api's store, admission and watch
// fan-out: it owns no state of its own but an in-memory index of what the
// fan-out delivers (so lists cost no store round trip), and must not write
// anywhere but through api.Server. Errors are metav1.Status objects whose
// causes carry pkg/oda's field paths.
package kubeapi
