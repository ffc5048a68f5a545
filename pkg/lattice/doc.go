// Package lattice owns how wasmcanvas reaches a NATS lattice: client
// connection options and credentials (creds files, nkey seeds, user JWTs,
// tokens, user/password, TLS), reconnect policy and its logging, the embedded
// nats-server with JetStream that `canvas up` runs, and every NATS subject and
// KV bucket name the canvas uses (subjects.go), so no other package spells a
// subject by hand.
//
// The embedded server is the same nats-server a production cluster runs, wired
// in-process; clients still connect to it over TCP through ClientURL, so the
// embedded and distributed paths share one code path. This package does not
// speak any protocol on top of NATS (pkg/wadm, pkg/wrpc, pkg/store do) and never
// logs a secret.
package lattice
