// Package api owns the canvasd API: HTTP/JSON on the daemon's listen
// address (components CRUD with compare-and-set on resourceVersion, watch
// as server-sent events, reconcile events, health, readiness, Prometheus
// metrics) and the same operations as a NATS micro service under
// canvas.api.> for lattice tooling. It also serves the canvas info service
// (info.go): the reference canvas's dependent-API discovery, where a
// component asks at a fixed URL for its own dependent APIs and gets TMF638
// Service entries with the urls reconcile resolved; peer canvases
// register their APIs there (pkg/peer) — and the TMF639 Resource
// Inventory of the canvas's Components and APIs (inventory.go). Their
// lists follow TMF630 (tmf630.go).
//
// It admits Components (parse, validate, generation and resourceVersion
// bookkeeping) and merges desired state with the status the reconciler
// wrote. It must not deploy anything or write status: it reaches storage
// and the reconciler only through the Desired, Statuses and Events
// interfaces the daemon hands it.
package api
