// Package edge owns a secured lattice's keys and the files that bring edge
// sites into it: `canvas lattice init` (an operator, a system account and
// the lattice account, their JWTs, user credentials per role with the least
// permissions that role needs, and the hub's nats-server config with a full
// account resolver) and `canvas edge bootstrap|revoke|list` (a site's
// leaf-node config, credentials, start script, systemd units and README;
// revocation as a new account JWT).
//
// Everything here is generation and rendering with nkeys and jwt, and reads
// and writes of one lattice directory; all writes go through files.go
// (a temporary directory renamed into place, or a file renamed over the
// old one), so a failure leaves nothing half-written. Seeds and signing keys
// are written 0600 and never appear in an error, a log line or a result.
// Talking to the hub (pushing an account JWT, asking for leaf nodes) is
// pkg/edge/hubclient's; this package links no NATS client or server.
package edge
