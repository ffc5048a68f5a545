// Package runtime is wasmcanvas's embedded single-node Wasm component host:
// wasmtime's component model through cgo (the C API bundled with
// wasmtime-go), a WASI 0.2 host written in Go, and wasi:http
// incoming-handler components served as Go http.Handlers.
//
// A Host owns one wasmtime engine (epoch interruption on, one ticker
// goroutine) and an optional on-disk compile cache. Host.Load loads a
// component's optimised code from memory or the cache, or, for bytes never
// compiled here, compiles baseline code quickly (a second engine: Winch,
// wasmtime's baseline compiler, where it can be selected, else Cranelift
// unoptimised; Config.NoWinch) and serves from it while the optimised code
// compiles in the background and then takes over (Info.Tier,
// Info.BaselineCompiler, Config.NoBaseline); it links the WASI and wasi:http versions the
// component imports, and returns a Component that serves HTTP. Each request runs
// in a fresh instance of the pre-compiled component, as wasmtime serve and
// wasmCloud do: no state leaks between requests, and toolchains that
// refuse a second request on one instance (componentize-js) work. By
// default the engine uses wasmtime's pooling allocator (as wasmtime serve
// does): instance slots are reserved up front and reused, the first
// Config.ResidentBytes of each memory stay resident between uses (reset in
// place), and instantiating costs a few microseconds instead of mapping
// memory per request; Config.OnDemand turns it off. An instance whose
// teardown is slow (resetting a JavaScript heap in place) is torn down
// after its response, holding its slot until then. Host.Stats (and its
// Prometheus Collector) says how full the pool is; a Profile says where
// requests' time goes.
//
// A component that imports wasi:io/streams is wrapped at load with the
// stream adapter (internal/compose): its stream bytes then cross into the
// host as one UTF-8 string per chunk instead of one C API value per byte
// (the C API has no byte list): as they are, or, when they are not UTF-8
// (ASCII, for writes), packed 7 bits a char. The component runs nested;
// where that is safe its lowers of the two reads are retyped to return
// latin1 strings (the same core ABI: its code is unchanged), so its reads
// are copied whole (Info.StreamsRetyped; the load logs why a component is
// not, and falls back to not retyping it should wasmtime refuse the
// retyped one).
// Config.NoStreamAdapter (or WASMCANVAS_STREAM_ADAPTER=off) turns it off.
//
// Per component: environment and wasi:config values from maps, stdout
// and stderr as zap entries tagged with the component's name,
// wasi:keyvalue over a KeyValue (NewJetStreamKV: one JetStream KV bucket
// per component; with WithKVReplica its reads are answered from an
// in-memory replica of the bucket a KV watch keeps, waiting for this
// host's own writes, see KVReplicas), wasmcanvas:observe (metrics, tracing, logging) as host
// functions calling the component's observe.Recorder in-process (the
// Recorder canvas-bridge serves over wRPC; tracing.current answers the
// gateway's span for the request, else its traceparent header; the
// records name the API of the gateway's route for the request,
// observe.SourceFrom; with an *observe.Observer each outgoing request
// also gets a client span whose traceparent it carries), wasi:logging to
// that Recorder's Log too when the component is linked (else zap
// entries tagged with its name), wasmcanvas:identity/tokens (verify,
// access-token) as host functions over the component's auth.Tokens (the
// rules canvas-bridge serves over wRPC; not linked, every call answers
// unavailable), a linear-memory cap, a per-request deadline that interrupts running
// wasm (504) and abandons blocking host calls, and an optional cap on
// in-flight requests (beyond it a request waits for a slot, then gets 503
// with Retry-After); these failures answer the gateway's problem JSON
// (package gateway/problem). Filesystem and sockets are
// closed (no preopens, access-denied); wasi:http/outgoing-handler sends
// through one shared Go http.Client, only to the authorities the
// component's allow-list names.
//
// It runs the components of one node and never schedules across hosts.
// cgo is confined to internal/cm; internal/wasi and internal/wasihttp are
// the Go host interfaces built on it.
package runtime
