// Package translate turns an ODA Component into a wadm application
// manifest: one application per Component, named {namespace}-{name}.
//
// It is a pure, deterministic function: no I/O, no clock, no randomness;
// the same Component and Options give the same bytes. It never fetches a
// Wasm artefact, it only names it. Every manifest part it writes is
// recorded in the wasmcanvas.io/provenance annotation with the ODA field
// path it came from.
//
// The mapping (DESIGN.md, "How an ODA Component maps onto wasmCloud"):
//
//   - each distinct exposed-API or event implementation becomes a Wasm
//     component whose image comes from the wasmcanvas.io/implementations
//     annotation or Options.Implementations (the latter wins per key);
//   - each exposed API (core, management, security) becomes a
//     wasi:http/incoming-handler link from the shared HTTP ingress to its
//     implementation, with the API path and apiType as the link's source
//     config (IngressRoutes reads them back);
//   - dependent APIs become a wasi:http/outgoing-handler link to the shared
//     HTTP client and config entries naming each dependency;
//   - securityFunction becomes a wasmcanvas:identity/tokens link to
//     canvas-bridge whose target config names the ODA Component
//     (namespace, component) and its roles (canvasSystemRole,
//     componentRoles; SecuredComponents reads the links back),
//     managementFunction a wasmcanvas:observe link (ObservedComponents);
//   - published events become wasmcloud:messaging/consumer links, and
//     subscribed events wasmcloud:messaging/handler links with the event's
//     NATS subject;
//   - the wasmcanvas.io/placement annotation (oda.Placement: replicas per
//     edge site or per set of host labels) becomes a spreadscaler with one
//     spread per site (requirement site=NAME) or selector, weighted by its
//     replicas, and their sum as instances, so wadm's split gives each
//     exactly its replicas; the older wasmcanvas.io/instances, /sites and
//     /spread annotations still set instances and spreads directly.
//
// The ingress, HTTP client, messaging and keyvalue providers and
// canvas-bridge are shared components of one system application
// (Options.SystemApp), so every Component's manifest refers to them instead
// of starting its own. SystemApplication builds that application (marked
// shared for wadm, upstream provider images pinned in system.go), with the
// same component names the references use; SystemBridge is canvas-bridge's
// component there: its provider archive and its id (BridgeID), named in
// bridge.go and nowhere else.
package translate
