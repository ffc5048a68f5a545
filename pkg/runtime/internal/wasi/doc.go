// Package wasi is a WASI 0.2 host written in Go on top of the cm binding:
// wasi:io (error, poll, streams), wasi:clocks, wasi:random, wasi:cli
// (environment from a per-component map, stdout/stderr as zap log lines,
// empty stdin, no terminals, exit as a trap), wasi:logging (to the
// component's observe.Recorder when it is linked, else to zap),
// wasi:config from per-component maps, and wasi:keyvalue store and atomics
// (0.2.0-draft only: draft2 changed the signatures) over the component's
// KeyValue backend, each call capped at KeyValueCallTimeout, and
// wasmcanvas:observe over the component's observe.Recorder
// (ObserveInterfaces). Filesystem and sockets are deliberately closed:
// no preopened directories, socket creation and name lookup answer
// access-denied, everything else traps.
//
// Why Go and not wasmtime's own WASI (wasmtime_component_linker_add_wasip2):
// wasi:http is not in the C API, so it is implemented here in Go, and a Go
// host function can only create Go-defined (host_dynamic) resources. An
// incoming-body's input-stream or a clock's pollable must then be the same
// resource type as the one wasi:io/poll and wasi:io/streams accept, which
// wasmtime's WASI defines as its own Rust types; mixing the two fails the
// type check at instantiation. So every interface that shares resources
// with wasi:http lives here, and add_wasip2 is not used.
//
// Each interface is registered under exactly the versioned names a
// component imports (0.2.0 through 0.2.x), all sharing one resource type id
// per resource, so a component mixing minor versions still type-checks.
//
// It must not know about HTTP; wasihttp adds its interfaces through
// Link's extra definitions and the Ctx.HTTP slot.
package wasi
