// Package bridge is canvas-bridge, a wasmCloud 1.x capability provider
// (shared reference PROVIDER.md): it reads the host data a host writes on
// its stdin (ReadHostData), connects to the lattice with the host's
// credentials, answers health checks, stops only when its own host asks,
// keeps the link definitions the host puts and deletes (Links, keyed by
// the calling component's id, secrets opened with the provider's xkey),
// takes config updates and exposes its own OpenTelemetry settings
// (OtelConfig). Its parts are services of one pkg/service runner.
//
// The WIT interfaces it serves over wRPC plug in as Service values
// (Options.Services): each is started with the NATS connection and the
// Links every call must be checked against. pkg/bridge/observerpc serves
// wasmcanvas:observe, pkg/bridge/identityrpc wasmcanvas:identity (over
// pkg/auth's Verifier and TokenSource); pkg/bridge/par packages the binary as a provider
// archive.
//
// It must not implement an interface itself (pkg/observe and the identity
// service do) nor speak wRPC (pkg/wrpc does), and it never logs a secret:
// not the NATS seed, the xkey seed or a link's secrets.
package bridge
