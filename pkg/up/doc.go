// Package up runs the whole embedded canvas in one process, as `canvas up`
// does: nats-server with JetStream (state under the state directory),
// canvasd's control plane, the wasmtime runtime with its local deployer,
// the HTTP gateway on 127.0.0.1, and observability (pkg/observe: the
// gateway's spans and per-Component series, client spans on components'
// outgoing requests, OTLP export from the OTEL_* variables), and identity:
// the gateway verifies a guarded Component's API tokens with canvasd's
// issuer for that Component's audience, and wasmcanvas:identity is served
// in-process as the Component's client (identity.go).
//
// It is wiring only: the same packages run distributed (pkg/daemon against
// a NATS cluster and wadm). One state directory serves one canvas at a
// time: an exclusive lock on it refuses a second `canvas up`, and the
// lock file names the process that holds it so `canvas down` can stop it.
//
// Start checks the three listen addresses before it starts anything, and
// returns only once every stored Component serves again (or has failed);
// until then the gateway answers their paths with 503 and Retry-After.
// Running canvases list their state directories (Known) so that a port
// clash or `canvas down` can name the one meant.
package up
