// Package node is the host side of the wasmCloud 1.x control interface
// (shared reference CONTROL-INTERFACE.md): a Node joins a lattice as a
// host whose id is an nkey, answers host.ping, host.get, component.scale
// and .update, the auctions (only when their constraints match its
// labels), link, config and label requests and host.stop, and publishes
// the host events (host_started, host_heartbeat with its inventory,
// component_scaled, linkdef_set, ...) as CloudEvents with upstream's
// field names. Payload types are pkg/latticeadmin's, byte-faithful to
// wasmCloud v1.9.2; subjects come from pkg/lattice/subject.
//
// What runs is a Workload's business (Runtime in this package: the wasm
// runtime and the HTTP ingress of `canvas node`); the node keeps the
// inventory, the lattice's links and named config, and resolves nothing
// itself. Capability providers are refused with provider_start_failed,
// except those the Workload runs in-process (canvas-bridge, pkg/bridge,
// given host data and its links as a host gives a provider process).
//
// Links and named config: with Options.JetStream they live in the
// lattice's LATTICEDATA_/CONFIGDATA_ buckets as upstream hosts keep them
// (store.go): one host of upstream's queue group handles a put and
// publishes its event, every node follows the buckets. Without, every node
// applies each put it sees and one (the queue group's) answers it and
// publishes its event; a node that starts later learns them from the
// hosts already there. Options.RunningFile keeps what the node runs
// across restarts (persist.go). The Runtime resolves SECRET_ references
// through the lattice's secrets backends (Secrets, secrets.go), as a
// v1.9 host does.
package node
