// Package wadmclient speaks wadm's NATS API for one lattice: the model
// operations on `wadm.api.{lattice}.model.*` and the application status
// wadm publishes on `wadm.status.{lattice}.{name}` (subjects from
// pkg/lattice/subject, payloads from pkg/wadm). Written from the upstream
// protocol notes (the shared reference WADM-API.md), as no upstream Go
// client for wadm is reachable.
//
// It talks to wadm and nothing else; it owns no goroutines except those of
// the status watches it returns.
package wadmclient
