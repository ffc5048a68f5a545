// Package par writes and reads wasmCloud provider archives (PAR), the
// format a wasmCloud 1.x host accepts a capability provider in (upstream
// crates/provider-archive and the wascap claims it signs): a tar, gzipped
// or not, holding claims.jwt and one executable per target, named
// {arch}-{os}.bin (x86_64-linux, aarch64-macos, ...).
//
// claims.jwt is a JWT signed with Ed25519 by an nkeys account key (the
// issuer); its wascap section names the provider and vendor and holds the
// SHA-256 (upper-case hex) of every target's bytes. Read verifies the
// signature and every hash both ways, so a changed binary, a changed claim
// or a target added or dropped after signing is refused.
//
// It does no network I/O; LoadOrCreateKeys reads, or creates 0600, the
// signing key file.
package par
