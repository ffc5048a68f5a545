// Package observe is the canvas's observability for Wasm components, the Go
// side of wit/observe.wit (wasmcanvas:observe): Recorder has one method per
// WIT function, and Observer implements it. It owns per-Component Prometheus
// registries (names checked as Prometheus requires, series capped per metric
// and per Component), the gateway's request series for each Component,
// spans and logs over OTLP/HTTP configured from the standard OTEL_*
// variables (off when none names an endpoint), W3C traceparent propagation,
// and component logs to zap. It knows no transport and no NATS.
//
// How the rest of the canvas plugs in (not wired here):
//   - canvasd and `canvas up` add Observer.Service to their service lists.
//   - The runtime links wasmcanvas:observe as host functions that call the
//     Recorder in-process with the instance's Source and the request's
//     context; canvas-bridge serves the same Recorder over wRPC, with the
//     Source from the caller's link and the context from the call's
//     traceparent header (ContextWithTraceContext).
//   - The gateway makes ServerSpans per route and Starts one per request
//     (the returned context is what the component's Current answers
//     from; WithSource puts the route's Source, with its API, in it, and
//     the runtime's calls and a linked component's wasi:logging records
//     are made as that Source's API), Ends it with the status, then
//     Metrics(src).ObserveRequest, AddInFlight and ObserveInstantiation, and
//     serves Metrics(src).Handler() at a Component's managementFunction
//     metrics API (apiType prometheus). Forget drops a deleted Component.
//   - The runtime's outgoing wasi:http calls StartClientSpan, which keeps
//     the component's own span as parent and sets the outgoing traceparent.
package observe
