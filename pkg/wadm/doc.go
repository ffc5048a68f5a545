// Package wadm owns the wadm application manifest (OAM `core.oam.dev/v1beta1`
// `Application`) and the request and reply types of wadm's NATS API,
// following wadm 0.21.x (wasmCloud 1.x). It is pure: no I/O and no NATS
// import, so the translator and any tool that only renders manifests link
// no NATS (a dependency test keeps it so). The client that speaks the API
// over NATS is in wadmclient; the subjects are in pkg/lattice/subject.
//
// No upstream Go client for wadm is reachable, so the request and response
// types and their JSON are written from the upstream protocol notes (the
// shared reference WADM-API.md, read against wadm's wadm-types crate):
// replies marshal byte for byte as wadm serializes them. Manifests parse
// strictly (unknown fields are errors naming their path and line) and keep the
// legacy forms wadm still accepts (component type `actor`, link `target` given
// as a bare name, `source_config`/`target_config`) so a manifest round-trips
// unchanged; Normalized gives the form wadm stores, and Validate makes
// wadm's own pre-put checks with wadm's messages. CompileSchema checks a
// document against wadm's published oam.schema.json (passed in, not
// embedded).
//
// The package does not place components, talk to hosts, or interpret ODA
// resources (pkg/translate and pkg/deploy do). Package wadmtest holds a wadm
// double for tests.
package wadm
