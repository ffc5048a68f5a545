// Package local is the Deployer of the embedded canvas (`canvas up`): it
// runs the Wasm components of a wadm manifest on this one node's wasmtime
// runtime and routes the manifest's ingress links through the gateway.
//
// It takes the same manifests wadm would get and reports status in wadm's
// vocabulary (reconciling, deployed, failed with a message, undeployed), so
// reconcile and the ODA status are the same code in both modes. It does not
// place components across hosts: spreadscaler instances and spread
// requirements are accepted and ignored, since every request gets a fresh
// instance on this node (its status says so: IgnoresPlacement). Only file:// artefacts are loaded (nothing is
// fetched), and only from Options.ArtefactRoots, read through
// pkg/artefact, whose errors never quote a file's bytes (wasmtime's
// compile errors are replaced, not passed on); OCI references and
// non-shared capability providers fail with a message saying they need a
// wasmCloud lattice. Links to the shared canvas-bridge, HTTP client and
// messaging components are accepted, but those components do not run here:
// outgoing HTTP goes through the runtime's own wasi:http outgoing-handler
// (below); the canvas's observability WIT (wasmcanvas:observe) is served
// in-process from Options.Observer, the same Go implementation the bridge
// serves over wRPC, each component recording as its ODA Component; its
// identity WIT (wasmcanvas:identity) from Options.Identity, the auth.Tokens
// of the component's ODA Component; the rest messaging would serve
// (wasmcloud:messaging) is linked as functions that trap, so such a
// component loads and a request that calls one fails with a 500. A
// component that imports wasmcanvas:observe with no link to it (or when no
// Observer is given) gets not-linked from every call, as from the bridge;
// one that imports wasmcanvas:identity with no link (or when no Identity
// is given) gets unavailable, saying it is not linked.
// An application that serves nothing yet is unavailable at the gateway
// (503, Retry-After) while it loads; a version that serves keeps serving
// while the next one loads.
//
// What a component may reach follows its links: a component linked to the
// shared http-client (it has dependent APIs) may call the canvas's own
// ingress, where its dependencies are served, plus Options.AllowOutbound;
// any other component's outgoing requests are denied. Every component's
// wasi:cli environment holds COMPONENT_NAME and COMPONENT_NAMESPACE, and
// CANVAS_INFO_URL (the canvas info service) when it may call out; the
// properties of a component config named "env" join it. Its other configs
// are its wasi:config values.
package local
