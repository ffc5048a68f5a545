package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/problem"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
)

// Defaults applied by NewHost and Load to zero fields.
const (
	DefaultMaxMemoryBytes = 256 << 20
	DefaultRequestTimeout = 30 * time.Second
	// DefaultPoolInstances is the pooling allocator's size: concurrent
	// requests, across the host's components, beyond which requests wait.
	DefaultPoolInstances = 128
	// DefaultResidentBytes is Config.ResidentBytes's default: a
	// componentize-js heap (10 MiB) fits.
	DefaultResidentBytes = cm.DefaultKeepResident
	// ProfilerEnv names the environment variable Config.Profiler falls
	// back to.
	ProfilerEnv = "WASMCANVAS_WASM_PROFILER"
	// StreamAdapterEnv set to "off" sets Config.NoStreamAdapter: an
	// operator's way out, in any process that runs components, should a
	// wrapped component misbehave.
	StreamAdapterEnv = "WASMCANVAS_STREAM_ADAPTER"
	// WinchEnv set to "off" sets Config.NoWinch.
	WinchEnv = "WASMCANVAS_WINCH"
	// PagemapScanEnv set to "on" sets Config.PagemapScan.
	PagemapScanEnv = "WASMCANVAS_PAGEMAP_SCAN"
)

// Config configures a Host.
type Config struct {
	// CacheDir holds compiled components keyed by the sha256 of their bytes
	// and the engine settings; empty disables the cache. Only this host
	// should write there: its entries are loaded as native code.
	CacheDir string
	// Log receives host and component logs; nil discards them.
	Log *zap.Logger
	// Limits are the defaults for components that set none.
	Limits Limits
	// PoolInstances sizes wasmtime's pooling allocator, which the host
	// uses unless OnDemand is set (as wasmtime serve does): that many
	// instances, hence concurrent requests across the host's components,
	// get pre-reserved slots, which makes per-request instantiation several
	// times cheaper. Limits.MaxMemoryBytes becomes the most any component
	// may set, and the host reserves (does not commit) about PoolInstances
	// × 4 × (4 GiB + guard) of virtual address space up front. Requests
	// beyond the pool wait for a slot (up to their RequestTimeout, then 503
	// with Retry-After). Zero means DefaultPoolInstances.
	PoolInstances uint32
	// OnDemand turns pooling off: every request's instance maps and unmaps
	// its own memory. Slower per request; no up-front reservation.
	OnDemand bool
	// ResidentBytes of each pooled memory stay resident between requests
	// and are reset in place; zero means DefaultResidentBytes. More is
	// faster for components with large heaps (JavaScript) and costs up to
	// PoolInstances × ResidentBytes of RSS once that many requests ran at
	// once.
	ResidentBytes uint64
	// OutgoingRequest, when set, sees every outgoing wasi:http request a
	// component sends, with the context of the request it serves, just
	// before it goes out; it may set headers (canvas up opens the client
	// span and sets traceparent there). The func it returns gets the
	// response or the error.
	OutgoingRequest func(ctx context.Context, req *http.Request) (done func(*http.Response, error))
	// NoBaseline compiles a component never seen before to optimised code
	// before serving it, as before the baseline tier: its first request
	// waits for the whole compile (seconds for a JavaScript component)
	// instead of a compile several times quicker, whose code runs slower
	// until the optimised code, compiled in the background, takes over.
	NoBaseline bool
	// NoWinch compiles baseline code with Cranelift (no optimisations,
	// single-pass register allocation) instead of Winch, wasmtime's
	// baseline compiler, which compiles about three times faster and is
	// used wherever this build of wasmtime can select it (x86-64; see
	// internal/cm/winch.go). A component Winch refuses gets Cranelift
	// baseline code anyway. WASMCANVAS_WINCH=off sets it.
	NoWinch bool
	// PagemapScan resets, after a request, only the pages of its pool
	// slot's memories the request wrote, which Linux's PAGEMAP_SCAN (6.7
	// and later) finds, instead of all ResidentBytes of each, written or
	// not: where this build of wasmtime lets it be selected (x86-64; see
	// internal/cm/pagemap.go) and the kernel has the ioctl. It pays for
	// small components (the echo: ~7% more requests a second) and costs
	// JavaScript ones: wasmtime resets at most 32 runs of written pages
	// and decommits the rest of the memory, so a StarlingMonkey heap,
	// written all over, faults its pages back in on the next request, and
	// 8 concurrent TMF620 GETs slow by a third. Hence off by default.
	// WASMCANVAS_PAGEMAP_SCAN=on sets it.
	PagemapScan bool
	// NoStreamAdapter loads components as they are. By default a component
	// that imports wasi:io/streams is wrapped (see package
	// internal/compose) so that its stream bytes cross into the host as
	// one string per chunk instead of one value per byte; what the
	// component sees does not change. A wrapped component that does not
	// compile is loaded as it is (with a warning).
	// WASMCANVAS_STREAM_ADAPTER=off sets it.
	NoStreamAdapter bool
	// Profiler names the native profiler the engine reports its compiled
	// code to ("perfmap" or "jitdump", see the README's "Where a JavaScript
	// request's time goes"); empty means the WASMCANVAS_WASM_PROFILER
	// environment variable, and none when that is unset too.
	Profiler string
}

// Limits bound one component. Zero fields take the host's defaults.
type Limits struct {
	// MaxMemoryBytes caps each linear memory of one request's instance.
	MaxMemoryBytes int64
	// RequestTimeout bounds one request: running wasm is interrupted and
	// the client gets 504.
	RequestTimeout time.Duration
	// MaxConcurrent caps the component's in-flight requests; 0 means no
	// cap. A request beyond it waits for a slot up to RequestTimeout, then
	// gets 503 with Retry-After.
	MaxConcurrent int
}

func (l Limits) orDefault(d Limits) Limits {
	if l.MaxMemoryBytes <= 0 {
		l.MaxMemoryBytes = d.MaxMemoryBytes
	}
	if l.RequestTimeout <= 0 {
		l.RequestTimeout = d.RequestTimeout
	}
	if l.MaxConcurrent <= 0 {
		l.MaxConcurrent = d.MaxConcurrent
	}
	return l
}

// ComponentConfig is what Load needs beyond the component's bytes.
type ComponentConfig struct {
	// Env is the component's wasi:cli/environment.
	Env map[string]string
	// Config answers wasi:config/runtime and wasi:config/store.
	Config map[string]string
	Limits Limits
	// AllowedOutbound lists the authorities ("host", "host:port",
	// "*.domain") the component may call through
	// wasi:http/outgoing-handler; empty denies every outgoing request.
	AllowedOutbound []string
	// KeyValue backs wasi:keyvalue/store and atomics (0.2.0-draft); nil
	// answers no-such-store to every open. When it is an io.Closer, Load
	// owns it: it is closed when the component is unloaded, or when Load
	// fails.
	KeyValue KeyValue
	// Observe serves wasmcanvas:observe (metrics, tracing, logging) to the
	// component as host functions, in-process: each call goes to Observe
	// as Source, with the request's context, whose trace context (the
	// gateway's span, else the request's traceparent header) is what
	// tracing.current answers. The component's wasi:logging records go to
	// Observe's Log too (the context argument as the field "context"). The Recorder's *observe.Error reaches the
	// component as the WIT error case. Nil means the component has no link
	// to the canvas's observability: every call answers not-linked
	// (observe.Unlinked), as canvas-bridge answers a caller with no link.
	Observe observe.Recorder
	// Source is who the component is to Observe: its ODA Component's
	// namespace and name. The API is per request: the one of the gateway's
	// route (observe.SourceFrom) when that route's Source names the same
	// Component.
	Source observe.Source
	// Identity serves wasmcanvas:identity/tokens to the component as host
	// functions, in-process: verify goes to Identity.Verifier and
	// access-token to Identity.Source, with the request's context, as
	// canvas-bridge serves them over wRPC. An *auth.Error reaches the
	// component as the WIT case invalid, any other error as unavailable
	// (details go to the host's log). The zero value is a component with
	// no link to the canvas's identity (its ODA Component has no
	// securityFunction): every call answers unavailable, saying so.
	Identity auth.Tokens
	// OnTier, when set, is called with the component's Info when its
	// optimised code took over from its baseline code, or failed to
	// compile (Info.OptimizeError).
	OnTier func(Info)
}

// Host runs components on this node.
//
// # Notes
//
//   - Safe for concurrent use.
//   - Close closes every Component still loaded (waiting for their
//     in-flight requests), then the engine; Load after Close fails.
//   - Components loaded from the same bytes share one compiled copy; it is
//     freed with the last of them.
type Host struct {
	cfg    Config
	log    *zap.Logger
	engine *cm.Engine
	// client sends every component's outgoing requests.
	client *http.Client
	// slots holds one token per in-flight request when pooling bounds the
	// number of live instances; nil otherwise.
	slots chan struct{}

	mu     sync.Mutex
	loaded map[*Component]struct{}
	// compiled shares the compiled code of one artefact between the
	// components loaded from it, keyed by cm.CacheKey.
	compiled map[string]*sharedCode
	closed   bool
	// baseline compiles components never seen before quickly, to serve
	// them while the optimised code compiles (made on first use), with
	// Winch unless Config.NoWinch; craneliftBaseline compiles those Winch
	// refuses (made on first use too).
	baseline, craneliftBaseline *cm.Engine
	// background tracks the optimising compiles.
	background sync.WaitGroup
	// inUse counts requests running in an instance now, peak the most
	// at once, waiting those waiting for a pool slot (Stats).
	inUse, peak, waiting atomic.Int64
	// jobs are the optimising compiles under way, by code key.
	jobs map[string]*optimizeJob
	// optimizeHook, set by tests, runs before each optimising compile.
	optimizeHook func(key string)
	// wrapHook, set by tests, sees (and may change) what the stream
	// adapter writes.
	wrapHook func(out []byte, retyped bool) []byte
}

// sharedCode is compiled code and the number of loaded components using it.
type sharedCode struct {
	comp *cm.Component
	refs int
}

// NewHost starts a host: one wasmtime engine and its epoch ticker.
func NewHost(cfg Config) (*Host, error) {
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	cfg.Limits = cfg.Limits.orDefault(Limits{MaxMemoryBytes: DefaultMaxMemoryBytes, RequestTimeout: DefaultRequestTimeout})
	defaultPool := !cfg.OnDemand && cfg.PoolInstances == 0
	switch {
	case cfg.OnDemand:
		cfg.PoolInstances = 0
	case defaultPool:
		cfg.PoolInstances = DefaultPoolInstances
	}
	// Each switch sets its field when its variable says so: "off" for the
	// defaults one may turn off, "on" for the opt-ins.
	for _, sw := range []struct {
		env, sets string
		field     *bool
	}{{StreamAdapterEnv, "off", &cfg.NoStreamAdapter}, {WinchEnv, "off", &cfg.NoWinch}, {PagemapScanEnv, "on", &cfg.PagemapScan}} {
		switch v := os.Getenv(sw.env); v {
		case "", "on", "off":
			if v == sw.sets {
				*sw.field = true
			}
		default:
			return nil, fmt.Errorf("runtime: %s=%q: want on or off", sw.env, v)
		}
	}
	profilerFrom := "Config.Profiler"
	if cfg.Profiler == "" {
		cfg.Profiler, profilerFrom = os.Getenv(ProfilerEnv), ProfilerEnv
	}
	switch cfg.Profiler {
	case "", "perfmap", "jitdump":
	default:
		return nil, fmt.Errorf("runtime: %s=%q: want perfmap or jitdump, or nothing for no profiler", profilerFrom, cfg.Profiler)
	}
	ec := cm.EngineConfig{Profiler: cfg.Profiler}
	if cfg.PoolInstances > 0 {
		ec.Pooling = &cm.PoolingConfig{TotalInstances: cfg.PoolInstances, MaxMemoryBytes: uint64(cfg.Limits.MaxMemoryBytes), KeepResidentBytes: cfg.ResidentBytes, PagemapScan: cfg.PagemapScan}
	}
	eng, err := cm.NewEngine(ec)
	if errors.Is(err, cm.ErrPoolReservation) && defaultPool {
		// Nobody asked for the pool: run without it rather than not at all.
		cfg.Log.Warn("wasmtime's pooling allocator cannot reserve its address space; every request will map its own memory (slower)", zap.Error(err))
		cfg.PoolInstances, cfg.OnDemand, ec.Pooling = 0, true, nil
		eng, err = cm.NewEngine(ec)
	}
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	if cfg.PagemapScan && !eng.PagemapScan() {
		cfg.Log.Warn("PAGEMAP_SCAN was asked for and is not in use (it needs Linux 6.7 or later, x86-64, the instance pool and this build of wasmtime): freed memories are reset whole")
	}
	h := &Host{cfg: cfg, log: cfg.Log, engine: eng, loaded: map[*Component]struct{}{}, compiled: map[string]*sharedCode{}, jobs: map[string]*optimizeJob{}, client: outboundClient()}
	if cfg.PoolInstances > 0 {
		h.slots = make(chan struct{}, cfg.PoolInstances)
	}
	return h, nil
}

// PoolInstances is the size of the instance pool the host runs with; 0
// means on-demand (Config.OnDemand, or the default pool could not be
// reserved).
func (h *Host) PoolInstances() uint32 { return h.cfg.PoolInstances }

// PagemapScan reports whether a freed pool slot's memories are reset by
// the pages their request wrote (Config.PagemapScan, when it could be
// used).
func (h *Host) PagemapScan() bool { return h.engine.PagemapScan() }

// ErrPoolReservation is NewHost's error when an instance pool that was
// asked for cannot reserve its address space (ulimit -v); the default pool
// falls back to on-demand instead.
var ErrPoolReservation = cm.ErrPoolReservation

// ErrCompile marks a Load that failed because wasmtime could not compile
// the bytes. The error's text is wasmtime's and may quote them (its WAT
// parser echoes the line it stopped at): a caller loading bytes it must
// not disclose says so in its own words when errors.Is(err, ErrCompile).
var ErrCompile = cm.ErrCompile

// ErrClosed is returned by Load on a closed Host.
var ErrClosed = errors.New("runtime: host is closed")

// Load compiles wasm (a component binary or its WAT text), links the
// interfaces it imports and returns it ready to serve HTTP. The component
// must export wasi:http/incoming-handler@0.2.x. Compiling is not
// interruptible: ctx is checked before it starts.
func (h *Host) Load(ctx context.Context, name string, wasm []byte, cc ComponentConfig) (*Component, error) {
	if name == "" {
		return nil, errors.New("runtime: load: empty component name (give the name its logs and errors will carry)")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("runtime: load %s: %w", name, err)
	}
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	loaded := false
	defer func() {
		if c, ok := cc.KeyValue.(io.Closer); ok && !loaded {
			c.Close()
		}
	}()
	limits := cc.Limits.orDefault(h.cfg.Limits)
	if limits.MaxConcurrent < 0 {
		limits.MaxConcurrent = 0
	}
	if h.cfg.PoolInstances > 0 && limits.MaxMemoryBytes > h.cfg.Limits.MaxMemoryBytes {
		return nil, fmt.Errorf("runtime: load %s: limits.maxMemoryBytes %d exceeds the pooled host's cap %d (raise Config.Limits.MaxMemoryBytes)", name, limits.MaxMemoryBytes, h.cfg.Limits.MaxMemoryBytes)
	}
	// A component with no Recorder is not linked to the canvas's
	// observability: its calls answer not-linked, as canvas-bridge answers.
	if cc.Observe == nil {
		cc.Observe = observe.Unlinked{}
	}
	log := h.log.With(zap.String("component", name))
	c := &Component{host: h, name: name, cc: cc, limits: limits, log: log}
	if limits.MaxConcurrent > 0 {
		c.slots = make(chan struct{}, limits.MaxConcurrent)
	}
	start := time.Now()
	src := h.sourceOf(log, wasm)
	info, err := c.acquireCode(src, start)
	if err != nil && src.retyped {
		// wasmtime refused the retyped guest: nest it as it is.
		log.Warn("loading with the stream adapter, the component's types not retyped", zap.Error(err))
		src = src.lists()
		info, err = c.acquireCode(src, start)
	}
	if err != nil && src.adapter {
		// The wrapped component did not compile or link: load the
		// artefact as it is, so that any error is about its own bytes.
		log.Warn("loading without the stream adapter", zap.Error(err))
		src = h.plainSource(wasm)
		info, err = c.acquireCode(src, start)
	}
	if err != nil {
		return nil, fmt.Errorf("runtime: load %s: %w", name, err)
	}
	info.StreamAdapter, info.StreamsRetyped = src.adapter, src.retyped
	info.Export = c.code.export
	c.info = info
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		loaded = true // free closes the KeyValue
		c.free()      // takes h.mu to release the compiled code
		return nil, ErrClosed
	}
	h.loaded[c] = struct{}{}
	if info.Tier == TierBaseline {
		h.optimizeLater(c, src)
	}
	h.mu.Unlock()
	log.Info("component loaded", zap.String("export", info.Export), zap.String("tier", info.Tier), zap.Bool("cache_hit", info.CacheHit),
		zap.Duration("compile", info.CompileTime), zap.Duration("baseline_compile", info.BaselineCompileTime), zap.String("baseline_compiler", info.BaselineCompiler))
	loaded = true
	return c, nil
}

// acquireCode gets c's code for src, optimised when this host has it and
// baseline otherwise, and makes its bundle.
func (c *Component) acquireCode(src *source, start time.Time) (info Info, err error) {
	h := c.host
	key := src.key
	code, hit, err := h.loadCode(src)
	if err != nil {
		return info, err
	}
	info = Info{Name: c.name, CacheHit: hit, Limits: c.limits, Tier: TierOptimized}
	if code == nil {
		// No optimised code yet: serve from quickly compiled baseline
		// code, compiling the optimised code in the background.
		bkey := baselineKey(key)
		base, bhit, err := h.acquireBaseline(c.log, bkey, src)
		if err != nil {
			return info, err
		}
		info.Tier, info.CacheHit, info.BaselineCompiler = TierBaseline, bhit, base.Engine().Compiler()
		if !bhit {
			info.BaselineCompileTime = time.Since(start)
		}
		if c.code, err = c.newBundle(base.Engine(), base, bkey); err != nil {
			h.releaseCode(bkey)
			return info, err
		}
		return info, nil
	}
	info.CompileTime = time.Since(start)
	if c.code, err = c.newBundle(h.engine, code, key); err != nil {
		h.releaseCode(key)
		return info, err
	}
	return info, nil
}

// Close closes all loaded components and the engine.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	loaded := h.loaded
	h.loaded = nil
	h.mu.Unlock()
	for c := range loaded {
		c.shutdown()
	}
	// Background compiles finish (a compile cannot be interrupted) and
	// find their component closed.
	h.background.Wait()
	h.client.CloseIdleConnections()
	for _, e := range []*cm.Engine{h.baseline, h.craneliftBaseline} {
		if e != nil {
			e.Close()
		}
	}
	return h.engine.Close()
}

// Info describes a loaded component.
type Info struct {
	Name string
	// Export is the wasi:http incoming-handler version it serves.
	Export string
	// CacheHit says the code serving now was not compiled for this
	// component: it came from this host's memory (shared with a component
	// of the same bytes; baseline code too, while its optimised code
	// compiles) or from its compile cache.
	CacheHit bool
	// Tier is the code serving requests: TierBaseline (compiled quickly,
	// slower; the optimised code is being compiled) or TierOptimized.
	Tier string
	// BaselineCompileTime is how long the baseline compile took (zero when
	// the component was served optimised from the start);
	// CompileTime how long getting the optimised code took (compiling it,
	// or reading it from the cache), zero while it is being compiled.
	BaselineCompileTime, CompileTime time.Duration
	// BaselineCompiler is what compiled the baseline code: "winch" or
	// "cranelift" (see Config.NoWinch); empty when the component was
	// served optimised from the start.
	BaselineCompiler string
	// StreamAdapter says the component was wrapped with the stream
	// adapter: its stream bytes cross into the host in bulk.
	StreamAdapter bool
	// StreamsRetyped says the wrapped component's own types were retyped
	// too, so that its stream bytes reach the adapter whole rather than
	// element by element (package internal/compose says when they are
	// not; the load logs why).
	StreamsRetyped bool
	// OptimizeError says why the optimised compile failed: the baseline
	// code goes on serving.
	OptimizeError string
	Limits        Limits
}

// Code tiers.
const (
	TierBaseline  = "baseline"
	TierOptimized = "optimized"
)

// Component is a loaded component serving HTTP.
//
// # Notes
//
//   - ServeHTTP is safe for concurrent use; every request gets its own
//     instance, store and memory.
//   - Close stops new requests (they get 503), waits for in-flight ones
//     (each bounded by its RequestTimeout) and frees the compiled code.
//     It is idempotent.
type Component struct {
	host   *Host
	name   string
	cc     ComponentConfig
	limits Limits
	log    *zap.Logger
	// slots holds one token per in-flight request when Limits.MaxConcurrent
	// caps them; nil otherwise.
	slots chan struct{}

	mu       sync.RWMutex
	code     *codeBundle // what serves new requests
	info     Info
	closed   bool
	inflight sync.WaitGroup
}

// Info returns what Load found and decided, and the code tier serving now.
func (c *Component) Info() Info {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.info
}

// ServeHTTP runs one request in a fresh instance.
func (c *Component) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		problem.Write(w, r, http.StatusServiceUnavailable, "the component is unloaded")
		return
	}
	c.inflight.Add(1)
	code := c.code
	code.inflight.Add(1)
	c.mu.RUnlock()
	// What the request holds (its pool slots, the code and the component
	// it runs, a place in instances in use) it holds until its instance
	// is torn down, which may be after ServeHTTP returned.
	hd := &hold{c: c, code: code}
	defer func() {
		if !hd.served { // refused, or the handler panicked: nothing is left to tear down
			hd.release()
		}
	}()
	// The component's own cap first, so a component at its cap does not
	// hold pool slots other components could use.
	for _, slots := range []chan struct{}{c.slots, c.host.slots} {
		if slots == nil {
			continue
		}
		if !c.acquire(w, r, slots) {
			return
		}
		hd.slots[hd.nslots] = slots
		hd.nslots++
	}
	hd.inUse = true
	c.host.inUse.Add(1)
	c.host.notePeak()
	inst := code.http.Serve(w, r)
	hd.served = true
	if !code.slowTeardown() {
		hd.finish(inst)
		return
	}
	// A slow teardown (for a JavaScript component's heap ~1 ms of
	// wasmtime resetting memory) runs after ServeHTTP returned, so the
	// response goes out and the connection reads its next request
	// meanwhile. Component.Close waits for it (c.inflight).
	go hd.finish(inst)
}

// hold is what one request holds until its instance is torn down.
type hold struct {
	c      *Component
	code   *codeBundle
	slots  [2]chan struct{}
	nslots int
	inUse  bool // counted in the host's instances in use
	served bool // the handler returned: finish releases the rest
}

// finish tears the request's instance down and releases what it held.
func (hd *hold) finish(inst io.Closer) {
	hd.code.teardown(inst)
	hd.release()
}

func (hd *hold) release() {
	if hd.inUse {
		hd.c.host.inUse.Add(-1)
	}
	for _, slots := range hd.slots[:hd.nslots] {
		<-slots
	}
	hd.code.inflight.Done()
	hd.c.inflight.Done()
}

// acquire takes a slot, waiting up to the request timeout; when none
// frees up in time it answers 503 and reports false.
func (c *Component) acquire(w http.ResponseWriter, r *http.Request, slots chan struct{}) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
	}
	c.host.waiting.Add(1)
	defer c.host.waiting.Add(-1)
	wait := time.NewTimer(c.limits.RequestTimeout)
	defer wait.Stop()
	select {
	case slots <- struct{}{}:
		return true
	case <-wait.C:
		// A slot frees up within one request's time at most.
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(c.limits.RequestTimeout.Seconds()))))
		problem.Write(w, r, http.StatusServiceUnavailable, "the component is serving as many requests as it may; retry after the Retry-After delay")
		return false
	case <-r.Context().Done():
		return false
	}
}

// Close unloads the component.
func (c *Component) Close() error {
	c.host.mu.Lock()
	delete(c.host.loaded, c)
	c.host.mu.Unlock()
	c.shutdown()
	return nil
}

func (c *Component) shutdown() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	c.inflight.Wait()
	c.free()
}

func (c *Component) free() {
	if kv, ok := c.cc.KeyValue.(io.Closer); ok {
		kv.Close()
	}
	c.code.free(c.host)
}

// acquireCode returns the compiled code for wasm, compiling it (or reading
// the disk cache) only when no loaded component already holds it; hit says
// whether it was already compiled. releaseCode gives it back.
func (h *Host) acquireCode(src *source) (*cm.Component, bool, error) {
	key := src.key
	if comp := h.shared(key); comp != nil {
		return comp, true, nil
	}
	comp, hit, err := cm.CompileCached(h.engine, key, src.bytes, h.cfg.CacheDir)
	if err != nil {
		return nil, false, err
	}
	if kept := h.share(key, comp); kept != comp { // compiled concurrently: kept the other
		return kept, true, nil
	}
	return comp, hit, nil
}

// releaseCode drops one reference to compiled code and frees it with the
// last one.
func (h *Host) releaseCode(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sc, ok := h.compiled[key]
	if !ok {
		return
	}
	if sc.refs--; sc.refs == 0 {
		delete(h.compiled, key)
		sc.comp.Close()
	}
}

var _ http.Handler = (*Component)(nil)

// outboundClient bounds every phase of an outgoing request except reading
// the body, which the request's own deadline bounds.
func outboundClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   8,
		},
		// Redirects are the component's decision, as in wasi:http.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
