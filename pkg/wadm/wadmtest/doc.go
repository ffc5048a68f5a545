// Package wadmtest is a wadm double for tests: it serves wadm 0.21's model
// API (`wadm.api.{lattice}.model.*`, queue group wadm_server) on a real NATS
// connection with wadm's reply payloads and messages, stores manifests in the
// JetStream KV bucket wadm_manifests (key `{lattice}-{name}`, in memory when
// JetStream is off), and drives application status through reconciling to
// deployed (or failed/waiting on request), publishing it on
// `wadm.status.{lattice}.{name}` into the wadm_status stream as wadm does.
//
// Replies follow wadm's code where it differs from the prose notes: the put
// message names the version that was current before the put, and the
// generic error reply has its keys sorted ({"message":...,"result":"error"})
// because wadm builds it with serde_json's json! map.
//
// It exists because no real wadm or wasmCloud host can run in this
// repository's tests. It must not be used outside tests: it starts no
// components and talks to no hosts; "deployed" only means the double says so.
package wadmtest
