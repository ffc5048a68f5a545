// Package lattice owns how wasmcanvas reaches a NATS lattice: client
// connection options and credentials (creds files, nkey seeds, user JWTs,
// tokens, user/password, TLS), reconnect policy and its logging.
//
// Its subpackages own the rest of what a lattice is made of: subject names
// every NATS subject, stream and KV bucket name (pure, for the core), and
// embedded runs the in-process nats-server with JetStream that `canvas up`
// uses. The split keeps a program that only connects, such as a client of
// canvasd's API, from linking a whole NATS server.
//
// The embedded server is the same nats-server a production cluster runs, wired
// in-process; clients still connect to it over TCP through its ClientURL, so
// the embedded and distributed paths share one code path. This package does
// not speak any protocol on top of NATS (pkg/wadm/wadmclient, pkg/store do)
// and never logs a secret.
package lattice
