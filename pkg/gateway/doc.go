// Package gateway owns the HTTP ingress of the embedded canvas: it routes
// each request to the handler of the exposed API whose path is the longest
// segment-boundary prefix of the request path, answers its own failures
// (no route, app not ready, handler failed or timed out) as RFC 9457
// problem JSON, and logs and counts every request. With an Observer
// (pkg/observe) it also opens a server span per request that continues the
// client's W3C traceparent (the handler's context and traceparent header
// carry it on), puts the route's Source, with its API, in the handler's
// context (observe.WithSource), counts each request in its route's
// Component's series (Route.Source) and serves those series at the
// Component's metrics API (Route.Metrics: a managementFunction API of apiType prometheus); canvasd's
// own /metrics keeps the canvas_gateway_* series. A route's policy.Spec
// (Route.Policy: guard, API key, rate limit, quota, OpenAPI validation,
// CORS) is compiled by pkg/gateway/enforce with Options.Policy when the
// route is set and enforced in front of its handler; every request loses
// its incoming X-Wasmcanvas-* headers first, so only the guard and the API
// key name the caller to a component. The problem writer is
// package gateway/problem, which the runtime behind the gateway uses for
// its own failures too, so clients parse one format.
//
// The route table is replaced one app at a time and read without locks.
// The gateway must not know what a handler runs (Wasm or anything else),
// must not rewrite the request path, and must not decide which apps exist:
// the deployer that owns the apps calls SetRoutes, SetUnavailable, SetReady
// and RemoveApp (canvas up also marks the routes of stored Components
// unavailable until the deployer has restored them after a restart).
package gateway
