package cm

/*
#include "cm.h"
*/
import "C"

import (
	"runtime/cgo"
	"time"
)

// StoreLimits bounds what one store may use. Zero fields mean no limit
// beyond wasmtime's defaults.
type StoreLimits struct {
	// MaxMemoryBytes caps each linear memory; memory.grow past it fails.
	MaxMemoryBytes int64
	// MaxInstances caps core instances per store.
	MaxInstances int64
	// MaxTableElements caps each table.
	MaxTableElements int64
}

// Store holds instances and their state for one unit of work (one request).
//
// # Notes
//
//   - Not safe for concurrent use: one goroutine drives a store at a time,
//     and host functions run on that goroutine.
//   - Close frees every instance in it; wasmtime does not run host resource
//     destructors then, so owners of host state free it themselves.
type Store struct {
	ptr      *C.wasmtime_store_t
	ctx      *C.wasmtime_context_t
	eng      *Engine
	handle   cgo.Handle
	data     any
	deadline time.Time

	// Argument and result slices of host calls, reused from call to call
	// (host functions do not call back into the guest, so calls on one
	// store never nest; inCall guards the case anyway).
	argBuf [8]Value
	resBuf [2]Value
	inCall bool

	// Calls into Go made in this store, added to HostCalls' counts at
	// Close.
	hostCalls, drops int64
	// prof is the active Profile's share when the store was made, or nil.
	prof *storeProfile
}

// NewStore makes a store whose host functions see data through Store.Data.
func NewStore(e *Engine, limits StoreLimits, data any) *Store {
	s := &Store{eng: e, data: data, prof: newStoreProfile()}
	s.handle = cgo.NewHandle(s)
	// No deadline until SetDeadline (cm_store_new sets a far epoch).
	s.ptr = C.cm_store_new(e.ptr, C.uintptr_t(s.handle), limitOrDefault(limits.MaxMemoryBytes),
		limitOrDefault(limits.MaxTableElements), limitOrDefault(limits.MaxInstances), &s.ctx)
	return s
}

func limitOrDefault(v int64) C.int64_t {
	if v <= 0 {
		return -1
	}
	return C.int64_t(v)
}

// Data returns the value given to NewStore.
func (s *Store) Data() any { return s.data }

// SetDeadline interrupts wasm running longer than d from now (rounded up to
// whole epoch ticks). Calls that overrun fail with ErrDeadline.
func (s *Store) SetDeadline(d time.Duration) {
	tick := s.eng.cfg.EpochTick
	ticks := uint64((d + tick - 1) / tick)
	if ticks == 0 {
		ticks = 1
	}
	s.deadline = time.Now().Add(d)
	C.wasmtime_context_set_epoch_deadline(s.ctx, C.uint64_t(ticks))
}

// Close frees the store and all its instances.
func (s *Store) Close() error {
	if s.ptr != nil {
		var t0 time.Time
		if s.prof != nil {
			t0 = time.Now()
		}
		C.wasmtime_store_delete(s.ptr)
		s.ptr, s.ctx = nil, nil
		s.handle.Delete()
		hostCalls.Add(s.hostCalls)
		resourceDrops.Add(s.drops)
		if s.prof != nil {
			s.prof.phase(phaseTeardown, time.Since(t0))
			s.prof.merge()
		}
	}
	return nil
}

// callBuffers returns the args and results slices for one host call;
// reused tells doneBuffers they are the store's.
func (s *Store) callBuffers(nargs, nresults int) (args, results []Value, reused bool) {
	if s.inCall || nargs > len(s.argBuf) || nresults > len(s.resBuf) {
		return make([]Value, nargs), make([]Value, nresults), false
	}
	s.inCall = true
	return s.argBuf[:nargs], s.resBuf[:nresults], true
}

// doneBuffers ends a host call, dropping what the store's slices hold.
func (s *Store) doneBuffers(args, results []Value, reused bool) {
	if reused {
		clear(args)
		clear(results)
		s.inCall = false
	}
}
