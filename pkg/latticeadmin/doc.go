// Package latticeadmin is a client of the wasmCloud 1.x host control
// interface and host event stream (shared reference CONTROL-INTERFACE.md):
// the queries and the few changes `canvas lattice …` makes (host ping and
// inventory, links, named config, host labels) and a live tail of the
// lattice's host events.
//
// Its payload types are byte-faithful to the upstream control-interface
// crate (wasmCloud v1.9.2): same JSON field names, same field order, same
// fields left out or written as null, so a reply decoded and encoded again
// with Marshal is the bytes a host sent. Subjects come from
// pkg/lattice/subject. It only talks to hosts: it starts, scales and links
// nothing (wadm does), and owns no goroutine beyond a call.
package latticeadmin
