// Package store keeps values per Component in a JetStream KV bucket: key
// {namespace}.{name}, value JSON-encoded. canvasd opens two stores: desired
// state (subject.ComponentsBucket, the default: the Component as it was
// applied) and status (subject.StatusBucket: the ODA status the reconciler
// writes, apart from desired state like a Kubernetes status subresource).
// It gives reads, list by namespace, create, compare-and-set update on the
// KV revision, put, delete, per-key revision history and a watch that
// replays current values and then follows changes.
//
// The store is generic over the value type and never interprets it (from
// pkg/oda it takes only the key type); it does not reconcile, validate
// Components or talk to wadm. Durability is the server's: a write is returned only after
// JetStream acknowledged it, and the embedded server (pkg/lattice/embedded) fsyncs
// before acknowledging, so acknowledged writes survive kill -9 of canvasd and
// of nats-server.
package store
