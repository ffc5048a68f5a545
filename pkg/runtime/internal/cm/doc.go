// Package cm is the cgo binding of the wasmtime component-model C API that
// the runtime needs: engine (epoch interruption), component compile,
// serialize and an on-disk compile cache, a linker with Go host functions
// and host resources, stores with memory limits and epoch deadlines,
// instantiation, export lookup and calls with component values.
//
// It owns every C object it creates: each has exactly one Go owner with a
// Close method, and nothing is freed by a finalizer. Go values never live in
// C memory: host functions, resource destructors and store data reach Go
// through runtime/cgo handles (integers), never through Go pointers.
//
// Crossing cgo costs more than the work at many host calls, so the C side
// (cm.c) does what it can in one go: the host-call trampoline passes the
// store's handle, converts top-level resource arguments before Go runs and
// turns owned resources in the results (left by Go as markers) into
// wasmtime values after Go returns. A new store gets its limits, context and
// far deadline in one call (cm_store_new), and an export call converts its
// resource arguments, calls, runs post-return and frees its arguments in
// one (cm_func_call). A list<u8> (body chunks, field values) is filled and
// read by one C loop each; the C API has no byte list and gives a host
// function no access to the guest's memory, so it still crosses as one value
// per byte (BenchmarkBytesCrossing measures that against a latin1 string,
// which crosses whole: the runtime's stream adapter, internal/compose,
// moves stream chunks as strings). HostCalls counts the calls into Go, for
// the tests that pin the crossings of a request.
//
// A baseline engine (EngineConfig.Baseline) compiles with Winch, which the
// library has but its C API cannot name: winch.go and cm_config_winch
// select it through the one byte wasmtime_config_strategy_set writes,
// after checking that setter's machine code, and NewEngine confirms the
// engine is Winch (it must refuse a tail call) or falls back to Cranelift.
//
// wasmtime_api.h declares the part of the C API it uses (so the plain go
// command builds it, with no include path into the module cache);
// TestWasmtimeAPIMatchesUpstream holds it to wasmtime-go's headers, and
// wasmtime-go's own cgo directives link the library.
//
// It must not know about WASI, HTTP or any interface a component imports;
// those are built on top of it (internal/wasi, internal/wasihttp).
// It is the only package of the runtime that uses cgo.
package cm
