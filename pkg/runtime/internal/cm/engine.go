package cm

/*
#include "cm.h"
*/
import "C"

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
	"unsafe"

	// The blank import links wasmtime-go's static libwasmtime; this package
	// only uses the C API it ships.
	_ "github.com/bytecodealliance/wasmtime-go/v39"
)

// wasmtimeVersion is part of every compile-cache key: a serialized component
// only loads into the wasmtime version that produced it.
const wasmtimeVersion = "wasmtime-go/v39.0.1"

// EngineConfig is the engine-wide configuration. Its zero value gets
// defaults from Provision.
type EngineConfig struct {
	// EpochTick is how often the engine's epoch advances; store deadlines are
	// counted in ticks. Zero means 10ms.
	EpochTick time.Duration
	// MaxWasmStack bounds the wasm stack in bytes. Zero keeps wasmtime's
	// default.
	MaxWasmStack int
	// Pooling, when set, makes the engine pre-reserve slots for instances
	// and memories and reuse them, instead of mapping and unmapping memory
	// for every store: much cheaper per request, at the cost of a large
	// virtual-memory reservation (TotalMemories × MaxMemoryBytes plus
	// guards) up front.
	Pooling *PoolingConfig
	// Profiler makes the engine tell a native profiler about the code it
	// compiles: "perfmap" writes /tmp/perf-<pid>.map for `perf report`,
	// "jitdump" writes jit-<pid>.dump for `perf inject --jit`. Empty (the
	// default) tells nobody. It does not change the compiled code.
	Profiler string
	// Baseline compiles quickly rather than well: with Winch, wasmtime's
	// baseline compiler, where this build of wasmtime lets it be selected
	// (winch.go; Engine.Compiler says which), else with Cranelift without
	// optimisations and with its single-pass register allocator. Several
	// times faster to compile, slower to run; the runtime serves a new
	// component from baseline code while the optimised code compiles. It
	// is part of the compile-cache key, and so is the compiler.
	Baseline bool
	// NoWinch makes a Baseline engine compile with Cranelift even where
	// Winch is available.
	NoWinch bool

	compiler    string // set by NewEngine: CompilerWinch or CompilerCranelift
	pagemapScan bool   // set by NewEngine: PAGEMAP_SCAN asked of the pool
}

// PoolingConfig sizes the pooling allocator.
type PoolingConfig struct {
	// TotalInstances bounds concurrently live component instances (and
	// core instances, memories and tables, which get the same count times
	// their per-component maximum).
	TotalInstances uint32
	// MaxMemoryBytes is the largest linear memory any instance may grow
	// to; store limits above it are cut to it.
	MaxMemoryBytes uint64
	// KeepResidentBytes of each freed memory slot stay mapped and are reset
	// in place (a copy of the memory image, zeros past it) instead of being
	// unmapped and faulted back in by the next request. Zero means
	// DefaultKeepResident.
	KeepResidentBytes uint64
	// PagemapScan resets only the pages of a freed memory its instance
	// wrote (up to KeepResidentBytes of them; Engine.PagemapScan,
	// pagemap.go), instead of all of its kept-resident part.
	PagemapScan bool
}

// DefaultKeepResident covers a componentize-js (StarlingMonkey) heap, 10
// MiB: its requests then neither fault pages in nor unmap them, which
// interrupts every other core running the process (a TLB shootdown) and
// made 8 concurrent JS requests slower than one (BenchmarkJSConcurrency).
// The cost is RSS: each pool slot a request ever used keeps up to this
// much of each memory resident.
const DefaultKeepResident = 16 << 20

func (c *EngineConfig) provision() {
	if c.EpochTick <= 0 {
		c.EpochTick = 10 * time.Millisecond
	}
	if c.Pooling != nil && c.Pooling.KeepResidentBytes == 0 {
		p := *c.Pooling
		p.KeepResidentBytes = DefaultKeepResident
		c.Pooling = &p
	}
}

// hash identifies the settings that change compiled code.
func (c EngineConfig) hash() string {
	pool := "none"
	if c.Pooling != nil {
		pool = fmt.Sprintf("%d/%d", c.Pooling.TotalInstances, c.Pooling.MaxMemoryBytes)
	}
	tier := ""
	if c.Baseline {
		tier = " baseline"
		if c.compiler == CompilerWinch {
			tier += " winch"
		}
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s epoch=true stack=%d pool=%s%s", wasmtimeVersion, c.MaxWasmStack, pool, tier)))
	return hex.EncodeToString(sum[:8])
}

// Per-component maxima under pooling: enough for componentize-js output
// (tens of core instances, a few memories and tables).
const (
	poolCoreInstancesPerComponent = 64
	poolMemoriesPerComponent      = 5 // four for the component, one for the stream adapter (internal/compose)
	poolTablesPerComponent        = 16
	poolDecommitBatch             = 64
	poolTableKeepResident         = 64 << 10
)

// decommitBatch is the decommit batch of a pool of n instances: 64 regions,
// or an eighth of its memory slots when that is fewer. A slot whose memory
// waits in the batch cannot be reused, and two instantiations that find no
// free slot at once race to flush it: the one that finds it emptied fails
// ("maximum concurrent limit ... reached"). In a small pool a 64-region
// batch could hold every free slot.
func decommitBatch(n uint32) uint32 {
	return max(1, min(poolDecommitBatch, n*poolMemoriesPerComponent/8))
}

// Engine is a wasmtime engine with epoch interruption on. It runs one ticker
// goroutine that advances the epoch until Close.
//
// # Notes
//
//   - Safe for concurrent use. Close must be called after every Component,
//     Linker and Store made from it is closed.
type Engine struct {
	ptr    *C.wasm_engine_t
	cfg    EngineConfig
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once
}

// NewEngine creates an engine and starts its epoch ticker.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	cfg.provision()
	var profiler C.wasmtime_profiling_strategy_t
	switch cfg.Profiler {
	case "":
		profiler = C.CM_PROFILING_NONE
	case "perfmap":
		profiler = C.CM_PROFILING_PERFMAP
	case "jitdump":
		profiler = C.CM_PROFILING_JITDUMP
	default:
		return nil, fmt.Errorf("engine: profiler %q: want one of perfmap, jitdump or empty", cfg.Profiler)
	}
	if cfg.Pooling != nil {
		if err := probePool(cfg.Pooling); err != nil {
			return nil, err
		}
	}
	conf := C.wasm_config_new()
	C.wasmtime_config_epoch_interruption_set(conf, true)
	C.wasmtime_config_wasm_component_model_set(conf, true)
	C.wasmtime_config_profiler_set(conf, profiler)
	cfg.compiler = CompilerCranelift
	if cfg.Baseline {
		if !cfg.NoWinch && selectWinch(conf) {
			cfg.compiler = CompilerWinch
		} else {
			C.wasmtime_config_cranelift_opt_level_set(conf, C.CM_OPT_LEVEL_NONE)
			setCraneliftFlag(conf, "regalloc_algorithm", "single_pass")
		}
	}
	if cfg.MaxWasmStack > 0 {
		C.wasmtime_config_max_wasm_stack_set(conf, C.size_t(cfg.MaxWasmStack))
	}
	if p := cfg.Pooling; p != nil {
		pc := C.wasmtime_pooling_allocation_config_new()
		n := C.uint32_t(p.TotalInstances)
		C.wasmtime_pooling_allocation_config_total_component_instances_set(pc, n)
		C.wasmtime_pooling_allocation_config_total_core_instances_set(pc, n*poolCoreInstancesPerComponent)
		C.wasmtime_pooling_allocation_config_max_core_instances_per_component_set(pc, poolCoreInstancesPerComponent)
		C.wasmtime_pooling_allocation_config_total_memories_set(pc, n*poolMemoriesPerComponent)
		C.wasmtime_pooling_allocation_config_max_memories_per_component_set(pc, poolMemoriesPerComponent)
		C.wasmtime_pooling_allocation_config_total_tables_set(pc, n*poolTablesPerComponent)
		C.wasmtime_pooling_allocation_config_max_tables_per_component_set(pc, poolTablesPerComponent)
		C.wasmtime_pooling_allocation_config_max_memory_size_set(pc, C.size_t(p.MaxMemoryBytes))
		// A freed slot keeps its first KeepResidentBytes mapped and resets
		// them in place (memset, or a copy of the memory image) instead of
		// madvising them away and faulting them back on the next request;
		// past that it decommits, in batches, so the TLB flush reaches the
		// other cores once per batch. Without PAGEMAP_SCAN (PagemapScan)
		// the whole resident part is reset, touched or not: copying 10 MiB
		// costs less than faulting the pages a JS request touches, and
		// than the shootdowns of unmapping them.
		C.wasmtime_pooling_allocation_config_linear_memory_keep_resident_set(pc, C.size_t(p.KeepResidentBytes))
		C.wasmtime_pooling_allocation_config_table_keep_resident_set(pc, poolTableKeepResident)
		C.wasmtime_pooling_allocation_config_decommit_batch_size_set(pc, C.size_t(decommitBatch(p.TotalInstances)))
		if p.PagemapScan {
			cfg.pagemapScan = bool(C.cm_pooling_pagemap_scan(pc))
		}
		C.wasmtime_pooling_allocation_strategy_set(conf, pc)
		C.wasmtime_pooling_allocation_config_delete(pc)
	}
	// wasm_engine_new_with_config takes ownership of conf.
	ptr := C.wasm_engine_new_with_config(conf)
	if ptr == nil {
		if cfg.compiler == CompilerWinch {
			return NewEngine(winchless(cfg))
		}
		return nil, fmt.Errorf("create wasmtime engine: the C API returned no engine (check the engine configuration)")
	}
	e := &Engine{ptr: ptr, cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	go e.tick()
	if cfg.compiler == CompilerWinch && !e.isWinch() {
		// The selection did not take: a Cranelift baseline instead.
		e.Close()
		return NewEngine(winchless(cfg))
	}
	return e, nil
}

// winchless is cfg with Winch turned off.
func winchless(cfg EngineConfig) EngineConfig {
	cfg.NoWinch = true
	return cfg
}

// Compiler is what compiles e's code: CompilerWinch or CompilerCranelift.
func (e *Engine) Compiler() string { return e.cfg.compiler }

func setCraneliftFlag(conf *C.wasm_config_t, key, value string) {
	k, v := C.CString(key), C.CString(value)
	defer C.free(unsafe.Pointer(k))
	defer C.free(unsafe.Pointer(v))
	C.wasmtime_config_cranelift_flag_set(conf, k, v)
}

func (e *Engine) tick() {
	defer close(e.done)
	t := time.NewTicker(e.cfg.EpochTick)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			C.wasmtime_engine_increment_epoch(e.ptr)
		}
	}
}

// Config returns the provisioned configuration.
func (e *Engine) Config() EngineConfig { return e.cfg }

// Close stops the ticker and frees the engine.
func (e *Engine) Close() error {
	e.closed.Do(func() {
		close(e.stop)
		<-e.done
		C.wasm_engine_delete(e.ptr)
		e.ptr = nil
	})
	return nil
}
