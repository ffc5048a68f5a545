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
	"time"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/auth"
	"github.com/wasmcanvas/wasmcanvas/pkg/gateway/problem"
	"github.com/wasmcanvas/wasmcanvas/pkg/observe"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/wasi"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/wasihttp"
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
	// Profiler names the native profiler the engine reports its compiled
	// code to ("perfmap" or "jitdump", see README "Profiling a component");
	// empty means the WASMCANVAS_WASM_PROFILER environment variable, and
	// none when that is unset too.
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
	if cfg.Profiler == "" {
		cfg.Profiler = os.Getenv(ProfilerEnv)
	}
	ec := cm.EngineConfig{Profiler: cfg.Profiler}
	if cfg.PoolInstances > 0 {
		ec.Pooling = &cm.PoolingConfig{TotalInstances: cfg.PoolInstances, MaxMemoryBytes: uint64(cfg.Limits.MaxMemoryBytes), KeepResidentBytes: cfg.ResidentBytes}
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
	h := &Host{cfg: cfg, log: cfg.Log, engine: eng, loaded: map[*Component]struct{}{}, compiled: map[string]*sharedCode{}, client: outboundClient()}
	if cfg.PoolInstances > 0 {
		h.slots = make(chan struct{}, cfg.PoolInstances)
	}
	return h, nil
}

// PoolInstances is the size of the instance pool the host runs with; 0
// means on-demand (Config.OnDemand, or the default pool could not be
// reserved).
func (h *Host) PoolInstances() uint32 { return h.cfg.PoolInstances }

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
	start := time.Now()
	key := cm.CacheKey(h.engine, wasm)
	comp, hit, err := h.acquireCode(key, wasm)
	if err != nil {
		return nil, fmt.Errorf("runtime: load %s: %w", name, err)
	}
	compileTime := time.Since(start)
	lnk := cm.NewLinker(h.engine)
	fail := func(err error) (*Component, error) {
		lnk.Close()
		h.releaseCode(key)
		return nil, fmt.Errorf("runtime: load %s: %w", name, err)
	}
	// A component with no Recorder is not linked to the canvas's
	// observability: its calls answer not-linked, as canvas-bridge answers.
	if cc.Observe == nil {
		cc.Observe = observe.Unlinked{}
	}
	defs := []map[string]wasi.Definer{wasi.Interfaces(), wasihttp.Interfaces(), wasi.ObserveInterfaces(), wasi.IdentityInterfaces()}
	if err := wasi.Link(lnk, comp, defs...); err != nil {
		return fail(err)
	}
	handle, export, err := wasihttp.FindHandler(comp)
	if err != nil {
		return fail(err)
	}
	log := h.log.With(zap.String("component", name))
	var slots chan struct{}
	if limits.MaxConcurrent > 0 {
		slots = make(chan struct{}, limits.MaxConcurrent)
	}
	c := &Component{
		codeKey: key,
		slots:   slots,
		host:    h,
		name:    name,
		comp:    comp,
		linker:  lnk,
		handle:  handle,
		info:    Info{Name: name, Export: export, CacheHit: hit, CompileTime: compileTime, Limits: limits},
		http: &wasihttp.Handler{
			Engine: h.engine, Linker: lnk, Component: comp, Handle: handle,
			WASI:     &wasi.Config{Name: name, Env: cc.Env, Config: cc.Config, Log: h.log, KeyValue: cc.KeyValue, Observe: cc.Observe, Source: cc.Source, Identity: cc.Identity},
			Limits:   cm.StoreLimits{MaxMemoryBytes: limits.MaxMemoryBytes},
			Timeout:  limits.RequestTimeout,
			Outbound: &wasihttp.Outbound{Client: h.client, Allowed: append([]string(nil), cc.AllowedOutbound...), Observe: h.cfg.OutgoingRequest},
			Log:      log,
		},
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		loaded = true // free closes the KeyValue
		c.free()      // takes h.mu to release the compiled code
		return nil, ErrClosed
	}
	h.loaded[c] = struct{}{}
	h.mu.Unlock()
	log.Info("component loaded", zap.String("export", export), zap.Bool("cache_hit", hit), zap.Duration("compile", compileTime))
	loaded = true
	return c, nil
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
	h.client.CloseIdleConnections()
	return h.engine.Close()
}

// Info describes a loaded component.
type Info struct {
	Name string
	// Export is the wasi:http incoming-handler version it serves.
	Export      string
	CacheHit    bool
	CompileTime time.Duration
	Limits      Limits
}

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
	codeKey string // this component's entry in host.compiled
	host    *Host
	name    string
	comp    *cm.Component
	linker  *cm.Linker
	handle  *cm.ExportIndex
	http    *wasihttp.Handler
	info    Info
	// slots holds one token per in-flight request when Limits.MaxConcurrent
	// caps them; nil otherwise.
	slots chan struct{}

	mu       sync.RWMutex
	closed   bool
	inflight sync.WaitGroup
}

// Info returns what Load found and decided.
func (c *Component) Info() Info { return c.info }

// ServeHTTP runs one request in a fresh instance.
func (c *Component) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		problem.Write(w, r, http.StatusServiceUnavailable, "the component is unloaded")
		return
	}
	c.inflight.Add(1)
	c.mu.RUnlock()
	defer c.inflight.Done()
	// The component's own cap first, so a component at its cap does not
	// hold pool slots other components could use.
	for _, slots := range []chan struct{}{c.slots, c.host.slots} {
		if slots == nil {
			continue
		}
		if !c.acquire(w, r, slots) {
			return
		}
		defer func() { <-slots }()
	}
	c.http.ServeHTTP(w, r)
}

// acquire takes a slot, waiting up to the request timeout; when none
// frees up in time it answers 503 and reports false.
func (c *Component) acquire(w http.ResponseWriter, r *http.Request, slots chan struct{}) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
	}
	wait := time.NewTimer(c.info.Limits.RequestTimeout)
	defer wait.Stop()
	select {
	case slots <- struct{}{}:
		return true
	case <-wait.C:
		// A slot frees up within one request's time at most.
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(c.info.Limits.RequestTimeout.Seconds()))))
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
	if kv, ok := c.http.WASI.KeyValue.(io.Closer); ok {
		kv.Close()
	}
	c.handle.Close()
	c.linker.Close()
	c.host.releaseCode(c.codeKey)
}

// acquireCode returns the compiled code for wasm, compiling it (or reading
// the disk cache) only when no loaded component already holds it; hit says
// whether it was already compiled. releaseCode gives it back.
func (h *Host) acquireCode(key string, wasm []byte) (*cm.Component, bool, error) {
	h.mu.Lock()
	if sc, ok := h.compiled[key]; ok {
		sc.refs++
		h.mu.Unlock()
		return sc.comp, true, nil
	}
	h.mu.Unlock()
	comp, hit, err := cm.CompileCached(h.engine, wasm, h.cfg.CacheDir)
	if err != nil {
		return nil, false, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if sc, ok := h.compiled[key]; ok { // compiled concurrently: keep one
		comp.Close()
		sc.refs++
		return sc.comp, true, nil
	}
	h.compiled[key] = &sharedCode{comp: comp, refs: 1}
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
