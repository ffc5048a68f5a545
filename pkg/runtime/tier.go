package runtime

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/wasi"
	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/wasihttp"
)

// codeBundle is compiled code linked and ready to serve: a Component
// serves from one, and swaps its baseline bundle for an optimised one when
// that is compiled. Requests in flight keep the bundle they started on.
type codeBundle struct {
	engine *cm.Engine
	key    string // its code's entry in Host.compiled
	comp   *cm.Component
	linker *cm.Linker
	handle *cm.ExportIndex
	export string
	http   *wasihttp.Handler
	// inflight counts the requests being served from it.
	inflight sync.WaitGroup
	// teardownNs is a moving average of its instances' teardown time.
	teardownNs atomic.Int64
}

// asyncTeardown is the teardown time above which a request's instance is
// torn down after its response returned instead of before: a JavaScript
// component's (~1 ms, resetting its heap) but not the WAT echo's (a few
// microseconds, less than handing it to another goroutine costs).
const asyncTeardown = 100 * time.Microsecond

// teardown closes inst, a request's instance, and notes how long it took.
func (b *codeBundle) teardown(inst io.Closer) {
	t0 := time.Now()
	inst.Close()
	d := time.Since(t0).Nanoseconds()
	avg := b.teardownNs.Load()
	b.teardownNs.Store(avg + (d-avg)/8) // concurrent updates may lose one: it is an estimate
}

// slowTeardown says whether its instances' teardown is worth running after
// the response.
func (b *codeBundle) slowTeardown() bool { return b.teardownNs.Load() > asyncTeardown.Nanoseconds() }

// newBundle links comp, compiled by engine, with the component's
// interfaces. On failure the caller still owns comp.
func (c *Component) newBundle(engine *cm.Engine, comp *cm.Component, key string) (*codeBundle, error) {
	lnk := cm.NewLinker(engine)
	defs := []map[string]wasi.Definer{wasi.Interfaces(), wasihttp.Interfaces(), wasi.ObserveInterfaces(), wasi.IdentityInterfaces()}
	if err := wasi.Link(lnk, comp, defs...); err != nil {
		lnk.Close()
		return nil, err
	}
	handle, export, err := wasihttp.FindHandler(comp)
	if err != nil {
		lnk.Close()
		return nil, err
	}
	cc, h := c.cc, c.host
	return &codeBundle{
		engine: engine, key: key, comp: comp, linker: lnk, handle: handle, export: export,
		http: &wasihttp.Handler{
			Engine: engine, Linker: lnk, Component: comp, Handle: handle,
			WASI:     &wasi.Config{Name: c.name, Env: cc.Env, Config: cc.Config, Log: h.log, KeyValue: cc.KeyValue, Observe: cc.Observe, Source: cc.Source, Identity: cc.Identity},
			Limits:   cm.StoreLimits{MaxMemoryBytes: c.limits.MaxMemoryBytes},
			Timeout:  c.limits.RequestTimeout,
			Outbound: &wasihttp.Outbound{Client: h.client, Allowed: append([]string(nil), cc.AllowedOutbound...), Observe: h.cfg.OutgoingRequest},
			Log:      c.log,
		},
	}, nil
}

// free releases the bundle's code once no request uses it any more.
func (b *codeBundle) free(h *Host) {
	b.inflight.Wait()
	b.handle.Close()
	b.linker.Close()
	h.releaseCode(b.key)
}

// baselineKey is the Host.compiled key of baseline code.
func baselineKey(key string) string { return "baseline/" + key }

// loadCode returns the optimised code of src when this host has it, in
// memory or in its compile cache; with no baseline tier (Config.NoBaseline)
// it compiles it. nil code means: serve a baseline first.
func (h *Host) loadCode(src *source) (code *cm.Component, hit bool, err error) {
	if h.cfg.NoBaseline {
		return h.acquireCode(src)
	}
	if comp := h.shared(src.key); comp != nil {
		return comp, true, nil
	}
	comp, ok := cm.LoadCached(h.engine, src.key, h.cfg.CacheDir)
	if !ok {
		return nil, false, nil
	}
	return h.share(src.key, comp), true, nil
}

// shared returns the code recorded under key with one more reference, or
// nil.
func (h *Host) shared(key string) *cm.Component {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sc, ok := h.compiled[key]; ok {
		sc.refs++
		return sc.comp
	}
	return nil
}

// share records freshly loaded code under key, or keeps the copy another
// load recorded first.
func (h *Host) share(key string, comp *cm.Component) *cm.Component {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sc, ok := h.compiled[key]; ok {
		comp.Close()
		sc.refs++
		return sc.comp
	}
	h.compiled[key] = &sharedCode{comp: comp, refs: 1}
	return comp
}

// acquireBaseline returns src's baseline code, recorded under key,
// compiling it unless another component loaded from the same bytes
// already has it. Code Winch refuses (a proposal it does not implement,
// say tail calls) is compiled by Cranelift's baseline instead.
func (h *Host) acquireBaseline(log *zap.Logger, key string, src *source) (code *cm.Component, hit bool, err error) {
	if comp := h.shared(key); comp != nil {
		return comp, true, nil
	}
	wasm, err := src.bytes()
	if err != nil {
		return nil, false, err
	}
	eng := h.baselineEngine(h.cfg.NoWinch)
	comp, err := cm.Compile(eng, wasm)
	if err != nil && eng.Compiler() == cm.CompilerWinch {
		// Bytes no compiler takes fail again, with Cranelift's error.
		winchErr := err
		if comp, err = cm.Compile(h.baselineEngine(true), wasm); err == nil {
			log.Warn("winch refused the component: its baseline code is compiled by cranelift", zap.Error(winchErr))
		}
	}
	if err != nil {
		return nil, false, err
	}
	return h.share(key, comp), false, nil
}

// baselineEngine returns the engine that compiles baseline code (with
// Cranelift when noWinch is set), making it on first use. It allocates
// each instance's memory on demand: it serves only while optimised code
// is on its way.
func (h *Host) baselineEngine(noWinch bool) *cm.Engine {
	h.mu.Lock()
	defer h.mu.Unlock()
	slot := &h.baseline
	if noWinch && !h.cfg.NoWinch {
		slot = &h.craneliftBaseline
	}
	if *slot == nil {
		eng, err := cm.NewEngine(cm.EngineConfig{Baseline: true, NoWinch: noWinch, Profiler: h.cfg.Profiler})
		if err != nil {
			// The same settings as the host's engine, less the pool:
			// cannot fail where that one did not.
			panic(fmt.Sprintf("runtime: baseline engine: %v", err))
		}
		*slot = eng
	}
	return *slot
}

// optimizeJob is the one optimising compile of an artefact, and the
// components served from its baseline code meanwhile.
type optimizeJob struct {
	comps []*Component
	// baseline: the job holds a reference to the baseline code, so that
	// a component unloaded and loaded again before the optimised code is
	// ready (scaled to 0 and back, deleted and applied again) finds it
	// instead of compiling it again beside the optimising compile.
	baseline bool
}

// optimizeLater makes c take the optimised code of key once it is
// compiled, starting the compile unless one is under way; h.mu is held.
func (h *Host) optimizeLater(c *Component, src *source) {
	key := src.key
	if job, ok := h.jobs[key]; ok {
		job.comps = append(job.comps, c)
		return
	}
	job := &optimizeJob{comps: []*Component{c}}
	if sc, ok := h.compiled[baselineKey(key)]; ok {
		sc.refs++
		job.baseline = true
	}
	h.jobs[key] = job
	h.background.Add(1)
	go func() {
		defer h.background.Done()
		h.optimize(job, src)
	}()
}

// optimize compiles the optimised code of key and swaps it into every
// component of the job (those loaded after it ends find the code in
// memory). It runs on a goroutine the host waits for at Close.
func (h *Host) optimize(job *optimizeJob, src *source) {
	key := src.key
	if h.optimizeHook != nil {
		h.optimizeHook(key)
	}
	start := time.Now()
	comp, hit, err := h.acquireCode(src)
	took := time.Since(start)
	h.mu.Lock()
	delete(h.jobs, key)
	comps := job.comps
	if err == nil {
		h.compiled[key].refs += len(comps) // one per component; the job's own is released below
	}
	h.mu.Unlock()
	for _, c := range comps {
		c.takeOptimized(comp, key, took, hit, err)
	}
	if err == nil {
		h.releaseCode(key)
	}
	if job.baseline {
		h.releaseCode(baselineKey(key))
	}
}

// takeOptimized swaps the optimised code in (holding one reference to
// key), or records why there is none; hit says the code was loaded
// rather than compiled.
func (c *Component) takeOptimized(comp *cm.Component, key string, took time.Duration, hit bool, err error) {
	h := c.host
	var b *codeBundle
	if err == nil {
		if b, err = c.newBundle(h.engine, comp, key); err != nil {
			h.releaseCode(key)
		}
	}
	c.mu.Lock()
	if err != nil {
		c.info.OptimizeError = err.Error()
		c.mu.Unlock()
		c.log.Warn("optimising compile failed: the baseline code goes on serving", zap.Error(err))
		c.notify()
		return
	}
	if c.closed {
		c.mu.Unlock()
		b.free(h)
		return
	}
	old := c.code
	c.code = b
	c.info.Tier, c.info.CompileTime, c.info.CacheHit = TierOptimized, took, hit
	c.mu.Unlock()
	c.log.Info("serving optimised code", zap.Duration("compile", took))
	c.notify()
	old.free(h) // after the requests still on it
}

// notify calls ComponentConfig.OnTier with the component's info.
func (c *Component) notify() {
	if c.cc.OnTier != nil {
		c.cc.OnTier(c.Info())
	}
}
